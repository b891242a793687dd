//! `local_time(ts, zone)`: the wall-clock time of a UTC timestamp in an IANA zone, as a
//! timestamp without zone. The catalog puts it on every timestamp column when `--tz` is
//! given, so `date_trunc`, `extract(hour ...)` and printing all follow the zone. The zone is
//! an argument (not state) so that cluster executors run the same function.

use std::sync::Arc;

use datafusion::arrow::array::{AsArray, TimestampMicrosecondArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use datafusion::common::{exec_err, plan_err, Result};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature};

use super::{shaped_like, text_literal};
use crate::model::Zone;

#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct LocalTime {
    pub(super) signature: Signature,
}

const NAIVE_US: DataType = DataType::Timestamp(TimeUnit::Microsecond, None);

impl ScalarUDFImpl for LocalTime {
    fn name(&self) -> &str {
        "local_time"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        match args.first() {
            Some(DataType::Timestamp(_, _) | DataType::Null) => Ok(NAIVE_US),
            other => plan_err!("local_time: expected a timestamp, got {other:?}"),
        }
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let zone = match text_literal(args.args.get(1)).map(Zone::parse) {
            Some(Ok(zone)) => zone,
            Some(Err(e)) => return exec_err!("local_time: {e}"),
            None => return exec_err!("local_time: the zone must be a text literal"),
        };
        let scalar = matches!(args.args[0], ColumnarValue::Scalar(_));
        let a = args.args[0].to_array(args.number_rows)?;
        // A zoned timestamp is an instant; drop the zone to read it as UTC microseconds.
        let a = match a.data_type() {
            DataType::Timestamp(unit, Some(_)) => cast(&a, &DataType::Timestamp(*unit, None))?,
            _ => a,
        };
        let a = cast(&a, &NAIVE_US)?;
        let out: TimestampMicrosecondArray = a
            .as_primitive::<TimestampMicrosecondType>()
            .iter()
            .map(|v| v.map(|us| zone.to_local(us)))
            .collect();
        shaped_like(Arc::new(out), scalar)
    }
}
