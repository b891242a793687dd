//! `local_time(ts, zone)`: the wall-clock time of a UTC timestamp in an IANA zone, as a
//! timestamp without zone. The catalog puts it on every timestamp column when `--tz` is
//! given, so `date_trunc`, `extract(hour ...)` and printing all follow the zone. The zone is
//! an argument (not state) so that cluster executors run the same function.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, TimestampMicrosecondArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature};

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
        let zone = match args.args.get(1) {
            Some(ColumnarValue::Scalar(
                ScalarValue::Utf8(Some(z))
                | ScalarValue::LargeUtf8(Some(z))
                | ScalarValue::Utf8View(Some(z)),
            )) => match Zone::parse(z) {
                Ok(zone) => zone,
                Err(e) => return exec_err!("local_time: {e}"),
            },
            _ => return exec_err!("local_time: the zone must be a text literal"),
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
        let out: ArrayRef = Arc::new(out);
        if scalar {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?));
        }
        Ok(ColumnarValue::Array(out))
    }
}
