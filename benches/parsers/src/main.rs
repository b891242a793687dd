//! The JSON parsers chatql's decoder could sit on, timed through the same serde visitor on
//! the same JSON lines: serde_json (what the decoder uses), sonic-rs and simd-json, which both
//! implement serde's `Deserializer`. The visitor does what the decoder's seeds do with each
//! value (object keys and string values copied into one buffer, as into a column), so the
//! time is the parser's scanning and unescaping plus the same copies.
//!
//! `chatql-parsers-bench PARSER FILE` parses every line of FILE seven times and prints the
//! best round; PARSER is serde_json, sonic-rs or simd-json, or serde_json-raw: serde_json
//! with the prose fields taken raw and unescaped by this file straight into the buffer (the
//! "fewer copies of text" lever; measured 0.91 s against serde_json's 0.62 s on the 501 MB
//! export: finding the string's end and then unescaping it costs more than serde_json's one
//! pass into its scratch buffer plus the copy out of it).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

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
            if RAW.load(std::sync::atomic::Ordering::Relaxed) && (k == "text" || k == "content") {
                m.next_value_seed(RawInto(self.0))?;
            } else {
                m.next_value_seed(Sink(self.0))?;
            }
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        while s.next_element_seed(Sink(self.0))?.is_some() {}
        Ok(())
    }
}

/// The `serde_json-raw` variant: the prose fields (`text`, `content`) taken as raw JSON
/// (serde_json only finds the string's end) and unescaped straight into the buffer, the
/// decoder's column, instead of into serde_json's scratch buffer and copied from there.
static RAW: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

struct RawInto<'a>(&'a mut Vec<u8>);

impl<'de> DeserializeSeed<'de> for RawInto<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let raw = <&'de serde_json::value::RawValue>::deserialize(d)?;
        let s = raw.get();
        if s.starts_with('"') {
            unescape_into(&s.as_bytes()[1..s.len() - 1], self.0).map_err(de::Error::custom)
        } else {
            let mut de = serde_json::Deserializer::from_str(s);
            Sink(self.0).deserialize(&mut de).map_err(de::Error::custom)
        }
    }
}

fn hex4(b: &[u8]) -> Result<u32, &'static str> {
    let mut n = 0u32;
    for &c in b.get(..4).ok_or("short escape")? {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return Err("invalid escape"),
        };
        n = n * 16 + u32::from(d);
    }
    Ok(n)
}

/// Unescapes the inside of a JSON string that serde_json has already scanned.
fn unescape_into(b: &[u8], out: &mut Vec<u8>) -> Result<(), &'static str> {
    out.reserve(b.len());
    let mut i = 0;
    while let Some(p) = memchr::memchr(b'\\', &b[i..]) {
        out.extend_from_slice(&b[i..i + p]);
        i += p + 1;
        let c = b[i];
        i += 1;
        let ch = match c {
            b'"' | b'\\' | b'/' => { out.push(c); continue; }
            b'n' => { out.push(b'\n'); continue; }
            b't' => { out.push(b'\t'); continue; }
            b'r' => { out.push(b'\r'); continue; }
            b'b' => { out.push(8); continue; }
            b'f' => { out.push(12); continue; }
            b'u' => {
                let n = hex4(&b[i..])?;
                i += 4;
                if (0xD800..0xDC00).contains(&n) {
                    if b.get(i) != Some(&b'\\') || b.get(i + 1) != Some(&b'u') {
                        return Err("lone leading surrogate in hex escape");
                    }
                    let lo = hex4(&b[i + 2..])?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return Err("lone leading surrogate in hex escape");
                    }
                    i += 6;
                    0x10000 + ((n - 0xD800) << 10) + (lo - 0xDC00)
                } else if (0xDC00..0xE000).contains(&n) {
                    return Err("lone trailing surrogate in hex escape");
                } else {
                    n
                }
            }
            _ => return Err("invalid escape"),
        };
        let ch = char::from_u32(ch).ok_or("invalid escape")?;
        let mut tmp = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
    }
    out.extend_from_slice(&b[i..]);
    Ok(())
}

fn parse(parser: &str, line: &str, buf: &mut Vec<u8>) {
    match parser {
        "serde_json" | "serde_json-raw" => {
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
    RAW.store(parser == "serde_json-raw", std::sync::atomic::Ordering::Relaxed);
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
