//! Arrow values as Python objects, for `Result.fetchall()`, which needs no pyarrow:
//! numbers, `str`, `bytes`, `bool`, `None`, `datetime` (aware, UTC, when the column has a
//! zone), `date`, `timedelta`, `Decimal`, lists, and dicts for structs and maps. Anything
//! else is its text as the table prints it.

use datafusion::arrow::array::*;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use pyo3::IntoPyObjectExt;

/// What converting needs from Python, looked up once per call.
pub struct Converter<'py> {
    py: Python<'py>,
    epoch: Bound<'py, PyAny>,
    epoch_utc: Bound<'py, PyAny>,
    epoch_date: Bound<'py, PyAny>,
    timedelta: Bound<'py, PyAny>,
    decimal: Bound<'py, PyAny>,
}

impl<'py> Converter<'py> {
    pub fn new(py: Python<'py>) -> PyResult<Self> {
        let dt = py.import("datetime")?;
        let datetime = dt.getattr("datetime")?;
        let utc = dt.getattr("timezone")?.getattr("utc")?;
        let kw = PyDict::new(py);
        kw.set_item("tzinfo", utc)?;
        Ok(Converter {
            py,
            epoch: datetime.call1((1970, 1, 1))?,
            epoch_utc: datetime.call((1970, 1, 1), Some(&kw))?,
            epoch_date: dt.getattr("date")?.call1((1970, 1, 1))?,
            timedelta: dt.getattr("timedelta")?,
            decimal: py.import("decimal")?.getattr("Decimal")?,
        })
    }

    /// Each row of `batch` as a tuple.
    pub fn rows(&self, batch: &RecordBatch, out: &Bound<'py, PyList>) -> PyResult<()> {
        for i in 0..batch.num_rows() {
            let cells: Vec<Bound<'py, PyAny>> = batch
                .columns()
                .iter()
                .map(|c| self.value(c.as_ref(), i))
                .collect::<PyResult<_>>()?;
            out.append(PyTuple::new(self.py, cells)?)?;
        }
        Ok(())
    }

    fn micros(&self, us: i64, zoned: bool) -> PyResult<Bound<'py, PyAny>> {
        let delta = self.delta_micros(us)?;
        if zoned {
            self.epoch_utc.add(delta)
        } else {
            self.epoch.add(delta)
        }
    }

    fn delta_micros(&self, us: i64) -> PyResult<Bound<'py, PyAny>> {
        let kw = PyDict::new(self.py);
        kw.set_item("microseconds", us)?;
        self.timedelta.call((), Some(&kw))
    }

    /// Row `i` of `a` as a Python object.
    pub fn value(&self, a: &dyn Array, i: usize) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        if a.is_null(i) || a.data_type() == &DataType::Null {
            return Ok(py.None().into_bound(py));
        }
        macro_rules! prim {
            ($t:ty) => {
                a.as_any()
                    .downcast_ref::<$t>()
                    .expect("type checked")
                    .value(i)
                    .into_bound_py_any(py)
            };
        }
        let scale = |unit: &TimeUnit, v: i64| match unit {
            TimeUnit::Second => v.saturating_mul(1_000_000),
            TimeUnit::Millisecond => v.saturating_mul(1_000),
            TimeUnit::Microsecond => v,
            TimeUnit::Nanosecond => v / 1_000,
        };
        match a.data_type() {
            DataType::Boolean => prim!(BooleanArray),
            DataType::Int8 => prim!(Int8Array),
            DataType::Int16 => prim!(Int16Array),
            DataType::Int32 => prim!(Int32Array),
            DataType::Int64 => prim!(Int64Array),
            DataType::UInt8 => prim!(UInt8Array),
            DataType::UInt16 => prim!(UInt16Array),
            DataType::UInt32 => prim!(UInt32Array),
            DataType::UInt64 => prim!(UInt64Array),
            DataType::Float32 => prim!(Float32Array),
            DataType::Float64 => prim!(Float64Array),
            DataType::Utf8 => prim!(StringArray),
            DataType::LargeUtf8 => prim!(LargeStringArray),
            DataType::Utf8View => prim!(StringViewArray),
            DataType::Binary => Ok(PyBytes::new(py, a.as_binary::<i32>().value(i)).into_any()),
            DataType::LargeBinary => Ok(PyBytes::new(py, a.as_binary::<i64>().value(i)).into_any()),
            DataType::BinaryView => Ok(PyBytes::new(py, a.as_binary_view().value(i)).into_any()),
            DataType::Timestamp(unit, tz) => {
                self.micros(scale(unit, i64_value(a, i)), tz.is_some())
            }
            DataType::Date32 => {
                let days = a
                    .as_primitive::<datafusion::arrow::datatypes::Date32Type>()
                    .value(i);
                self.epoch_date
                    .add(self.delta_micros(days as i64 * 86_400_000_000)?)
            }
            DataType::Duration(unit) => {
                let v = i64_value(a, i);
                self.delta_micros(scale(unit, v))
            }
            DataType::Decimal128(_, _) | DataType::Decimal256(_, _) => {
                self.decimal.call1((self.text(a, i)?,))
            }
            DataType::List(_) => self.list(a.as_list::<i32>().value(i).as_ref()),
            DataType::LargeList(_) => self.list(a.as_list::<i64>().value(i).as_ref()),
            DataType::FixedSizeList(_, _) => self.list(a.as_fixed_size_list().value(i).as_ref()),
            DataType::Struct(fields) => {
                let s = a.as_struct();
                let d = PyDict::new(py);
                for (f, c) in fields.iter().zip(s.columns()) {
                    d.set_item(f.name(), self.value(c.as_ref(), i)?)?;
                }
                Ok(d.into_any())
            }
            DataType::Map(_, _) => {
                let m = a.as_map();
                let entries = m.value(i);
                let d = PyDict::new(py);
                for j in 0..entries.len() {
                    d.set_item(
                        self.value(entries.column(0).as_ref(), j)?,
                        self.value(entries.column(1).as_ref(), j)?,
                    )?;
                }
                Ok(d.into_any())
            }
            DataType::Dictionary(_, _) => {
                let d = a.as_any_dictionary();
                let key = d.normalized_keys()[i];
                self.value(d.values().as_ref(), key)
            }
            _ => self.text(a, i)?.into_bound_py_any(py),
        }
    }

    fn list(&self, a: &dyn Array) -> PyResult<Bound<'py, PyAny>> {
        let items: Vec<Bound<'py, PyAny>> = (0..a.len())
            .map(|j| self.value(a, j))
            .collect::<PyResult<_>>()?;
        Ok(PyList::new(self.py, items)?.into_any())
    }

    fn text(&self, a: &dyn Array, i: usize) -> PyResult<String> {
        let f = ArrayFormatter::try_new(a, &FormatOptions::default())
            .map_err(|e| crate::errors::internal(e.to_string()))?;
        Ok(f.value(i).to_string())
    }
}

/// The raw `i64` of a timestamp or duration, whatever its unit's array type.
fn i64_value(a: &dyn Array, i: usize) -> i64 {
    use datafusion::arrow::datatypes::*;
    macro_rules! first_of {
        ($($t:ty),*) => {{
            let any = a.as_any();
            None$(.or_else(|| any.downcast_ref::<PrimitiveArray<$t>>().map(|p| p.value(i))))*
        }};
    }
    first_of!(
        TimestampSecondType,
        TimestampMillisecondType,
        TimestampMicrosecondType,
        TimestampNanosecondType,
        DurationSecondType,
        DurationMillisecondType,
        DurationMicrosecondType,
        DurationNanosecondType
    )
    .unwrap_or_default()
}
