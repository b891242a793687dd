//! SQL functions chatql adds to DataFusion: vector math over embedding lists,
//! `email_domain`, `local_time` ([`time`]) and `token_count` ([`tokens`]). JSON access into
//! `extra` comes from `datafusion-functions-json`.
//!
//! The vector functions take lists of any float type and any dimension (a literal
//! `[0.1, 0.2]` is a list of Float64; embeddings are lists of Float32) and compute in f64.
//! Different dimensions in one pair are an error naming the row, not a silent null.

pub mod time;
pub mod tokens;

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Float64Builder, GenericListArray, OffsetSizeTrait,
    StringArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{exec_err, plan_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// Which vector function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum VectorOp {
    Cosine,
    L2,
    Dot,
    Norm,
}

impl VectorOp {
    fn name(self) -> &'static str {
        match self {
            VectorOp::Cosine => "cosine_similarity",
            VectorOp::L2 => "l2_distance",
            VectorOp::Dot => "dot_product",
            VectorOp::Norm => "vector_norm",
        }
    }
    fn arity(self) -> usize {
        if self == VectorOp::Norm {
            1
        } else {
            2
        }
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct VectorFn {
    op: VectorOp,
    signature: Signature,
}

/// Values of a list array as f64, with the list offsets.
struct F64Lists {
    offsets: Vec<usize>,
    values: Float64Array,
    nulls: Option<datafusion::arrow::buffer::NullBuffer>,
}

fn lists_of<O: OffsetSizeTrait>(l: &GenericListArray<O>) -> Result<F64Lists> {
    let values = cast(l.values(), &DataType::Float64)?;
    Ok(F64Lists {
        offsets: l.value_offsets().iter().map(|o| o.as_usize()).collect(),
        values: values.as_primitive::<Float64Type>().clone(),
        nulls: l.nulls().cloned(),
    })
}

fn to_lists(a: &ArrayRef, fname: &str) -> Result<F64Lists> {
    match a.data_type() {
        DataType::List(_) => lists_of(a.as_list::<i32>()),
        DataType::LargeList(_) => lists_of(a.as_list::<i64>()),
        DataType::FixedSizeList(_, _) => {
            let l = cast(a, &DataType::new_list(DataType::Float64, true))?;
            lists_of(l.as_list::<i32>())
        }
        DataType::Null => Ok(F64Lists {
            offsets: vec![0; a.len() + 1],
            values: Float64Array::from(Vec::<f64>::new()),
            nulls: Some(datafusion::arrow::buffer::NullBuffer::new_null(a.len())),
        }),
        other => exec_err!("{fname}: expected a list of numbers (an embedding), got {other}"),
    }
}

impl F64Lists {
    fn len(&self) -> usize {
        self.offsets.len() - 1
    }
    /// Row `i` (row 0 for a scalar), or None when null.
    fn row(&self, i: usize) -> Option<&[f64]> {
        let i = if self.len() == 1 { 0 } else { i };
        if self.nulls.as_ref().is_some_and(|n| n.is_null(i)) {
            return None;
        }
        Some(&self.values.values()[self.offsets[i]..self.offsets[i + 1]])
    }
}

impl ScalarUDFImpl for VectorFn {
    fn name(&self) -> &str {
        self.op.name()
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        for t in arg_types {
            if !matches!(
                t,
                DataType::List(_)
                    | DataType::LargeList(_)
                    | DataType::FixedSizeList(_, _)
                    | DataType::Null
            ) {
                return plan_err!(
                    "{}: expected a list of numbers (an embedding), got {t}",
                    self.name()
                );
            }
        }
        Ok(DataType::Float64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let lists: Vec<F64Lists> = arrays
            .iter()
            .map(|a| to_lists(a, self.name()))
            .collect::<Result<_>>()?;
        let mut out = Float64Builder::with_capacity(n);
        for i in 0..n {
            let a = lists[0].row(i);
            let v = if self.op == VectorOp::Norm {
                a.map(|a| a.iter().map(|x| x * x).sum::<f64>().sqrt())
            } else {
                match (a, lists[1].row(i)) {
                    (Some(a), Some(b)) => {
                        if a.len() != b.len() {
                            return exec_err!(
                                "{}: vectors of different dimensions ({} and {}) at row {}",
                                self.name(),
                                a.len(),
                                b.len(),
                                i + 1
                            );
                        }
                        Some(pair(self.op, a, b))
                    }
                    _ => None,
                }
            };
            out.append_option(v);
        }
        let result: ArrayRef = Arc::new(out.finish());
        if args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)))
        {
            return Ok(ColumnarValue::Scalar(
                datafusion::common::ScalarValue::try_from_array(&result, 0)?,
            ));
        }
        Ok(ColumnarValue::Array(result))
    }
}

fn pair(op: VectorOp, a: &[f64], b: &[f64]) -> f64 {
    match op {
        VectorOp::Dot => a.iter().zip(b).map(|(x, y)| x * y).sum(),
        VectorOp::L2 => a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y) * (x - y))
            .sum::<f64>()
            .sqrt(),
        VectorOp::Cosine => {
            let (mut dot, mut na, mut nb) = (0.0, 0.0, 0.0);
            for (x, y) in a.iter().zip(b) {
                dot += x * y;
                na += x * x;
                nb += y * y;
            }
            if na == 0.0 || nb == 0.0 {
                f64::NAN
            } else {
                dot / (na.sqrt() * nb.sqrt())
            }
        }
        VectorOp::Norm => unreachable!("unary"),
    }
}

/// `email_domain(email)`: the lower-cased part after the last `@`; null without one.
#[derive(Debug, PartialEq, Eq, Hash)]
struct EmailDomain {
    signature: Signature,
}

impl ScalarUDFImpl for EmailDomain {
    fn name(&self) -> &str {
        "email_domain"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = matches!(args.args[0], ColumnarValue::Scalar(_));
        let a = args.args[0].to_array(args.number_rows)?;
        let a = cast(&a, &DataType::Utf8)?;
        let s = a.as_string::<i32>();
        let out: StringArray = s
            .iter()
            .map(|v| {
                v.and_then(|e| e.rsplit_once('@'))
                    .map(|(_, d)| d.trim().to_ascii_lowercase())
                    .filter(|d| !d.is_empty())
            })
            .collect();
        shaped_like(Arc::new(out), scalar)
    }
}

/// A text literal argument (a zone, an encoding), or None for anything else.
fn text_literal(arg: Option<&ColumnarValue>) -> Option<&str> {
    match arg {
        Some(ColumnarValue::Scalar(
            datafusion::common::ScalarValue::Utf8(Some(s))
            | datafusion::common::ScalarValue::LargeUtf8(Some(s))
            | datafusion::common::ScalarValue::Utf8View(Some(s)),
        )) => Some(s),
        _ => None,
    }
}

/// A function's result: a scalar when its input was one, else the array.
fn shaped_like(out: ArrayRef, scalar: bool) -> Result<ColumnarValue> {
    if scalar {
        return Ok(ColumnarValue::Scalar(
            datafusion::common::ScalarValue::try_from_array(&out, 0)?,
        ));
    }
    Ok(ColumnarValue::Array(out))
}

/// Every function chatql adds.
pub fn udfs() -> Vec<ScalarUDF> {
    let mut v: Vec<ScalarUDF> = [
        VectorOp::Cosine,
        VectorOp::L2,
        VectorOp::Dot,
        VectorOp::Norm,
    ]
    .into_iter()
    .map(|op| {
        ScalarUDF::from(VectorFn {
            op,
            signature: Signature::any(op.arity(), Volatility::Immutable),
        })
    })
    .collect();
    v.push(ScalarUDF::from(EmailDomain {
        signature: Signature::any(1, Volatility::Immutable),
    }));
    v.push(ScalarUDF::from(time::LocalTime {
        signature: Signature::any(2, Volatility::Immutable),
    }));
    v.push(ScalarUDF::from(tokens::TokenCount {
        signature: Signature::variadic_any(Volatility::Immutable),
    }));
    v
}
