//! `extra`, the JSON object of everything without a column of its own, and the small
//! helpers every level shares: scalar values into columns (or `extra`), keys, re-serializing
//! a value a visitor has started.

use super::*;

/// A JSON object being written key by key.
#[derive(Default)]
pub(crate) struct Extra {
    pub(super) buf: String,
    pub(super) absent: Vec<&'static str>,
}

impl Extra {
    pub(super) fn clear(&mut self) {
        self.buf.clear();
        self.absent.clear();
    }

    /// Adds `key` with `json` (already valid JSON text) as its value.
    pub(super) fn raw(&mut self, key: &str, json: &str) {
        self.buf.push(if self.buf.is_empty() { '{' } else { ',' });
        push_json_str(&mut self.buf, key);
        self.buf.push(':');
        self.buf.push_str(json);
    }

    /// Notes that `key` was absent though its column was filled from another key.
    pub(super) fn absent(&mut self, key: &'static str) {
        self.absent.push(key);
    }

    /// Closes the object and returns its text, or None when it has no key.
    pub(super) fn close(&mut self) -> Option<&str> {
        if !self.absent.is_empty() {
            let mut list = String::from("[");
            for (i, k) in self.absent.iter().enumerate() {
                if i > 0 {
                    list.push(',');
                }
                push_json_str(&mut list, k);
            }
            list.push(']');
            self.absent.clear();
            self.raw("$absent", &list);
        }
        if self.buf.is_empty() {
            return None;
        }
        self.buf.push('}');
        Some(&self.buf)
    }

    /// Closes the object into `col` (null when empty) and clears it for the next row.
    pub(super) fn close_into(&mut self, col: &mut StrCol) {
        col.push_opt(self.close());
        self.clear();
    }

    /// Closes the object and adds it as `key` of `parent`, even when empty.
    pub(super) fn close_as(&mut self, parent: &mut Extra, key: &str) {
        let text = self.close().unwrap_or("{}").to_owned();
        parent.raw(key, &text);
        self.clear();
    }
}

// ---------------------------------------------------------------------------------------
// Scalar values and their columns.

/// A small JSON value looked at after the record was split into keys.
pub(super) enum Scalar<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
    /// An object, an array, or a number beyond i64 and f64.
    Other,
}

pub(super) fn scalar(raw: &RawValue) -> Scalar<'_> {
    let t = raw.get();
    match t.as_bytes().first() {
        Some(b'n') => Scalar::Null,
        Some(b't') => Scalar::Bool(true),
        Some(b'f') => Scalar::Bool(false),
        Some(b'"') => match serde_json::from_str::<CowStr>(t) {
            Ok(CowStr(s)) => Scalar::Str(s),
            Err(_) => Scalar::Other,
        },
        Some(b'-' | b'0'..=b'9') => {
            if t.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) {
                // Beyond f64 (1e999) the text itself is kept, in `extra`.
                t.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map_or(Scalar::Other, Scalar::Float)
            } else {
                t.parse()
                    .map(Scalar::Int)
                    .ok()
                    .or_else(|| {
                        t.parse::<f64>()
                            .ok()
                            .filter(|f| f.is_finite())
                            .map(Scalar::Float)
                    })
                    .unwrap_or(Scalar::Other)
            }
        }
        _ => Scalar::Other,
    }
}

/// A string that borrows from the input when it has no escapes.
pub(super) struct CowStr<'a>(pub(super) Cow<'a, str>);

impl<'de> de::Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// Puts a string value in `col`; anything else goes to `extra` under `key`.
pub(super) fn put_str(col: &mut StrCol, extra: &mut Extra, key: &str, raw: &RawValue) {
    match scalar(raw) {
        Scalar::Str(s) => col.push(&s),
        _ => {
            col.push_null();
            extra.raw(key, raw.get());
        }
    }
}

/// Returns a string value, or keeps a non-string value in `extra` and returns None.
pub(super) fn take_str<'a>(
    extra: &mut Extra,
    key: &str,
    raw: &'a RawValue,
) -> Option<Cow<'a, str>> {
    match scalar(raw) {
        Scalar::Str(s) => Some(s),
        _ => {
            extra.raw(key, raw.get());
            None
        }
    }
}

/// Reads an integer value; `""`, numbers as strings and floats are kept in `extra` too.
pub(super) fn take_int(extra: &mut Extra, key: &str, raw: &RawValue) -> Option<i64> {
    match scalar(raw) {
        Scalar::Int(i) => Some(i),
        other => {
            extra.raw(key, raw.get());
            match other {
                Scalar::Float(f) if f.fract() == 0.0 && f.abs() < 9e15 => Some(f as i64),
                Scalar::Str(s) => s.trim().parse().ok(),
                _ => None,
            }
        }
    }
}

/// Reads a number as f64; an integer literal is kept in `extra` too, since writing the
/// column back would print it with a decimal point.
pub(super) fn take_f64(extra: &mut Extra, key: &str, raw: &RawValue) -> Option<f64> {
    match scalar(raw) {
        Scalar::Float(f) => Some(f),
        Scalar::Int(i) => {
            extra.raw(key, raw.get());
            Some(i as f64)
        }
        _ => {
            extra.raw(key, raw.get());
            None
        }
    }
}

pub(super) fn take_bool(extra: &mut Extra, key: &str, raw: &RawValue) -> Option<bool> {
    match scalar(raw) {
        Scalar::Bool(b) => Some(b),
        _ => {
            extra.raw(key, raw.get());
            None
        }
    }
}

/// Reads a time (ISO text or epoch milliseconds). Unless `canonical` writes it back
/// character for character, the original is kept in `extra` too.
pub(super) fn take_ts(
    extra: &mut Extra,
    key: &str,
    raw: &RawValue,
    canonical: fn(i64) -> String,
) -> Option<i64> {
    let v = match scalar(raw) {
        Scalar::Str(s) => parse_timestamp(&s)
            .filter(|us| canonical(*us) == *s)
            .or_else(|| {
                extra.raw(key, raw.get());
                parse_timestamp(&s)
            }),
        Scalar::Int(ms) => {
            extra.raw(key, raw.get());
            ms.checked_mul(1000)
        }
        _ => {
            extra.raw(key, raw.get());
            None
        }
    };
    v
}

// ---------------------------------------------------------------------------------------
// Keys.

/// An object key, borrowed when it has no escapes.
pub(super) struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        CowStr::deserialize(d).map(|c| c.0)
    }
}

use serde::Deserialize as _;

/// Re-serializes a value a visitor has already started reading, for `extra`.
pub(super) fn any_to_json<'de, D: de::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(v.to_string())
}

pub(super) fn map_to_json<'de, A: MapAccess<'de>>(map: A) -> Result<String, A::Error> {
    any_to_json(de::value::MapAccessDeserializer::new(map))
}

pub(super) fn seq_to_json<'de, A: SeqAccess<'de>>(seq: A) -> Result<String, A::Error> {
    any_to_json(de::value::SeqAccessDeserializer::new(seq))
}

/// Implements the scalar `visit_*` methods of a visitor whose value is an object or array
/// by handing the scalar's JSON text to `self.other(text)`.
macro_rules! scalars_to_other {
    () => {
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(self.other(v.to_string()))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(self.other(v.to_string()))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(self.other(v.to_string()))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(self.other(serde_json::Value::from(v).to_string()))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(self.other(crate::model::json_str(v)))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(self.other("null".to_owned()))
        }
    };
}
