//! A table's Arrow schema in Delta's JSON schema language (the `schemaString` of
//! `metaData`), for the types chatql's tables use. Partition columns are strings after the
//! table's own columns, as readers of the lake see them.

use datafusion::arrow::datatypes::{DataType, Field, TimeUnit};
use serde_json::{json, Value};

use crate::error::{Error, Result};

/// The Delta type of an Arrow type.
fn delta_type(t: &DataType) -> Result<Value> {
    Ok(match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => json!("string"),
        DataType::Int64 => json!("long"),
        DataType::Int32 => json!("integer"),
        DataType::Int16 => json!("short"),
        DataType::Int8 => json!("byte"),
        DataType::Float64 => json!("double"),
        DataType::Float32 => json!("float"),
        DataType::Boolean => json!("boolean"),
        DataType::Binary | DataType::LargeBinary => json!("binary"),
        DataType::Date32 => json!("date"),
        DataType::Timestamp(TimeUnit::Microsecond, Some(_)) => json!("timestamp"),
        DataType::List(item) | DataType::LargeList(item) => json!({
            "type": "array",
            "elementType": delta_type(item.data_type())?,
            "containsNull": item.is_nullable(),
        }),
        other => {
            return Err(Error::Internal(format!(
                "no Delta type for the Arrow type {other}"
            )))
        }
    })
}

fn field(f: &Field) -> Result<Value> {
    Ok(json!({
        "name": f.name(),
        "type": delta_type(f.data_type())?,
        "nullable": f.is_nullable(),
        "metadata": {},
    }))
}

/// The `schemaString` of a table with `fields`, then the string partition columns `parts`.
pub fn schema_string(fields: &[std::sync::Arc<Field>], parts: &[&str]) -> Result<String> {
    let mut out = Vec::with_capacity(fields.len() + parts.len());
    for f in fields {
        out.push(field(f)?);
    }
    for p in parts {
        out.push(field(&Field::new(*p, DataType::Utf8, true))?);
    }
    Ok(json!({"type": "struct", "fields": out}).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Table;

    #[test]
    fn every_table_has_a_delta_schema() {
        for t in Table::ALL {
            let s = schema_string(t.schema().fields(), &["course", "month"]).unwrap();
            let v: Value = serde_json::from_str(&s).unwrap();
            let fields = v["fields"].as_array().unwrap();
            assert_eq!(fields.len(), t.schema().fields().len() + 2);
            assert_eq!(fields.last().unwrap()["name"], "month");
        }
        let chunks = schema_string(Table::Chunks.schema().fields(), &[]).unwrap();
        assert!(
            chunks
                .contains(r#""type":{"type":"array","elementType":"float","containsNull":false}"#),
            "{chunks}"
        );
        let convos = schema_string(Table::Conversations.schema().fields(), &[]).unwrap();
        assert!(convos.contains(r#""type":"timestamp""#));
    }
}
