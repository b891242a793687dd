//! Python's arguments as the command's flags, parsed by the command line's own clap
//! definitions: `chatql.report(inputs, since="2025-01-01", course="CS 101")` is
//! `chatql report INPUTS --since 2025-01-01 --course "CS 101"`, so both take the same
//! options with the same defaults, checks and messages, defined once in src/cli.
//!
//! A keyword is a long flag with `_` for `-`; `True` is the bare flag, `False` and `None`
//! leave it out, a list or tuple repeats it, anything else is its `str()`.

use clap::{Args, FromArgMatches, Parser};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use crate::errors::{chatql_error, from_clap};

/// One command's arguments alone, for parsing them without the rest of the command line.
#[derive(Debug, Parser)]
#[command(name = "chatql", no_binary_name = true, disable_help_flag = true)]
struct One<T: Args + FromArgMatches> {
    #[command(flatten)]
    args: T,
}

/// Parses `words` (positionals first) and the keyword arguments as the flags of `T`.
pub fn parse<T: Args + FromArgMatches>(
    mut words: Vec<String>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<T> {
    // Positionals end where flags begin, so that an input named like a flag stays one.
    if let Some(kw) = kwargs {
        let mut flags = Vec::new();
        for (k, v) in kw.iter() {
            let key: String = k.extract()?;
            push_flag(&mut flags, &key, &v)?;
        }
        words.splice(0..0, flags);
    }
    One::<T>::try_parse_from(words)
        .map(|o| o.args)
        .map_err(|e| from_clap(&e))
}

fn push_flag(out: &mut Vec<String>, key: &str, v: &Bound<'_, PyAny>) -> PyResult<()> {
    let flag = format!("--{}", key.replace('_', "-"));
    if v.is_none() {
        return Ok(());
    }
    if let Ok(b) = v.extract::<bool>() {
        if b {
            out.push(flag);
        }
        return Ok(());
    }
    if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
        for item in v.try_iter()? {
            out.push(flag.clone());
            out.push(text(&item?)?);
        }
        return Ok(());
    }
    out.push(flag);
    out.push(text(v)?);
    Ok(())
}

/// A value as a flag's text: a string as it is, a path by `os.fspath`, else `str()`.
fn text(v: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(s.to_str()?.to_owned());
    }
    let py = v.py();
    if let Ok(p) = py.import("os")?.getattr("fspath")?.call1((v,)) {
        return p.extract();
    }
    Ok(v.str()?.to_str()?.to_owned())
}

/// Inputs given as one path or a list of them (`str` or `os.PathLike`).
pub fn inputs(v: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
        let items: Vec<String> = v.try_iter()?.map(|i| text(&i?)).collect::<PyResult<_>>()?;
        if items.is_empty() {
            return Err(chatql_error("UsageError", "no inputs given".into()));
        }
        return Ok(items);
    }
    Ok(vec![text(v)?])
}
