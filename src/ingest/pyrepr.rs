//! Python `repr()` of dicts, as found in the `convo` cells of the 2023-24 CSV export, turned
//! into JSON text. Single- and double-quoted strings with Python escapes, `None`, `True`,
//! `False`, tuples, and `nan`/`inf` (written as JSON null, since JSON has no such numbers).

use crate::model::push_json_str;

/// Deepest nesting accepted, as in serde_json.
const MAX_DEPTH: usize = 128;

/// Where and why a repr could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReprError {
    /// Byte offset in the cell.
    pub at: usize,
    /// What was expected.
    pub message: String,
}

impl std::fmt::Display for ReprError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Python repr at byte {}: {}", self.at, self.message)
    }
}

/// Converts one Python literal (the whole of `src`) to JSON text.
pub fn to_json(src: &str) -> Result<String, ReprError> {
    let mut p = Parser {
        s: src.as_bytes(),
        src,
        i: 0,
        out: String::with_capacity(src.len() + src.len() / 8),
    };
    p.value(0)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(p.err("end of value"));
    }
    Ok(p.out)
}

struct Parser<'a> {
    s: &'a [u8],
    src: &'a str,
    i: usize,
    out: String,
}

impl Parser<'_> {
    fn err(&self, expected: &str) -> ReprError {
        let found = self.src[self.i.min(self.src.len())..].chars().next();
        ReprError {
            at: self.i,
            message: match found {
                Some(c) => format!("expected {expected}, found {c:?}"),
                None => format!("expected {expected}, found the end"),
            },
        }
    }

    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<(), ReprError> {
        if depth > MAX_DEPTH {
            return Err(ReprError {
                at: self.i,
                message: format!("nested deeper than {MAX_DEPTH}"),
            });
        }
        self.ws();
        match self.s.get(self.i) {
            Some(b'{') => self.container(b'}', true, depth),
            Some(b'[') => self.container(b']', false, depth),
            Some(b'(') => self.container(b')', false, depth),
            Some(b'\'' | b'"') => self.string(),
            Some(b'-' | b'+' | b'0'..=b'9' | b'.') => self.number(),
            Some(c) if c.is_ascii_alphabetic() => self.word(),
            _ => Err(self.err("a value")),
        }
    }

    fn container(&mut self, close: u8, dict: bool, depth: usize) -> Result<(), ReprError> {
        self.i += 1;
        self.out.push(if dict { '{' } else { '[' });
        let mut first = true;
        loop {
            self.ws();
            if self.s.get(self.i) == Some(&close) {
                self.i += 1;
                break;
            }
            if !first {
                if self.s.get(self.i) != Some(&b',') {
                    return Err(self.err("',' or the closing bracket"));
                }
                self.i += 1;
                self.ws();
                // A trailing comma, as in a one-element tuple `(x,)`.
                if self.s.get(self.i) == Some(&close) {
                    self.i += 1;
                    break;
                }
                self.out.push(',');
            }
            first = false;
            if dict {
                self.ws();
                let start = self.out.len();
                self.value(depth + 1)?;
                if !self.out[start..].starts_with('"') {
                    // JSON keys are strings: quote a non-string key's text.
                    let key = self.out.split_off(start);
                    push_json_str(&mut self.out, &key);
                }
                self.ws();
                if self.s.get(self.i) != Some(&b':') {
                    return Err(self.err("':'"));
                }
                self.i += 1;
                self.out.push(':');
            }
            self.value(depth + 1)?;
        }
        self.out.push(if dict { '}' } else { ']' });
        Ok(())
    }

    fn string(&mut self) -> Result<(), ReprError> {
        let quote = self.s[self.i];
        self.i += 1;
        let mut val = String::new();
        loop {
            let start = self.i;
            while self.i < self.s.len() && self.s[self.i] != quote && self.s[self.i] != b'\\' {
                self.i += 1;
            }
            val.push_str(&self.src[start..self.i]);
            match self.s.get(self.i) {
                None => return Err(self.err("the closing quote")),
                Some(&c) if c == quote => {
                    self.i += 1;
                    break;
                }
                _ => {
                    let at = self.i;
                    self.i += 1;
                    let Some(&e) = self.s.get(self.i) else {
                        return Err(self.err("an escape"));
                    };
                    self.i += 1;
                    match e {
                        b'\\' => val.push('\\'),
                        b'\'' => val.push('\''),
                        b'"' => val.push('"'),
                        b'n' => val.push('\n'),
                        b'r' => val.push('\r'),
                        b't' => val.push('\t'),
                        b'a' => val.push('\x07'),
                        b'b' => val.push('\x08'),
                        b'f' => val.push('\x0c'),
                        b'v' => val.push('\x0b'),
                        b'\n' => {}
                        b'x' => val.push(self.hex(2, at)?),
                        b'u' => {
                            let c = self.hex_code(4, at)?;
                            // A surrogate pair written as two \u escapes.
                            if (0xD800..0xDC00).contains(&c) && self.s[self.i..].starts_with(b"\\u")
                            {
                                let save = self.i;
                                self.i += 2;
                                let lo = self.hex_code(4, at)?;
                                if (0xDC00..0xE000).contains(&lo) {
                                    let cp = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
                                    val.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
                                    continue;
                                }
                                self.i = save;
                            }
                            val.push(char::from_u32(c).unwrap_or('\u{FFFD}'));
                        }
                        b'U' => val.push(self.hex(8, at)?),
                        b'0'..=b'7' => {
                            let mut v = u32::from(e - b'0');
                            for _ in 0..2 {
                                match self.s.get(self.i) {
                                    Some(d @ b'0'..=b'7') => {
                                        v = v * 8 + u32::from(d - b'0');
                                        self.i += 1;
                                    }
                                    _ => break,
                                }
                            }
                            val.push(char::from_u32(v).unwrap_or('\u{FFFD}'));
                        }
                        _ => {
                            // Python keeps unknown escapes as written.
                            val.push('\\');
                            self.i -= 1;
                        }
                    }
                }
            }
        }
        push_json_str(&mut self.out, &val);
        Ok(())
    }

    fn hex_code(&mut self, n: usize, at: usize) -> Result<u32, ReprError> {
        let digits = self.src.get(self.i..self.i + n).ok_or(ReprError {
            at,
            message: "truncated escape".into(),
        })?;
        let v = u32::from_str_radix(digits, 16).map_err(|_| ReprError {
            at,
            message: format!("bad escape digits {digits:?}"),
        })?;
        self.i += n;
        Ok(v)
    }

    fn hex(&mut self, n: usize, at: usize) -> Result<char, ReprError> {
        let v = self.hex_code(n, at)?;
        Ok(char::from_u32(v).unwrap_or('\u{FFFD}'))
    }

    fn number(&mut self) -> Result<(), ReprError> {
        let start = self.i;
        while self.i < self.s.len()
            && matches!(
                self.s[self.i],
                b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9' | b'_'
            )
        {
            self.i += 1;
        }
        let text: String = self.src[start..self.i]
            .chars()
            .filter(|c| *c != '_')
            .collect();
        let text = text.strip_prefix('+').unwrap_or(&text);
        // Python writes `1.` and `.5` in some reprs; JSON needs digits on both sides.
        let ok = if let Ok(i) = text.parse::<i64>() {
            self.out.push_str(&i.to_string());
            true
        } else if let Ok(f) = text.parse::<f64>() {
            if f.is_finite() {
                self.out.push_str(&serde_json::Value::from(f).to_string());
            } else {
                self.out.push_str("null");
            }
            true
        } else {
            false
        };
        if !ok {
            self.i = start;
            return Err(self.err("a number"));
        }
        Ok(())
    }

    fn word(&mut self) -> Result<(), ReprError> {
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_')
        {
            self.i += 1;
        }
        match &self.src[start..self.i] {
            "None" | "null" => self.out.push_str("null"),
            "True" | "true" => self.out.push_str("true"),
            "False" | "false" => self.out.push_str("false"),
            "nan" | "inf" | "NaN" | "Infinity" => self.out.push_str("null"),
            _ => {
                self.i = start;
                return Err(self.err("a Python literal"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(s: &str) -> serde_json::Value {
        serde_json::from_str(&to_json(s).unwrap()).unwrap()
    }

    #[test]
    fn converts_python_dicts() {
        let v = json(
            r#"{'id': 'a1', 'messages': [{'role': 'user', 'content': "it's \"fine\"\n", 'contexts': []}], 'temperature': 0.3, 'folderId': None, 'ok': True, 'no': False, 't': (1, 2), 'n': -5}"#,
        );
        assert_eq!(v["id"], "a1");
        assert_eq!(v["messages"][0]["content"], "it's \"fine\"\n");
        assert_eq!(v["temperature"], 0.3);
        assert!(v["folderId"].is_null());
        assert_eq!(v["ok"], true);
        assert_eq!(v["no"], false);
        assert_eq!(v["t"], serde_json::json!([1, 2]));
        assert_eq!(v["n"], -5);
    }

    #[test]
    fn python_escapes() {
        let v = json(r"['caf\xe9', '\u2014', '\U0001f680', 'a\\b', 'it\'s', '\ud83d\ude80', '\0']");
        assert_eq!(
            v,
            serde_json::json!(["café", "—", "🚀", "a\\b", "it's", "🚀", "\u{0}"])
        );
    }

    #[test]
    fn errors_say_where() {
        let e = to_json("{'a': 1, 'b': }").unwrap_err();
        assert_eq!(e.at, 14);
        assert!(to_json("{'a': 'unterminated}").is_err());
        assert!(to_json(&"[".repeat(1000)).is_err());
        assert!(to_json("{'a': datetime(2024)}").is_err());
    }
}
