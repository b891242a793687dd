//! The one array decoder: an array of messages, contexts or chunks is walked element by
//! element, each decoded by its level's seed (which writes its rows); the value is the
//! element count, or, when the value is not an array, its JSON text for `extra`.

use super::*;

/// What an array's elements are decoded by.
pub(super) trait Element {
    /// What the array holds, for errors ("an array of messages").
    const WHAT: &'static str;
    /// The seed of one element.
    type Seed<'b>: for<'de> DeserializeSeed<'de, Value = ()>;
    /// The seed of element `index`, writing into `t` with scratch space `cx`.
    fn seed<'b>(&self, t: &'b mut TableBuilders, cx: &'b mut Scratch, index: i32)
        -> Self::Seed<'b>;
}

/// Decodes an array of `El`s. Returns the count, or Err(json text) when the value is not an
/// array.
pub(super) struct ArraySeed<'a, El> {
    pub(super) t: &'a mut TableBuilders,
    pub(super) cx: &'a mut Scratch,
    pub(super) element: El,
}

impl<'de, El: Element> DeserializeSeed<'de> for ArraySeed<'_, El> {
    type Value = Result<i32, String>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<El> ArraySeed<'_, El> {
    pub(super) fn other(self, text: String) -> Result<i32, String> {
        Err(text)
    }
}

impl<'de, El: Element> Visitor<'de> for ArraySeed<'_, El> {
    type Value = Result<i32, String>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(El::WHAT)
    }
    scalars_to_other!();
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Ok(Err(map_to_json(map)?))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut index = 0i32;
        while seq
            .next_element_seed(self.element.seed(&mut *self.t, &mut *self.cx, index))?
            .is_some()
        {
            index += 1;
        }
        Ok(Ok(index))
    }
}
