//! The JSON parsers chatql's decoder could sit on, timed through the same serde visitor on
//! the same JSON lines: serde_json (what the decoder uses), sonic-rs and simd-json, which both
//! implement serde's `Deserializer`. The visitor does what the decoder's seeds do with each
//! value (object keys and string values copied into one buffer, as into a column), so the
//! time is the parser's scanning and unescaping plus the same copies.
//!
//! `chatql-parsers-bench PARSER FILE` parses every line of FILE seven times and prints the
//! best round; PARSER is serde_json, sonic-rs or simd-json.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// Copies every key and string into a buffer; numbers and literals leave a byte.
struct Sink<'a>(&'a mut Vec<u8>);

impl<'de> DeserializeSeed<'de> for Sink<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Sink<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<(), E> {
        self.0.extend_from_slice(v.as_bytes());
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.0.extend_from_slice(v.as_bytes());
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.0.push(v as u8);
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.0.push(v as u8);
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.0.push(v as u8);
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.0.push(u8::from(v));
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while let Some(k) = m.next_key::<Cow<'de, str>>()? {
            self.0.extend_from_slice(k.as_bytes());
            m.next_value_seed(Sink(self.0))?;
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        while s.next_element_seed(Sink(self.0))?.is_some() {}
        Ok(())
    }
}

fn parse(parser: &str, line: &str, buf: &mut Vec<u8>) {
    match parser {
        "serde_json" => {
            let mut de = serde_json::Deserializer::from_str(line);
            Sink(buf).deserialize(&mut de).expect("valid JSON");
            de.end().expect("one value");
        }
        "sonic-rs" => {
            let mut de = sonic_rs::Deserializer::from_str(line);
            Sink(buf).deserialize(&mut de).expect("valid JSON");
            de.end().expect("one value");
        }
        "simd-json" => {
            // simd-json parses in place: the copy is part of its cost.
            let mut bytes = line.as_bytes().to_vec();
            let mut de = simd_json::Deserializer::from_slice(&mut bytes).expect("valid JSON");
            Sink(buf).deserialize(&mut de).expect("valid JSON");
        }
        other => panic!("unknown parser {other}: serde_json, sonic-rs or simd-json"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, parser, file] = &args[..] else {
        panic!("usage: chatql-parsers-bench serde_json|sonic-rs|simd-json FILE");
    };
    let data = std::fs::read(file).expect("readable file");
    let text = std::str::from_utf8(&data).expect("UTF-8");
    let mut buf = Vec::with_capacity(1 << 20);
    let (mut best, mut copied) = (f64::MAX, 0);
    for _ in 0..7 {
        copied = 0;
        let t = std::time::Instant::now();
        for line in text.split('\n').filter(|l| !l.trim().is_empty()) {
            buf.clear();
            parse(parser, line, &mut buf);
            copied += buf.len();
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!("{parser}: best of 7 {best:.3} s, {copied} bytes copied");
}
