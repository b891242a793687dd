//! `token_count(text [, encoding])`: the number of tokens OpenAI's tiktoken gives a text
//! (`encode_ordinary`: special-token text counts as text), with the BPE rank files compiled
//! into the binary (`tiktoken-rs`), offline. `o200k_base` (GPT-4o, 4.1, o-series) by default;
//! `cl100k_base` (GPT-4, 3.5) too.
//!
//! Retrieved contexts repeat across questions, so counts are kept per text (by a 64-bit
//! hash of encoding and text) in a bounded, sharded cache: each distinct text is encoded
//! once however often it appears. DataFusion runs batches on all cores in parallel.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, OnceLock};

use datafusion::arrow::array::{AsArray, Int64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_err, plan_err, Result};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature};
use tiktoken_rs::CoreBPE;

use super::{shaped_like, text_literal};

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

    fn bpe(self) -> &'static CoreBPE {
        match self {
            Encoding::O200kBase => tiktoken_rs::o200k_base_singleton(),
            Encoding::Cl100kBase => tiktoken_rs::cl100k_base_singleton(),
        }
    }
}

const SHARDS: usize = 64;
/// Entries per shard before it is emptied (about 16 bytes each).
const SHARD_CAP: usize = 1 << 16;

fn cache() -> &'static [Mutex<HashMap<u64, u32>>] {
    static CACHE: OnceLock<Vec<Mutex<HashMap<u64, u32>>>> = OnceLock::new();
    CACHE.get_or_init(|| (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect())
}

/// Tokens of `text` in `enc`, as tiktoken's `len(enc.encode_ordinary(text))`.
pub fn count_tokens(text: &str, enc: Encoding) -> u32 {
    if text.is_empty() {
        return 0;
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    enc.hash(&mut h);
    text.hash(&mut h);
    let key = h.finish();
    let shard = &cache()[(key as usize) % SHARDS];
    if let Some(n) = shard.lock().ok().and_then(|m| m.get(&key).copied()) {
        return n;
    }
    let n = enc.bpe().encode_ordinary(text).len() as u32;
    if let Ok(mut m) = shard.lock() {
        if m.len() >= SHARD_CAP {
            m.clear();
        }
        m.insert(key, n);
    }
    n
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
