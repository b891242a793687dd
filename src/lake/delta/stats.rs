//! The statistics of an `add` action, taken from the footer the Parquet writer just wrote:
//! rows, and per top-level column the null count and the exact minimum and maximum, so that
//! Delta readers (and chatql) skip files a predicate rules out. A bound the writer
//! truncated (long strings) is left out rather than given wrong.

use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::parquet::file::metadata::ParquetMetaData;
use datafusion::parquet::file::statistics::Statistics;
use serde_json::{Map, Value};

/// Strings longer than this get no bounds (they would bloat the log for no pruning).
const MAX_STRING_BOUND: usize = 64;

/// A bound as a JSON value of the column's Delta type; `None` when it has no exact form.
fn bound(t: &DataType, s: &Statistics, max: bool) -> Option<Value> {
    let exact = if max {
        s.max_is_exact()
    } else {
        s.min_is_exact()
    };
    if !exact {
        return None;
    }
    macro_rules! pick {
        ($v:expr) => {
            if max {
                $v.max_opt()
            } else {
                $v.min_opt()
            }
        };
    }
    match (t, s) {
        (DataType::Int64, Statistics::Int64(v)) => pick!(v).map(|x| Value::from(*x)),
        (DataType::Int32, Statistics::Int32(v)) => pick!(v).map(|x| Value::from(*x)),
        (DataType::Float64, Statistics::Double(v)) => {
            pick!(v).filter(|x| x.is_finite()).map(|x| Value::from(*x))
        }
        (DataType::Timestamp(_, _), Statistics::Int64(v)) => pick!(v).map(|us| {
            // Delta keeps milliseconds: round outwards so the bound still holds.
            let ms = if max {
                us.div_euclid(1000) + i64::from(us.rem_euclid(1000) != 0)
            } else {
                us.div_euclid(1000)
            };
            Value::from(format_ms(ms))
        }),
        (DataType::Utf8, Statistics::ByteArray(v)) => pick!(v)
            .and_then(|b| b.as_utf8().ok())
            .filter(|s| s.len() <= MAX_STRING_BOUND)
            .map(Value::from),
        _ => None,
    }
}

/// A UTC timestamp in ms as Delta writes it in statistics: `2024-03-01T12:00:00.000Z`.
fn format_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

/// The `stats` JSON of a file with `meta`, written from `schema` (top-level columns only).
pub fn file_stats(schema: &Schema, meta: &ParquetMetaData) -> String {
    let mut min = Map::new();
    let mut max = Map::new();
    let mut nulls = Map::new();
    let descr = meta.file_metadata().schema_descr();
    for f in schema.fields().iter() {
        // Leaf column of a top-level primitive field: its path is the field's name alone.
        let Some(leaf) = (0..descr.num_columns()).find(|c| {
            let p = descr.column(*c);
            p.path().parts().len() == 1 && p.path().parts()[0] == *f.name()
        }) else {
            continue;
        };
        let mut null_count = Some(0u64);
        let mut lo: Option<Value> = None;
        let mut hi: Option<Value> = None;
        let mut bounded = true;
        for rg in meta.row_groups() {
            let Some(s) = rg.column(leaf).statistics() else {
                null_count = None;
                bounded = false;
                continue;
            };
            null_count = match (null_count, s.null_count_opt()) {
                (Some(a), Some(b)) => Some(a + b),
                _ => None,
            };
            if rg.num_rows() == s.null_count_opt().unwrap_or(u64::MAX) as i64 {
                continue; // all null: no bounds, nothing to widen
            }
            match (
                bound(f.data_type(), s, false),
                bound(f.data_type(), s, true),
            ) {
                (Some(a), Some(b)) => {
                    lo = Some(match lo {
                        Some(l) if less(&l, &a) => l,
                        _ => a,
                    });
                    hi = Some(match hi {
                        Some(h) if less(&b, &h) => h,
                        _ => b,
                    });
                }
                _ => bounded = false,
            }
        }
        if let Some(n) = null_count {
            nulls.insert(f.name().clone(), Value::from(n));
        }
        if let (true, Some(l), Some(h)) = (bounded, lo, hi) {
            min.insert(f.name().clone(), l);
            max.insert(f.name().clone(), h);
        }
    }
    let mut out = Map::new();
    out.insert(
        "numRecords".into(),
        Value::from(meta.file_metadata().num_rows()),
    );
    out.insert("minValues".into(), Value::Object(min));
    out.insert("maxValues".into(), Value::Object(max));
    out.insert("nullCount".into(), Value::Object(nulls));
    Value::Object(out).to_string()
}

/// Whether bound `a` sorts before `b` (both of one column, so of one JSON kind; ISO
/// timestamps of one format sort as strings).
fn less(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x < y,
            _ => x.as_f64().unwrap_or(0.0) < y.as_f64().unwrap_or(0.0),
        },
        (Value::String(x), Value::String(y)) => x < y,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_outwards_to_milliseconds() {
        assert_eq!(format_ms(1_709_294_400_123), "2024-03-01T12:00:00.123Z");
        let s = Statistics::int64(Some(1_500), Some(2_001), None, Some(0), false);
        let ts = DataType::Timestamp(
            datafusion::arrow::datatypes::TimeUnit::Microsecond,
            Some("UTC".into()),
        );
        assert_eq!(
            bound(&ts, &s, false),
            Some(Value::from("1970-01-01T00:00:00.001Z"))
        );
        assert_eq!(
            bound(&ts, &s, true),
            Some(Value::from("1970-01-01T00:00:00.003Z"))
        );
        assert!(less(&Value::from(2), &Value::from(10)));
        assert!(less(&Value::from("a"), &Value::from("b")));
    }
}
