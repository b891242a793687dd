//! Contexts: the bulk of a conversation export, decoded straight into the columns.

use super::*;

/// The elements of a message's `contexts` array, each one `contexts` row.
pub(super) struct Contexts {
    pub(super) message_index: i32,
}

impl Element for Contexts {
    const WHAT: &'static str = "an array of contexts";
    type Seed<'b> = ContextSeed<'b>;
    fn seed<'b>(
        &self,
        t: &'b mut TableBuilders,
        cx: &'b mut Scratch,
        index: i32,
    ) -> ContextSeed<'b> {
        ContextSeed {
            t,
            cx,
            message_index: self.message_index,
            index,
        }
    }
}

pub(super) struct ContextSeed<'a> {
    pub(super) t: &'a mut TableBuilders,
    pub(super) cx: &'a mut Scratch,
    pub(super) message_index: i32,
    pub(super) index: i32,
}

impl<'de> DeserializeSeed<'de> for ContextSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// Bits of `ContextSeed`'s seen set, one per modeled key.
pub(super) mod ctx_key {
    pub const TEXT: u16 = 1;
    pub const FILE: u16 = 2;
    pub const COURSE: u16 = 4;
    pub const S3: u16 = 8;
    pub const URL: u16 = 16;
    pub const BASE: u16 = 32;
    pub const PAGE: u16 = 64;
    pub const CHUNK: u16 = 128;
    pub const GROUPS: u16 = 256;
}

impl ContextSeed<'_> {
    pub(super) fn other(self, text: String) {
        let c = &mut self.t.contexts;
        c.message_index.push(self.message_index);
        c.context_index.push(self.index);
        fill_context_nulls(c, 0);
        let mut extra = Extra::default();
        extra.raw("$value", &text);
        extra.close_into(&mut c.extra);
    }
}

/// Appends nulls to the modeled columns not in `seen`.
pub(super) fn fill_context_nulls(c: &mut crate::table::schema::ContextsBuilder, seen: u16) {
    use ctx_key::*;
    let cols: [(u16, &mut StrCol); 7] = [
        (TEXT, &mut c.text),
        (FILE, &mut c.readable_filename),
        (COURSE, &mut c.course_name),
        (S3, &mut c.s3_path),
        (URL, &mut c.url),
        (BASE, &mut c.base_url),
        (CHUNK, &mut c.chunk_ref),
    ];
    for (bit, col) in cols {
        if seen & bit == 0 {
            col.push_null();
        }
    }
    if seen & PAGE == 0 {
        c.pagenumber.push_null();
    }
    if seen & GROUPS == 0 {
        c.doc_groups.push_null();
    }
}

impl<'de> Visitor<'de> for ContextSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a context object")
    }
    scalars_to_other!();
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        let text = seq_to_json(seq)?;
        self.other(text);
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        use ctx_key::*;
        let c = &mut self.t.contexts;
        let extra = &mut self.cx.ctx_extra;
        extra.clear();
        let mut seen = 0u16;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let (bit, col) = match &*key {
                "text" => (TEXT, &mut c.text),
                "readable_filename" => (FILE, &mut c.readable_filename),
                "course_name " => (COURSE, &mut c.course_name),
                "s3_path" => (S3, &mut c.s3_path),
                "url" => (URL, &mut c.url),
                "base_url" => (BASE, &mut c.base_url),
                "pagenumber" if seen & PAGE == 0 => {
                    seen |= PAGE;
                    let raw: &RawValue = map.next_value()?;
                    let v = match raw.get() {
                        "\"\"" => {
                            extra.raw("pagenumber", "\"\"");
                            None
                        }
                        _ => take_int(extra, "pagenumber", raw),
                    };
                    c.pagenumber.push_opt(v);
                    continue;
                }
                "doc_groups" if seen & GROUPS == 0 => {
                    seen |= GROUPS;
                    let raw: &RawValue = map.next_value()?;
                    match serde_json::from_str::<Vec<CowStr>>(raw.get()) {
                        Ok(groups) => {
                            for g in &groups {
                                c.doc_groups.push_item(&g.0);
                            }
                            c.doc_groups.end_row(true);
                        }
                        Err(_) => {
                            extra.raw("doc_groups", raw.get());
                            c.doc_groups.push_null();
                        }
                    }
                    continue;
                }
                "chunk_index" | "url_chunk_index" if seen & CHUNK == 0 => {
                    seen |= CHUNK;
                    let raw: &RawValue = map.next_value()?;
                    if key == "url_chunk_index" {
                        // Column filled from the alternate key, kept as is for the rebuild.
                        extra.raw(&key, raw.get());
                        extra.absent("chunk_index");
                        match scalar(raw) {
                            Scalar::Str(s) => c.chunk_ref.push(&s),
                            _ => c.chunk_ref.push_null(),
                        }
                    } else {
                        put_str(&mut c.chunk_ref, extra, &key, raw);
                    }
                    continue;
                }
                _ => {
                    let raw: &RawValue = map.next_value()?;
                    extra.raw(&key, raw.get());
                    continue;
                }
            };
            if seen & bit != 0 {
                let raw: &RawValue = map.next_value()?;
                extra.raw(&key, raw.get());
                continue;
            }
            seen |= bit;
            let before = col.len();
            map.next_value_seed(StrInto {
                col: &mut *col,
                extra: &mut *extra,
                key: &key,
            })?;
            debug_assert_eq!(col.len(), before + 1);
            if bit == COURSE {
                if let Some(s) = col.get(before) {
                    self.cx.course.vote(s);
                }
            }
        }
        c.message_index.push(self.message_index);
        c.context_index.push(self.index);
        fill_context_nulls(c, seen);
        extra.close_into(&mut c.extra);
        Ok(())
    }
}

/// Decodes a string value straight into a column; other values become null with the
/// value in `extra`.
pub(super) struct StrInto<'a> {
    pub(super) col: &'a mut StrCol,
    pub(super) extra: &'a mut Extra,
    pub(super) key: &'a str,
}

impl<'de> DeserializeSeed<'de> for StrInto<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl StrInto<'_> {
    pub(super) fn other(self, text: String) {
        self.col.push_null();
        self.extra.raw(self.key, &text);
    }
}

impl<'de> Visitor<'de> for StrInto<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.other(v.to_string());
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.other(v.to_string());
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.other(v.to_string());
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.other(serde_json::Value::from(v).to_string());
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.other("null".into());
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.col.push(v);
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let text = map_to_json(map)?;
        self.other(text);
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        let text = seq_to_json(seq)?;
        self.other(text);
        Ok(())
    }
}
