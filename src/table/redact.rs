//! Email pseudonymization: every email address, wherever it appears in a text (columns,
//! message text, `extra`), becomes `user-<hash>@redacted.invalid`, where the hash is a keyed
//! HMAC-SHA256 of the lower-cased address. The same key gives the same pseudonym in every
//! run, so per-user analysis still works without the address.

use sha2::{Digest, Sha256};

/// Replaces emails with keyed pseudonyms.
pub struct Redactor {
    inner: [u8; 64],
    outer: [u8; 64],
}

impl Redactor {
    /// A redactor for `key` (any length).
    pub fn new(key: &str) -> Redactor {
        let mut k = [0u8; 64];
        if key.len() > 64 {
            k[..32].copy_from_slice(&Sha256::digest(key.as_bytes()));
        } else {
            k[..key.len()].copy_from_slice(key.as_bytes());
        }
        let mut inner = [0x36u8; 64];
        let mut outer = [0x5cu8; 64];
        for i in 0..64 {
            inner[i] ^= k[i];
            outer[i] ^= k[i];
        }
        Redactor { inner, outer }
    }

    /// The pseudonym of one address.
    pub fn pseudonym(&self, email: &str) -> String {
        let lower = email.to_ascii_lowercase();
        let ih = Sha256::new()
            .chain_update(self.inner)
            .chain_update(lower.as_bytes())
            .finalize();
        let oh = Sha256::new()
            .chain_update(self.outer)
            .chain_update(ih)
            .finalize();
        format!("user-{}@redacted.invalid", &hex::encode(oh)[..12])
    }

    /// `text` with every email address replaced.
    pub fn redact_text(&self, text: &str) -> String {
        let b = text.as_bytes();
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        let mut i = 0;
        while let Some(at) = memchr::memchr(b'@', &b[i..]).map(|p| p + i) {
            let is_local = |c: u8| c.is_ascii_alphanumeric() || b"._%+-".contains(&c);
            let is_domain = |c: u8| c.is_ascii_alphanumeric() || c == b'-' || c == b'.';
            let mut start = at;
            while start > last && is_local(b[start - 1]) {
                start -= 1;
            }
            let mut end = at + 1;
            while end < b.len() && is_domain(b[end]) {
                end += 1;
            }
            // Trailing dots end sentences, not domains.
            while end > at + 1 && b[end - 1] == b'.' {
                end -= 1;
            }
            let domain = &text[at + 1..end];
            let valid = start < at
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with("redacted.invalid");
            if valid {
                out.push_str(&text[last..start]);
                out.push_str(&self.pseudonym(&text[start..end]));
                last = end;
            }
            i = end.max(at + 1);
        }
        out.push_str(&text[last..]);
        out
    }
}

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, ListArray, RecordBatch, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::error::ArrowError;

impl Redactor {
    /// `batch` with every email in its string columns (and lists of strings) replaced.
    pub fn redact_batch(&self, batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
        let columns: Vec<ArrayRef> = batch
            .columns()
            .iter()
            .map(|c| self.redact_array(c))
            .collect();
        RecordBatch::try_new(batch.schema(), columns)
    }

    fn redact_array(&self, a: &ArrayRef) -> ArrayRef {
        match a.data_type() {
            DataType::Utf8 => {
                let s = a.as_string::<i32>();
                let out: StringArray = s
                    .iter()
                    .map(|v| {
                        v.map(|t| {
                            if t.contains('@') {
                                self.redact_text(t)
                            } else {
                                t.to_owned()
                            }
                        })
                    })
                    .collect();
                Arc::new(out)
            }
            DataType::List(field) if field.data_type() == &DataType::Utf8 => {
                let l = a.as_list::<i32>();
                let values = self.redact_array(l.values());
                Arc::new(ListArray::new(
                    field.clone(),
                    l.offsets().clone(),
                    values,
                    l.nulls().cloned(),
                ))
            }
            _ => a.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_every_email_stably() {
        let r = Redactor::new("secret");
        let a = r.pseudonym("Alice@Illinois.edu");
        assert_eq!(a, r.pseudonym("alice@illinois.edu"));
        assert_ne!(a, Redactor::new("other").pseudonym("alice@illinois.edu"));
        assert!(a.starts_with("user-") && a.ends_with("@redacted.invalid"));
        let text = r#"{"user_email":"alice@illinois.edu","text":"mail bob.smith+x@cs.uiuc.edu. or @handle"}"#;
        let out = r.redact_text(text);
        assert!(!out.contains("alice@") && !out.contains("bob.smith"));
        assert!(out.contains(&format!("\"{a}\"")));
        assert!(out.contains(". or @handle"));
        assert_eq!(
            r.redact_text(&out),
            out,
            "pseudonyms are not redacted again"
        );
    }
}
