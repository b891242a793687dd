//! What the UIUC.chat export formats look like, as far as code needs to know: how times are
//! written by each writer ([`time`]), wall-clock time in a zone ([`zone`]), and how JSON text
//! is escaped ([`json`]), when two questions are the same ([`text`]). FORMAT.md is the prose version.
//!
//! Nothing here does I/O or touches Arrow: these are pure functions over strings and
//! numbers, shared by the decoder (to read) and by the exporters (to write back).

pub mod json;
pub mod text;
pub mod time;
pub mod zone;

pub use json::{json_str, push_json_str};
pub use text::normalize_question;
pub use time::{
    format_month, format_timestamp_js, format_timestamp_pg, has_offset, now_us, parse_timestamp,
};
pub use zone::Zone;
