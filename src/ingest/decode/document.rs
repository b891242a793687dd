//! Documents and their chunks, with embeddings parsed straight into a float column.

use super::*;

/// The elements of a document's `contexts` array, each one `chunks` row.
pub(super) struct Chunks;

impl Element for Chunks {
    const WHAT: &'static str = "an array of chunks";
    type Seed<'b> = ChunkSeed<'b>;
    fn seed<'b>(&self, t: &'b mut TableBuilders, cx: &'b mut Scratch, index: i32) -> ChunkSeed<'b> {
        ChunkSeed { t, cx, index }
    }
}

pub(super) struct ChunkSeed<'a> {
    pub(super) t: &'a mut TableBuilders,
    pub(super) cx: &'a mut Scratch,
    pub(super) index: i32,
}

impl<'de> DeserializeSeed<'de> for ChunkSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl ChunkSeed<'_> {
    pub(super) fn other(self, text: String) {
        let k = &mut self.t.chunks;
        k.chunk_index.push(i64::from(self.index));
        k.text.push_null();
        k.pagenumber.push_null();
        k.timestamp.push_null();
        k.embedding.push_null();
        let mut extra = Extra::default();
        extra.raw("$value", &text);
        extra.absent("chunk_index");
        extra.close_into(&mut k.extra);
    }
}

/// Parses a JSON array of numbers into `out` as f32; false (with `out` as it was) if the
/// text is anything else.
pub(super) fn parse_f32_array(text: &str, out: &mut Vec<f32>) -> bool {
    let start = out.len();
    let b = text.as_bytes();
    let mut i = 1; // after '['
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    skip_ws(&mut i);
    if b.get(i) == Some(&b']') {
        return i + 1 == b.len();
    }
    loop {
        skip_ws(&mut i);
        // JSON numbers only: fast-float also reads `inf`/`nan`, which JSON has not.
        if !matches!(b.get(i), Some(b'-' | b'0'..=b'9')) {
            out.truncate(start);
            return false;
        }
        match fast_float2::parse_partial::<f32, _>(&b[i..]) {
            Ok((v, n)) => {
                out.push(v);
                i += n;
            }
            Err(_) => {
                out.truncate(start);
                return false;
            }
        }
        skip_ws(&mut i);
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b']') if i + 1 == b.len() => return true,
            _ => {
                out.truncate(start);
                return false;
            }
        }
    }
}

impl<'de> Visitor<'de> for ChunkSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a chunk object")
    }
    scalars_to_other!();
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        let text = seq_to_json(seq)?;
        self.other(text);
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        const TEXT: u8 = 1;
        const PAGE: u8 = 2;
        const TIME: u8 = 4;
        const EMB: u8 = 8;
        const INDEX: u8 = 16;
        let k = &mut self.t.chunks;
        let extra = &mut self.cx.chunk_extra;
        extra.clear();
        let mut seen = 0u8;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let bit = match &*key {
                "text" => TEXT,
                "pagenumber" => PAGE,
                "timestamp" => TIME,
                "embedding" => EMB,
                "chunk_index" => INDEX,
                _ => 0,
            };
            if bit == 0 || seen & bit != 0 {
                let raw: &RawValue = map.next_value()?;
                extra.raw(&key, raw.get());
                continue;
            }
            seen |= bit;
            match bit {
                TEXT => map.next_value_seed(StrInto {
                    col: &mut k.text,
                    extra: &mut *extra,
                    key: &key,
                })?,
                EMB => {
                    let raw: &RawValue = map.next_value()?;
                    let t = raw.get();
                    if t.starts_with('[') && parse_f32_array(t, k.embedding.values()) {
                        k.embedding.end_row(true);
                    } else {
                        // The `""` placeholder of the 2025-10 worker, or anything else.
                        extra.raw(&key, t);
                        k.embedding.push_null();
                    }
                }
                _ => {
                    let raw: &RawValue = map.next_value()?;
                    let v = take_int(extra, &key, raw);
                    match bit {
                        PAGE => k.pagenumber.push_opt(v),
                        TIME => k.timestamp.push_opt(v),
                        _ => {
                            if v.is_none() {
                                // Not a number: the position stands in, the value is in extra.
                                k.chunk_index.push(i64::from(self.index));
                            } else {
                                k.chunk_index.push_opt(v);
                            }
                        }
                    }
                }
            }
        }
        if seen & TEXT == 0 {
            k.text.push_null();
        }
        if seen & PAGE == 0 {
            k.pagenumber.push_null();
        }
        if seen & TIME == 0 {
            k.timestamp.push_null();
        }
        if seen & EMB == 0 {
            k.embedding.push_null();
        }
        if seen & INDEX == 0 {
            k.chunk_index.push(i64::from(self.index));
            extra.absent("chunk_index");
        }
        extra.close_into(&mut k.extra);
        Ok(())
    }
}

pub(super) fn finish_document(
    t: &mut TableBuilders,
    top: Top<'_>,
    marks: &crate::table::schema::Marks,
    src: &Source<'_>,
) {
    let d = &mut t.documents;
    let mut extra = Extra::default();
    for (k, text) in &top.odd {
        extra.raw(k, text);
    }
    let (mut id, mut created, mut course, mut s3, mut file, mut url, mut base) =
        (None, None, None, None, None, None, None);
    let mut seen: Vec<&str> = Vec::new();
    for (key, raw) in &top.staged {
        let key: &str = key;
        if seen.contains(&key) {
            extra.raw(key, raw.get());
            continue;
        }
        seen.push(key);
        match key {
            "id" => id = take_int(&mut extra, key, raw),
            "created_at" => created = take_ts(&mut extra, key, raw, format_timestamp_pg),
            "course_name" => course = take_str(&mut extra, key, raw),
            "s3_path" => s3 = take_str(&mut extra, key, raw),
            "readable_filename" => file = take_str(&mut extra, key, raw),
            "url" => url = take_str(&mut extra, key, raw),
            "base_url" => base = take_str(&mut extra, key, raw),
            _ => extra.raw(key, raw.get()),
        }
    }
    d.doc_id.push_opt(id);
    d.created_at.push_opt(created);
    d.course_name.push_opt(course.as_deref());
    d.s3_path.push_opt(s3.as_deref());
    d.readable_filename.push_opt(file.as_deref());
    d.url.push_opt(url.as_deref());
    d.base_url.push_opt(base.as_deref());
    d.chunk_count.push_opt(top.chunks.flatten());
    d.source_file.push(src.file);
    d.source_line.push(src.line as i64);
    d.source_offset.push(src.offset as i64);
    extra.close_into(&mut d.extra);
    let k = &mut t.chunks;
    for _ in marks.chunks..k.chunk_index.len() {
        k.doc_id.push_opt(id);
        k.course_name.push_opt(course.as_deref());
        k.s3_path.push_opt(s3.as_deref());
        k.url.push_opt(url.as_deref());
    }
}
