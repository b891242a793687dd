//! Messages: one row per element of a `messages` array, with content parts counted.

use super::*;

/// The elements of a `messages` array, each one `messages` row (and its `contexts` rows).
pub(super) struct Messages;

impl Element for Messages {
    const WHAT: &'static str = "an array of messages";
    type Seed<'b> = MessageSeed<'b>;
    fn seed<'b>(
        &self,
        t: &'b mut TableBuilders,
        cx: &'b mut Scratch,
        index: i32,
    ) -> MessageSeed<'b> {
        MessageSeed { t, cx, index }
    }
}

pub(super) struct MessageSeed<'a> {
    pub(super) t: &'a mut TableBuilders,
    pub(super) cx: &'a mut Scratch,
    pub(super) index: i32,
}

impl<'de> DeserializeSeed<'de> for MessageSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl MessageSeed<'_> {
    /// A message that is not an object: a row of nulls with the value in `extra.$value`.
    pub(super) fn other(self, text: String) {
        let m = &mut self.t.messages;
        m.message_index.push(self.index);
        m.role.push_null();
        m.content.push_null();
        m.image_count.push_null();
        m.file_count.push_null();
        m.message_id.push_null();
        m.created_at.push_null();
        m.feedback_positive.push_null();
        m.feedback_category.push_null();
        m.feedback_details.push_null();
        m.context_count.push_null();
        m.system_message.push_null();
        m.final_prompt.push_null();
        let mut extra = Extra::default();
        extra.raw("$value", &text);
        extra.close_into(&mut m.extra);
    }
}

impl<'de> Visitor<'de> for MessageSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a message object")
    }
    scalars_to_other!();
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        let text = seq_to_json(seq)?;
        self.other(text);
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut staged: Staged<'de> = Vec::with_capacity(8);
        let mut contexts: Option<Result<i32, String>> = None;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if key == "contexts" && contexts.is_none() {
                contexts = Some(map.next_value_seed(ArraySeed {
                    t: &mut *self.t,
                    cx: &mut *self.cx,
                    element: Contexts {
                        message_index: self.index,
                    },
                })?);
            } else {
                staged.push((key, map.next_value()?));
            }
        }
        let m = &mut self.t.messages;
        let mut extra = Extra::default();
        let (mut role, mut content, mut message_id, mut created_at) = (None, None, None, None);
        let (mut system_message, mut final_prompt) = (None, None);
        let (mut positive, mut category, mut details) = (None, None, None);
        let (mut images, mut files) = (None, None);
        let mut seen: Vec<&str> = Vec::new();
        for (key, raw) in &staged {
            let key: &str = key;
            if seen.contains(&key) {
                extra.raw(key, raw.get());
                continue;
            }
            seen.push(key);
            match key {
                "role" => role = take_str(&mut extra, key, raw),
                "id" => message_id = take_str(&mut extra, key, raw),
                "created_at" => created_at = take_ts(&mut extra, key, raw, format_timestamp_pg),
                "latestSystemMessage" => system_message = take_str(&mut extra, key, raw),
                "finalPromtEngineeredMessage" => final_prompt = take_str(&mut extra, key, raw),
                "content" => match scalar(raw) {
                    Scalar::Str(s) => content = Some(s.into_owned()),
                    Scalar::Other if raw.get().starts_with('[') => {
                        extra.raw(key, raw.get());
                        let parts = content_parts(raw);
                        content = parts.text;
                        images = Some(parts.images);
                        files = Some(parts.files);
                    }
                    _ => extra.raw(key, raw.get()),
                },
                "feedback" => match object_entries(raw) {
                    Ok(entries) => {
                        let mut rest = Extra::default();
                        let mut seen_fb: Vec<&str> = Vec::new();
                        for (fk, fv) in &entries {
                            let fk: &str = fk;
                            if seen_fb.contains(&fk) {
                                rest.raw(fk, fv.get());
                                continue;
                            }
                            seen_fb.push(fk);
                            match fk {
                                "isPositive" => positive = take_bool(&mut rest, fk, fv),
                                "category" => {
                                    category = take_str(&mut rest, fk, fv).map(Cow::into_owned)
                                }
                                "details" => {
                                    details = take_str(&mut rest, fk, fv).map(Cow::into_owned)
                                }
                                _ => rest.raw(fk, fv.get()),
                            }
                        }
                        rest.close_as(&mut extra, "feedback");
                    }
                    Err(_) => extra.raw(key, raw.get()),
                },
                _ => extra.raw(key, raw.get()),
            }
        }
        let context_count = match contexts {
            Some(Ok(n)) => Some(n),
            Some(Err(text)) => {
                extra.raw("contexts", &text);
                None
            }
            None => None,
        };
        m.message_index.push(self.index);
        m.role.push_opt(role.as_deref());
        m.content.push_opt(content.as_deref());
        m.image_count.push_opt(images);
        m.file_count.push_opt(files);
        m.message_id.push_opt(message_id.as_deref());
        m.created_at.push_opt(created_at);
        m.feedback_positive.push_opt(positive);
        m.feedback_category.push_opt(category.as_deref());
        m.feedback_details.push_opt(details.as_deref());
        m.context_count.push_opt(context_count);
        m.system_message.push_opt(system_message.as_deref());
        m.final_prompt.push_opt(final_prompt.as_deref());
        extra.close_into(&mut m.extra);
        Ok(())
    }
}

/// What a content-part array holds.
pub(super) struct Parts {
    /// Text parts joined by a newline; None when there is none.
    pub(super) text: Option<String>,
    pub(super) images: i32,
    pub(super) files: i32,
}

pub(super) fn content_parts(raw: &RawValue) -> Parts {
    #[derive(serde::Deserialize)]
    struct Part<'a> {
        #[serde(borrow, rename = "type")]
        kind: Option<Cow<'a, str>>,
        #[serde(borrow)]
        text: Option<Cow<'a, str>>,
    }
    let mut out = Parts {
        text: None,
        images: 0,
        files: 0,
    };
    let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(raw.get()) else {
        return out;
    };
    for item in items {
        let Ok(part) = serde_json::from_str::<Part>(item.get()) else {
            continue;
        };
        match part.kind.as_deref() {
            Some("text") => {
                if let Some(t) = &part.text {
                    let buf = out.text.get_or_insert_with(String::new);
                    if !buf.is_empty() {
                        buf.push('\n');
                    }
                    buf.push_str(t);
                }
            }
            Some("image_url") => out.images += 1,
            Some("file") => out.files += 1,
            _ => {}
        }
    }
    out
}
