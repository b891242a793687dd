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
                    let r = map.next_value_seed(ArraySeed {
                        t: &mut *self.t,
                        cx: &mut *self.cx,
                        element: Messages,
                    })?;
                    top.messages = Some(r.as_ref().ok().copied());
                    if let Err(text) = r {
                        top.odd.push(("messages", text));
                    }
                }
                "contexts" if top.chunks.is_none() => {
                    let r = map.next_value_seed(ArraySeed {
                        t: &mut *self.t,
                        cx: &mut *self.cx,
                        element: Chunks,
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
                messages = Some(map.next_value_seed(ArraySeed {
                    t: &mut *self.t,
                    cx: &mut *self.cx,
                    element: Messages,
                })?);
            } else {
                staged.push((key, map.next_value()?));
            }
        }
        Ok(Convo::Object { staged, messages })
    }
}

/// The columns a conversation's own object gives (the top level in format C, `convo` in
/// format R), and the keys that feed derived columns.
#[derive(Default)]
struct ConvoFields<'de> {
    id: Option<Cow<'de, str>>,
    name: Option<Cow<'de, str>>,
    model_id: Option<String>,
    model_name: Option<String>,
    prompt: Option<Cow<'de, str>>,
    folder_id: Option<Cow<'de, str>>,
    temperature: Option<f64>,
    updated_at: Option<i64>,
    project: Option<Cow<'de, str>>,
    user_email_new: Option<Cow<'de, str>>,
    user_email_old: Option<Cow<'de, str>>,
    created_js: Option<i64>,
}

impl<'de> ConvoFields<'de> {
    /// Reads the staged keys of the conversation object; the rest goes to `extra`.
    fn read(staged: &Staged<'de>, extra: &mut Extra) -> ConvoFields<'de> {
        let mut f = ConvoFields::default();
        let mut seen: Vec<&str> = Vec::new();
        for (key, raw) in staged {
            let key: &str = key;
            if seen.contains(&key) {
                // A repeated key: the last one wins when the record is rebuilt.
                extra.raw(key, raw.get());
                continue;
            }
            seen.push(key);
            match key {
                "id" => f.id = take_str(extra, key, raw),
                "name" => f.name = take_str(extra, key, raw),
                "prompt" => f.prompt = take_str(extra, key, raw),
                "folderId" => f.folder_id = take_str(extra, key, raw),
                "temperature" => f.temperature = take_f64(extra, key, raw),
                "updatedAt" => f.updated_at = take_ts(extra, key, raw, format_timestamp_js),
                "model" => f.read_model(key, raw, extra),
                _ => {
                    // No column of its own; some feed derived columns.
                    extra.raw(key, raw.get());
                    match (key, scalar(raw)) {
                        ("projectName", Scalar::Str(s)) => f.project = Some(s),
                        ("userEmail", Scalar::Str(s)) => f.user_email_new = Some(s),
                        ("user_email", Scalar::Str(s)) => f.user_email_old = Some(s),
                        ("createdAt", Scalar::Str(s)) => f.created_js = parse_timestamp(&s),
                        _ => {}
                    }
                }
            }
        }
        f
    }

    /// `model`: its `id` and `name` are columns, the rest stays under `model` in `extra`.
    fn read_model(&mut self, key: &str, raw: &'de RawValue, extra: &mut Extra) {
        let Ok(entries) = object_entries(raw) else {
            extra.raw(key, raw.get());
            return;
        };
        let mut rest = Extra::default();
        let mut seen: Vec<&str> = Vec::new();
        for (mk, mv) in &entries {
            let mk: &str = mk;
            if seen.contains(&mk) {
                rest.raw(mk, mv.get());
                continue;
            }
            seen.push(mk);
            match mk {
                "id" => self.model_id = take_str(&mut rest, mk, mv).map(Cow::into_owned),
                "name" => self.model_name = take_str(&mut rest, mk, mv).map(Cow::into_owned),
                _ => rest.raw(mk, mv.get()),
            }
        }
        rest.close_as(extra, "model");
    }
}

/// The columns of the format-R row around a conversation.
#[derive(Default)]
struct RowFields<'de> {
    id: Option<i64>,
    created: Option<i64>,
    convo_id: Option<Cow<'de, str>>,
    course: Option<Cow<'de, str>>,
    summary: Option<Cow<'de, str>>,
    /// `user_email`: absent (None), null (Some(None)) or a text.
    email: Option<Option<Cow<'de, str>>>,
}

impl<'de> RowFields<'de> {
    /// Reads the staged keys of the row; the rest goes to `row_extra`, and the row's own
    /// keys that are absent are recorded as such.
    fn read(staged: &Staged<'de>, row_extra: &mut Extra) -> RowFields<'de> {
        let mut f = RowFields::default();
        let mut seen: Vec<&str> = Vec::new();
        let mut absent = vec!["id", "created_at", "convo_id", "course_name", "user_email"];
        for (key, raw) in staged {
            let key: &str = key;
            if seen.contains(&key) {
                row_extra.raw(key, raw.get());
                continue;
            }
            seen.push(key);
            absent.retain(|k| *k != key);
            match key {
                "id" => f.id = take_int(row_extra, key, raw),
                "created_at" => f.created = take_ts(row_extra, key, raw, format_timestamp_pg),
                "convo_id" => f.convo_id = take_str(row_extra, key, raw),
                "course_name" => f.course = take_str(row_extra, key, raw),
                "user_email" => {
                    f.email = Some(match scalar(raw) {
                        Scalar::Str(s) => Some(s),
                        Scalar::Null => None,
                        _ => {
                            row_extra.raw(key, raw.get());
                            None
                        }
                    })
                }
                "summary" => f.summary = take_str(row_extra, key, raw),
                _ => row_extra.raw(key, raw.get()),
            }
        }
        for k in absent {
            row_extra.absent(k);
        }
        f
    }
}

/// The conversation object and the row around it, split out of the top level: (the
/// object's keys, the row's keys, the message count, whether the object is an object).
fn split_top<'de>(
    top: Top<'de>,
    extra: &mut Extra,
    row_extra: &mut Extra,
) -> (Staged<'de>, Staged<'de>, Option<i32>, bool) {
    let Top {
        staged,
        convo,
        messages,
        odd,
        ..
    } = top;
    for (k, text) in &odd {
        extra.raw(k, text);
    }
    match convo {
        Some(Convo::Object {
            staged: inner,
            messages,
        }) => {
            let count = match messages {
                Some(Ok(n)) => Some(n),
                Some(Err(text)) => {
                    extra.raw("messages", &text);
                    None
                }
                None => None,
            };
            (inner, staged, count, true)
        }
        Some(Convo::Other(text)) => {
            row_extra.raw("convo", &text);
            (Vec::new(), staged, None, false)
        }
        // A non-array `messages` is already in `extra` through `odd`.
        None => (staged, Vec::new(), messages.flatten(), true),
    }
}

/// Writes the conversation row once its messages and contexts are in, and gives them the
/// conversation's id (which may come last in the record).
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
    let is_row = top.convo.is_some();
    let (convo_staged, row_staged, message_count, convo_is_object) =
        split_top(top, &mut extra, &mut row_extra);
    let cf = ConvoFields::read(&convo_staged, &mut extra);
    let rf = if is_row {
        RowFields::read(&row_staged, &mut row_extra)
    } else {
        RowFields::default()
    };

    // Derived columns.
    let voted = match &cx.course {
        CourseVote::One(c) => Some(c.as_str()),
        _ => None,
    };
    let course_name = rf.course.as_deref().or(cf.project.as_deref()).or(voted);
    let user_email = rf
        .email
        .clone()
        .flatten()
        .or(cf.user_email_new.clone())
        .or(cf.user_email_old.clone());
    let created_at = rf.created.or(cf.created_js);
    let id = rf.convo_id.as_deref().or(cf.id.as_deref());
    if is_row {
        // What the columns cannot tell apart, kept so that the row is rebuilt as read.
        if matches!(rf.email, Some(None)) && user_email.is_some() {
            row_extra.raw("user_email", "null");
        }
        if let (Some(r), Some(c)) = (&rf.convo_id, &cf.id) {
            if r != c {
                // Both are emitted from the one column; keep the convo's own id.
                extra.raw("id", &crate::model::json_str(c));
            }
        }
        if rf.convo_id.is_none() && cf.id.is_some() {
            row_extra.absent("convo_id");
        }
        if convo_is_object && cf.id.is_none() && id.is_some() {
            extra.absent("id");
        }
        if rf.created.is_none() && created_at.is_some() {
            row_extra.absent("created_at");
        }
        if let Some(text) = row_extra.close() {
            let text = text.to_owned();
            extra.raw("$row", &text);
        }
    }

    let c = &mut t.conversations;
    c.convo_id.push_opt(id);
    c.row_id.push_opt(rf.id);
    c.course_name.push_opt(course_name);
    c.user_email.push_opt(user_email.as_deref());
    c.created_at.push_opt(created_at);
    c.updated_at.push_opt(cf.updated_at);
    c.name.push_opt(cf.name.as_deref());
    c.model_id.push_opt(cf.model_id.as_deref());
    c.model_name.push_opt(cf.model_name.as_deref());
    c.prompt.push_opt(cf.prompt.as_deref());
    c.temperature.push_opt(cf.temperature);
    c.folder_id.push_opt(cf.folder_id.as_deref());
    c.message_count.push_opt(message_count);
    c.summary.push_opt(rf.summary.as_deref());
    c.source_format.push(match (format, is_row) {
        (RecordFormat::Csv, _) => "CSV",
        (_, true) => "R",
        (_, false) => "C",
    });
    c.source_file.push(src.file);
    c.source_line.push(src.line as i64);
    c.source_offset.push(src.offset as i64);
    extra.close_into(&mut c.extra);

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
