//! `token_count(text [, encoding])`: the number of tokens OpenAI's tiktoken gives a text
//! (`encode_ordinary`: special-token text counts as text), with the BPE rank files compiled
//! into the binary (`bpe-openai`), offline. `o200k_base` (GPT-4o, 4.1, o-series) by default;
//! `cl100k_base` (GPT-4, 3.5) too.
//!
//! Counting is the one expensive thing the reports do, so it is done at three levels:
//! - a whole text is counted once however often it appears: retrieved contexts repeat across
//!   questions, and counts are kept per text (by a 64-bit hash of encoding and text) in a
//!   bounded, sharded cache;
//! - a text is cut into tiktoken's pre-tokens (words, digit runs, punctuation, whitespace)
//!   and each distinct pre-token is byte-pair encoded once per thread: natural language
//!   repeats its words, so after the first few thousand texts almost every piece is a lookup
//!   (a piece's tokens never depend on its neighbours, which is why this is exact), first in
//!   a small direct-mapped table keyed by the piece's bytes built in registers; words of
//!   ASCII letters are cut 8 bytes at a time (`split`'s fast path);
//! - DataFusion runs batches on all cores in parallel.
//!
//! `bpe-openai` (GitHub's BPE crate) was chosen over `tiktoken-rs` by measurement: 1.6 times
//! faster on course text, a quarter of the start-up, and equal to tiktoken on every text in
//! `tests/data/tokens/` (437, both encodings).

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, OnceLock};

use bpe_openai::Tokenizer;
use datafusion::arrow::array::{AsArray, Int64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_err, plan_err, Result};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature};
use foldhash::fast::FixedState;

use super::{shaped_like, text_literal};

mod split;

/// A tiktoken encoding chatql counts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// GPT-4o, GPT-4.1, o1/o3/o4 (the default).
    O200kBase,
    /// GPT-4, GPT-4 Turbo, GPT-3.5 Turbo, ada-002 embeddings.
    Cl100kBase,
}

impl Encoding {
    /// Looks an encoding up by its tiktoken name.
    pub fn from_name(name: &str) -> Option<Encoding> {
        match name.trim() {
            "o200k_base" => Some(Encoding::O200kBase),
            "cl100k_base" => Some(Encoding::Cl100kBase),
            _ => None,
        }
    }

    fn tokenizer(self) -> &'static Tokenizer {
        match self {
            Encoding::O200kBase => bpe_openai::o200k_base(),
            Encoding::Cl100kBase => bpe_openai::cl100k_base(),
        }
    }
}

const SHARDS: usize = 64;
/// Entries per shard before it is emptied (about 16 bytes each).
const SHARD_CAP: usize = 1 << 16;
/// Distinct pre-tokens kept per thread and encoding before the map is emptied (a few tens
/// of MiB at most; course text has far fewer distinct words).
const PIECE_CAP: usize = 1 << 19;

fn cache() -> &'static [Mutex<HashMap<u64, u32>>] {
    static CACHE: OnceLock<Vec<Mutex<HashMap<u64, u32>>>> = OnceLock::new();
    CACHE.get_or_init(|| (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect())
}

/// A thread's front table of short pieces has `1 << FRONT_BITS` slots (32 bytes each).
const FRONT_BITS: u32 = 12;

/// The token counts of the pre-tokens one thread has met, per encoding: pieces of up to 15
/// bytes (nearly all words) keyed by their bytes packed into an integer, longer ones by text.
///
/// Short pieces are first looked up in `front`, a direct-mapped table of the pieces met
/// last (one slot per key, overwritten on a collision): one load and one comparison, where
/// a hash map probes a group of slots and branches on its matches. The common words of a
/// text stay in it; the rest fall through to `short`.
struct Pieces {
    front: Box<[(u128, u32)]>,
    short: HashMap<u128, u32, FixedState>,
    long: HashMap<Box<str>, u32, FixedState>,
}

impl Default for Pieces {
    fn default() -> Pieces {
        Pieces {
            // Key 0 is no piece's (a key holds its length, at least 2, in its top byte).
            front: vec![(0, 0); 1 << FRONT_BITS].into_boxed_slice(),
            short: HashMap::default(),
            long: HashMap::default(),
        }
    }
}

impl Pieces {
    /// The tokens of `piece`, a slice of `text`.
    fn count(&mut self, text: &str, piece: &str, enc: Encoding) -> u32 {
        let bytes = piece.as_bytes();
        if bytes.len() == 1 {
            // Every byte is a token of its own.
            return 1;
        }
        let encode = || enc.tokenizer().bpe.count(bytes) as u32;
        if bytes.len() < 16 {
            let start = piece.as_ptr() as usize - text.as_ptr() as usize;
            let key = short_key(text.as_bytes(), start, bytes.len());
            let folded = (key as u64) ^ ((key >> 64) as u64);
            let slot = folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - FRONT_BITS);
            let front = &mut self.front[slot as usize];
            if front.0 == key {
                return front.1;
            }
            let c = match self.short.get(&key) {
                Some(&c) => c,
                None => remember(&mut self.short, key, encode()),
            };
            *front = (key, c);
            return c;
        }
        if let Some(&c) = self.long.get(piece) {
            return c;
        }
        remember(&mut self.long, piece.into(), encode())
    }
}

/// The key of the piece `text[start..start + len]` (`len` under 16): its bytes in the low
/// bytes of a little-endian integer, zeros above, `len` in the top byte.
///
/// Built in registers from one 16-byte load of the text around the piece where the text
/// is that long. Copying the piece into a stack array and reading it back as an integer
/// made the CPU wait for the copy's stores to reach memory (a failed store-to-load
/// forwarding): a quarter of `token_count`'s time went to that one read.
#[inline(always)]
fn short_key(text: &[u8], start: usize, len: usize) -> u128 {
    debug_assert!((1..16).contains(&len) && start + len <= text.len());
    let tag = (len as u128) << 120;
    let keep = (1u128 << (len * 8)) - 1;
    if let Some(window) = text.get(start..start + 16) {
        let v = u128::from_le_bytes(window.try_into().expect("16 bytes"));
        return (v & keep) | tag;
    }
    let end = start + len;
    if end >= 16 {
        // Near the end of the text: the 16 bytes that end with the piece.
        let v = u128::from_le_bytes(text[end - 16..end].try_into().expect("16 bytes"));
        return (v >> ((16 - len) * 8)) | tag;
    }
    // A text shorter than 16 bytes.
    let mut packed = [0u8; 16];
    packed[..len].copy_from_slice(&text[start..end]);
    u128::from_le_bytes(packed) | tag
}

/// Keeps `count` for `key` (emptying the map first when it is full); returns `count`.
fn remember<K: Hash + Eq>(map: &mut HashMap<K, u32, FixedState>, key: K, count: u32) -> u32 {
    if map.len() >= PIECE_CAP {
        map.clear();
    }
    map.insert(key, count);
    count
}

thread_local! {
    static PIECES: RefCell<[Pieces; 2]> = RefCell::new(Default::default());
}

/// Tokens of `text` in `enc`, as tiktoken's `len(enc.encode_ordinary(text))`.
pub fn count_tokens(text: &str, enc: Encoding) -> u32 {
    if text.is_empty() {
        return 0;
    }
    let mut h = FixedState::default().build_hasher();
    enc.hash(&mut h);
    text.hash(&mut h);
    let key = h.finish();
    let shard = &cache()[(key as usize) % SHARDS];
    if let Some(n) = shard.lock().ok().and_then(|m| m.get(&key).copied()) {
        return n;
    }
    let n = count_uncached(text, enc);
    if let Ok(mut m) = shard.lock() {
        if m.len() >= SHARD_CAP {
            m.clear();
        }
        m.insert(key, n);
    }
    n
}

/// Splits `text` into pre-tokens and sums their counts, encoding each distinct piece once.
fn count_uncached(text: &str, enc: Encoding) -> u32 {
    PIECES.with_borrow_mut(|maps| {
        let map = &mut maps[enc as usize];
        split::split(text, enc)
            .map(|piece| map.count(text, piece, enc))
            .sum()
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct TokenCount {
    pub(super) signature: Signature,
}

impl ScalarUDFImpl for TokenCount {
    fn name(&self) -> &str {
        "token_count"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        if args.is_empty() || args.len() > 2 {
            return plan_err!("token_count(text [, encoding]): one or two arguments");
        }
        Ok(DataType::Int64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let enc = match (args.args.get(1), text_literal(args.args.get(1))) {
            (None, _) => Encoding::O200kBase,
            (_, Some(e)) => match Encoding::from_name(e) {
                Some(enc) => enc,
                None => {
                    return exec_err!(
                        "token_count: unknown encoding {e:?} (o200k_base or cl100k_base)"
                    )
                }
            },
            (Some(_), None) => {
                return exec_err!("token_count: the encoding must be a text literal")
            }
        };
        let scalar = matches!(args.args[0], ColumnarValue::Scalar(_));
        let a = args.args[0].to_array(args.number_rows)?;
        let a = cast(&a, &DataType::Utf8)?;
        let out: Int64Array = a
            .as_string::<i32>()
            .iter()
            .map(|t| t.map(|t| i64::from(count_tokens(t, enc))))
            .collect();
        shaped_like(Arc::new(out), scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_piece_has_one_key_wherever_it_sits_in_its_text() {
        let word = b"abcdefghijklmno";
        for len in 1..16 {
            let piece = &word[..len];
            let mut packed = [0u8; 16];
            packed[..len].copy_from_slice(piece);
            packed[15] = len as u8;
            let want = u128::from_le_bytes(packed);
            // The whole text, a text with room after the piece, one with room only before.
            assert_eq!(short_key(piece, 0, len), want, "{len}");
            let after = [piece, &[b'x'; 20]].concat();
            assert_eq!(short_key(&after, 0, len), want, "{len}");
            let before = [&[b'y'; 20], piece].concat();
            assert_eq!(short_key(&before, 20, len), want, "{len}");
            let middle = [&[b'y'; 9], piece, b"zz"].concat();
            assert_eq!(short_key(&middle, 9, len), want, "{len}");
        }
    }
}
