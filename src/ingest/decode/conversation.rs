//! The top level of a record (format R rows, format C objects, document lines) and the
//! conversation row written once its messages and contexts are in.

use super::*;

/// Keys of the top-level object that were not decoded on the way, with their raw values.
pub(super) type Staged<'de> = Vec<(Cow<'de, str>, &'de RawValue)>;

/// What the top-level visitor found.
pub(super) struct Top<'de> {
    pub(super) staged: Staged<'de>,
    /// `convo` of a format-R row.
    pub(super) convo: Option<Convo<'de>>,
    /// Number of `messages` decoded at the top level (format C); None if absent.
    pub(super) messages: Option<Option<i32>>,
    /// Number of `contexts` decoded at the top level (documents); None if absent.
    pub(super) chunks: Option<Option<i32>>,
    /// Non-array `messages` or `contexts`, kept for `extra`.
    pub(super) odd: Vec<(&'static str, String)>,
}

pub(super) enum Kind {
    Row,
    Convo,
    Document,
    Unknown(String),
}

impl Top<'_> {
    pub(super) fn kind(&self) -> Kind {
        let has = |k: &str| self.staged.iter().any(|(key, _)| key == k);
        match (
            self.convo.is_some(),
            self.messages.is_some(),
            self.chunks.is_some(),
        ) {
            (true, false, false) => Kind::Row,
            (false, true, false) => Kind::Convo,
            (false, false, true) if has("readable_filename") || has("s3_path") || has("url") => {
                Kind::Document
            }
            (false, false, false) => {
                let keys: Vec<&str> = self.staged.iter().take(8).map(|(k, _)| &**k).collect();
                Kind::Unknown(format!(
                    "unrecognized record: no `convo`, `messages` or `contexts` key (keys: {})",
                    keys.join(", ")
                ))
            }
            _ => Kind::Unknown(
                "ambiguous record: more than one of `convo`, `messages`, `contexts`".into(),
            ),
        }
    }
}

pub(super) struct TopSeed<'a> {
    pub(super) t: &'a mut TableBuilders,
    pub(super) cx: &'a mut Scratch,
}

impl<'de> DeserializeSeed<'de> for TopSeed<'_> {
    type Value = Top<'de>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopSeed<'_> {
    type Value = Top<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut top = Top {
            staged: Vec::with_capacity(8),
            convo: None,
            messages: None,
            chunks: None,
            odd: Vec::new(),
        };
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match &*key {
                "convo" if top.convo.is_none() => {
                    top.convo = Some(map.next_value_seed(ConvoSeed {
                        t: &mut *self.t,
                        cx: &mut *self.cx,
                    })?);
                }
                "messages" if top.messages.is_none() => {
                    let r = map.next_value_seed(MessagesSeed {
                        t: &mut *self.t,
                        cx: &mut *self.cx,
                    })?;
                    top.messages = Some(r.as_ref().ok().copied());
                    if let Err(text) = r {
                        top.odd.push(("messages", text));
                    }
                }
                "contexts" if top.chunks.is_none() => {
                    let r = map.next_value_seed(ChunksSeed {
                        t: &mut *self.t,
                        cx: &mut *self.cx,
                    })?;
                    top.chunks = Some(r.as_ref().ok().copied());
                    if let Err(text) = r {
                        top.odd.push(("contexts", text));
                    }
                }
                _ => {
                    let v: &RawValue = map.next_value()?;
                    top.staged.push((key, v));
                }
            }
        }
        Ok(top)
    }
}

// ---------------------------------------------------------------------------------------
// Conversations.

/// The `convo` object of a format-R row.
pub(super) enum Convo<'de> {
    Object {
        staged: Staged<'de>,
        /// Number of messages; None if `messages` is absent; Err if not an array.
        messages: Option<Result<i32, String>>,
    },
    /// `null` or another non-object value, as JSON text.
    Other(String),
}

pub(super) struct ConvoSeed<'a> {
    pub(super) t: &'a mut TableBuilders,
    pub(super) cx: &'a mut Scratch,
}

impl<'de> DeserializeSeed<'de> for ConvoSeed<'_> {
    type Value = Convo<'de>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl ConvoSeed<'_> {
    pub(super) fn other<'de>(self, text: String) -> Convo<'de> {
        Convo::Other(text)
    }
}

impl<'de> Visitor<'de> for ConvoSeed<'_> {
    type Value = Convo<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a conversation object")
    }
    scalars_to_other!();
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Ok(Convo::Other(seq_to_json(seq)?))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut staged = Vec::with_capacity(16);
        let mut messages = None;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if key == "messages" && messages.is_none() {
                messages = Some(map.next_value_seed(MessagesSeed {
                    t: &mut *self.t,
                    cx: &mut *self.cx,
                })?);
            } else {
                staged.push((key, map.next_value()?));
            }
        }
        Ok(Convo::Object { staged, messages })
    }
}

/// Writes the conversation row once its messages and contexts are in, and gives the child
/// rows their `convo_id`.
pub(super) fn finish_conversation(
    t: &mut TableBuilders,
    cx: &mut Scratch,
    top: Top<'_>,
    marks: &crate::table::schema::Marks,
    src: &Source<'_>,
    format: RecordFormat,
) -> Result<(), serde_json::Error> {
    let mut extra = Extra::default();
    let mut row_extra = Extra::default();
    let Top {
        staged: top_staged,
        convo,
        messages: top_messages,
        odd,
        ..
    } = top;
    for (k, text) in &odd {
        extra.raw(k, text);
    }

    // The convo object: the top level in format C, `convo` in format R.
    let is_row = convo.is_some();
    let mut convo_is_object = true;
    let (convo_staged, row_staged, message_count) = match convo {
        Some(Convo::Object { staged, messages }) => {
            let count = match messages {
                Some(Ok(n)) => Some(n),
                Some(Err(text)) => {
                    extra.raw("messages", &text);
                    None
                }
                None => None,
            };
            (staged, top_staged, count)
        }
        Some(Convo::Other(text)) => {
            convo_is_object = false;
            row_extra.raw("convo", &text);
            (Vec::new(), top_staged, None)
        }
        // A non-array `messages` is already in `extra` through `odd`.
        None => (top_staged, Vec::new(), top_messages.flatten()),
    };

    let mut convo_id = None;
    let (mut name, mut model_id, mut model_name, mut prompt, mut folder_id) =
        (None, None, None, None, None);
    let (mut temperature, mut updated_at) = (None, None);
    let (mut project, mut user_email_new, mut user_email_old, mut created_js) =
        (None, None, None, None);
    let mut seen: Vec<&str> = Vec::new();
    for (key, raw) in &convo_staged {
        let key: &str = key;
        if seen.contains(&key) {
            // A repeated key: the last one wins when the record is rebuilt.
            extra.raw(key, raw.get());
            continue;
        }
        seen.push(key);
        match key {
            "id" => convo_id = take_str(&mut extra, key, raw),
            "name" => name = take_str(&mut extra, key, raw),
            "prompt" => prompt = take_str(&mut extra, key, raw),
            "folderId" => folder_id = take_str(&mut extra, key, raw),
            "temperature" => temperature = take_f64(&mut extra, key, raw),
            "updatedAt" => updated_at = take_ts(&mut extra, key, raw, format_timestamp_js),
            "model" => {
                if let Ok(entries) = object_entries(raw) {
                    let mut rest = Extra::default();
                    let mut seen_model: Vec<&str> = Vec::new();
                    for (mk, mv) in &entries {
                        let mk: &str = mk;
                        if seen_model.contains(&mk) {
                            rest.raw(mk, mv.get());
                            continue;
                        }
                        seen_model.push(mk);
                        match mk {
                            "id" => model_id = take_str(&mut rest, mk, mv).map(Cow::into_owned),
                            "name" => model_name = take_str(&mut rest, mk, mv).map(Cow::into_owned),
                            _ => rest.raw(mk, mv.get()),
                        }
                    }
                    rest.close_as(&mut extra, "model");
                } else {
                    extra.raw(key, raw.get());
                }
            }
            _ => {
                // No column of its own; some feed derived columns.
                extra.raw(key, raw.get());
                match (key, scalar(raw)) {
                    ("projectName", Scalar::Str(s)) => project = Some(s),
                    ("userEmail", Scalar::Str(s)) => user_email_new = Some(s),
                    ("user_email", Scalar::Str(s)) => user_email_old = Some(s),
                    ("createdAt", Scalar::Str(s)) => created_js = parse_timestamp(&s),
                    _ => {}
                }
            }
        }
    }

    // The format-R row around it.
    let (mut row_id, mut row_created, mut row_convo_id, mut row_course, mut summary) =
        (None, None, None, None, None);
    let mut row_email: Option<Option<Cow<str>>> = None;
    if is_row {
        let mut seen_row: Vec<&str> = Vec::new();
        let mut row_keys_absent = vec!["id", "created_at", "convo_id", "course_name", "user_email"];
        for (key, raw) in &row_staged {
            let key: &str = key;
            if seen_row.contains(&key) {
                row_extra.raw(key, raw.get());
                continue;
            }
            seen_row.push(key);
            row_keys_absent.retain(|k| *k != key);
            match key {
                "id" => row_id = take_int(&mut row_extra, key, raw),
                "created_at" => {
                    row_created = take_ts(&mut row_extra, key, raw, format_timestamp_pg)
                }
                "convo_id" => row_convo_id = take_str(&mut row_extra, key, raw),
                "course_name" => row_course = take_str(&mut row_extra, key, raw),
                "user_email" => {
                    row_email = Some(match scalar(raw) {
                        Scalar::Str(s) => Some(s),
                        Scalar::Null => None,
                        _ => {
                            row_extra.raw(key, raw.get());
                            None
                        }
                    })
                }
                "summary" => summary = take_str(&mut row_extra, key, raw),
                _ => row_extra.raw(key, raw.get()),
            }
        }
        for k in row_keys_absent {
            row_extra.absent(k);
        }
    }

    // Derived columns.
    let voted = match &cx.course {
        CourseVote::One(c) => Some(c.as_str()),
        _ => None,
    };
    let course_name = row_course.as_deref().or(project.as_deref()).or(voted);
    let user_email = row_email
        .clone()
        .flatten()
        .or(user_email_new.clone())
        .or(user_email_old.clone());
    // A row `user_email` of null next to a convo-level email cannot be told from the column.
    if is_row && matches!(row_email, Some(None)) && user_email.is_some() {
        row_extra.raw("user_email", "null");
    }
    let created_at = row_created.or(created_js);
    let id = row_convo_id.as_deref().or(convo_id.as_deref());
    if is_row {
        if let (Some(r), Some(c)) = (&row_convo_id, &convo_id) {
            if r != c {
                // Both are emitted from the one column; keep the convo's own id.
                extra.raw("id", &crate::model::json_str(c));
            }
        }
        if row_convo_id.is_none() && convo_id.is_some() {
            row_extra.absent("convo_id");
        }
        if convo_is_object && convo_id.is_none() && id.is_some() {
            extra.absent("id");
        }
        if row_created.is_none() && created_at.is_some() {
            row_extra.absent("created_at");
        }
    }
    if is_row {
        if let Some(text) = row_extra.close() {
            let text = text.to_owned();
            extra.raw("$row", &text);
        }
    }

    let c = &mut t.conversations;
    c.convo_id.push_opt(id);
    c.row_id.push_opt(row_id);
    c.course_name.push_opt(course_name);
    c.user_email.push_opt(user_email.as_deref());
    c.created_at.push_opt(created_at);
    c.updated_at.push_opt(updated_at);
    c.name.push_opt(name.as_deref());
    c.model_id.push_opt(model_id.as_deref());
    c.model_name.push_opt(model_name.as_deref());
    c.prompt.push_opt(prompt.as_deref());
    c.temperature.push_opt(temperature);
    c.folder_id.push_opt(folder_id.as_deref());
    c.message_count.push_opt(message_count);
    c.summary.push_opt(summary.as_deref());
    c.source_format.push(match (format, is_row) {
        (RecordFormat::Csv, _) => "CSV",
        (_, true) => "R",
        (_, false) => "C",
    });
    c.source_file.push(src.file);
    c.source_line.push(src.line as i64);
    c.source_offset.push(src.offset as i64);
    extra.close_into(&mut c.extra);

    // The child rows were appended without their parent's id, which may come last.
    for _ in marks.messages..t.messages.message_index.len() {
        t.messages.convo_id.push_opt(id);
    }
    for _ in marks.contexts..t.contexts.context_index.len() {
        t.contexts.convo_id.push_opt(id);
    }
    Ok(())
}

/// The keys and raw values of a small object, or Err if `raw` is not an object.
pub(super) fn object_entries(raw: &RawValue) -> Result<Staged<'_>, serde_json::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Staged<'de>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(k) = map.next_key_seed(KeySeed)? {
                out.push((k, map.next_value()?));
            }
            Ok(out)
        }
    }
    serde_json::Deserializer::from_str(raw.get()).deserialize_map(V)
}
