//! The price table of the `cost` report: which models cost what per million tokens, since
//! when. It is data, not code: `queries/prices.csv` is built in, `--prices FILE` replaces it.
//!
//! Columns: `model_pattern` (a regular expression matched case-insensitively against the
//! conversation's model id), `valid_from` (YYYY-MM-DD: the price applies to conversations
//! from that day), `input_usd_per_1m`, `output_usd_per_1m`, and an optional `note`. For each
//! answer the newest row whose pattern matches and whose date has come wins. A model no row
//! matches is listed as unpriced, never counted as free; hosted open models are priced at 0
//! explicitly.

use std::path::Path;

use crate::error::{Error, Result};

/// The table's name in SQL.
pub const TABLE: &str = "prices";

/// The built-in price table.
pub const BUILTIN: &str = include_str!("../../queries/prices.csv");

/// One row of the price table.
#[derive(Debug, Clone, PartialEq)]
pub struct Price {
    /// Regular expression over model ids.
    pub model_pattern: String,
    /// First day the price applies (microseconds, midnight).
    pub valid_from: i64,
    /// USD per million input tokens.
    pub input_usd_per_1m: f64,
    /// USD per million output tokens.
    pub output_usd_per_1m: f64,
    /// Where the price comes from.
    pub note: String,
}

/// A parsed, checked price table.
#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    /// Rows in file order.
    pub rows: Vec<Price>,
}

impl PriceTable {
    /// The table shipped in the binary.
    pub fn builtin() -> Result<PriceTable> {
        PriceTable::parse(BUILTIN, "queries/prices.csv")
    }

    /// Reads a price table file.
    pub fn read(path: &Path) -> Result<PriceTable> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        PriceTable::parse(&text, &path.display().to_string())
    }

    /// Parses CSV text; errors name `file`, the line and the column.
    pub fn parse(text: &str, file: &str) -> Result<PriceTable> {
        let bad = |line: u64, message: String| Error::Config {
            file: file.to_owned(),
            line,
            message,
        };
        let mut reader = csv::ReaderBuilder::new()
            .comment(Some(b'#'))
            .trim(csv::Trim::All)
            .flexible(true)
            .from_reader(text.as_bytes());
        let header = reader.headers().map_err(|e| bad(1, e.to_string()))?.clone();
        let col = |name: &str| -> Result<usize> {
            header.iter().position(|h| h == name).ok_or_else(|| {
                bad(
                    1,
                    format!(
                        "missing column {name:?} (the columns are model_pattern, valid_from, \
                         input_usd_per_1m, output_usd_per_1m[, note])"
                    ),
                )
            })
        };
        let (pat, from, input, output) = (
            col("model_pattern")?,
            col("valid_from")?,
            col("input_usd_per_1m")?,
            col("output_usd_per_1m")?,
        );
        let note = header.iter().position(|h| h == "note");
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line());
                bad(line, e.to_string())
            })?;
            let line = record.position().map_or(0, |p| p.line());
            let field = |i: usize, name: &str| -> Result<&str> {
                record
                    .get(i)
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| bad(line, format!("{name} is empty")))
            };
            let model_pattern = field(pat, "model_pattern")?.to_owned();
            regex::RegexBuilder::new(&model_pattern)
                .case_insensitive(true)
                .build()
                .map_err(|e| bad(line, format!("model_pattern {model_pattern:?}: {e}")))?;
            let day = field(from, "valid_from")?;
            let valid_from = crate::model::parse_timestamp(day)
                .filter(|_| day.len() == 10)
                .ok_or_else(|| bad(line, format!("valid_from {day:?}: use YYYY-MM-DD")))?;
            let usd = |i: usize, name: &str| -> Result<f64> {
                let v = field(i, name)?;
                v.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x >= 0.0)
                    .ok_or_else(|| bad(line, format!("{name} {v:?} is not a price (a number ≥ 0)")))
            };
            rows.push(Price {
                model_pattern,
                valid_from,
                input_usd_per_1m: usd(input, "input_usd_per_1m")?,
                output_usd_per_1m: usd(output, "output_usd_per_1m")?,
                note: note
                    .and_then(|i| record.get(i))
                    .unwrap_or_default()
                    .to_owned(),
            });
        }
        if rows.is_empty() {
            return Err(bad(1, "no prices".into()));
        }
        Ok(PriceTable { rows })
    }

    /// `CREATE VIEW prices AS VALUES ...`: the table as SQL, which plans (and runs on a
    /// cluster) like any other query.
    pub fn view_sql(&self) -> String {
        let q = |s: &str| format!("'{}'", s.replace('\'', "''"));
        let rows: Vec<String> = self
            .rows
            .iter()
            .map(|p| {
                format!(
                    "({}, arrow_cast({}, 'Timestamp(Microsecond, None)'), CAST({:?} AS DOUBLE), CAST({:?} AS DOUBLE), {})",
                    q(&p.model_pattern),
                    q(crate::model::format_timestamp_pg(p.valid_from).trim_end_matches("+00:00")),
                    p.input_usd_per_1m,
                    p.output_usd_per_1m,
                    q(&p.note)
                )
            })
            .collect();
        format!(
            "CREATE OR REPLACE VIEW {TABLE} AS SELECT * FROM (VALUES {}) AS t(model_pattern, \
             valid_from, input_usd_per_1m, output_usd_per_1m, note)",
            rows.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_table_parses() {
        let t = PriceTable::builtin().unwrap();
        assert!(t.rows.len() > 20);
        assert!(t.rows.iter().any(|p| p.model_pattern.contains("gpt-4o")));
    }

    #[test]
    fn bad_tables_name_the_line_and_the_reason() {
        let err = |text: &str| PriceTable::parse(text, "p.csv").unwrap_err().to_string();
        let head = "model_pattern,valid_from,input_usd_per_1m,output_usd_per_1m\n";
        assert!(
            err("model_pattern,valid_from,input_usd_per_1m\nx,2024-01-01,1\n")
                .starts_with("p.csv:1: missing column \"output_usd_per_1m\"")
        );
        assert_eq!(
            err(&format!(
                "{head}^gpt,2024-01-01,1,2\n^x,2024-01-01,cheap,2\n"
            )),
            "p.csv:3: input_usd_per_1m \"cheap\" is not a price (a number ≥ 0)"
        );
        assert!(err(&format!("{head}^gpt(,2024-01-01,1,2\n"))
            .starts_with("p.csv:2: model_pattern \"^gpt(\": regex parse error"));
        assert_eq!(
            err(&format!("{head}^gpt,March,1,2\n")),
            "p.csv:2: valid_from \"March\": use YYYY-MM-DD"
        );
        assert_eq!(err(head), "p.csv:1: no prices");
    }
}
