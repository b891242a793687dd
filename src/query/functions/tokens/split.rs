//! tiktoken's pre-tokenizer (the regex that cuts a text into words, digit runs, punctuation
//! and whitespace before byte-pair encoding), hand-written: the regex engine was most of
//! `token_count`'s time.
//!
//! The rules below are the alternatives of the `o200k_base` and `cl100k_base` patterns, in
//! their order and with the regex's leftmost-first backtracking, over a table of the Unicode
//! classes the patterns name (letters by case, marks, numbers, white space), built once from
//! the same `regex-syntax` tables the regex uses. Whatever the rules do not decide (a
//! character beyond the table, a leading combining mark, a contraction spelt with a
//! non-ASCII letter) is left to `bpe-openai`'s regex from the same position, as bpe-openai
//! itself does piece by piece. `tests` compare the two piece by piece on generated texts
//! mixing every class the patterns tell apart.

use std::sync::OnceLock;

use super::Encoding;

/// The pieces of `text`, exactly as `enc.tokenizer().split(text)` gives them.
pub(super) fn split(text: &str, enc: Encoding) -> Splits<'_> {
    Splits {
        text,
        at: 0,
        enc,
        table: table(),
    }
}

pub(super) struct Splits<'a> {
    text: &'a str,
    at: usize,
    enc: Encoding,
    table: &'static [u8],
}

impl<'a> Iterator for Splits<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let start = self.at;
        if start >= self.text.len() {
            return None;
        }
        let t = Text {
            b: self.text.as_bytes(),
            table: self.table,
        };
        let end = match self.enc {
            Encoding::O200kBase => o200k(&t, start),
            Encoding::Cl100kBase => cl100k(&t, start),
        };
        let end = match end {
            Ok(end) => end,
            // Not decided here: the regex, anchored at this piece.
            Err(Undecided) => {
                let rest = &self.text[start..];
                let piece = self.enc.tokenizer().split(rest).next().unwrap_or(rest);
                start + piece.len()
            }
        };
        self.at = end;
        Some(&self.text[start..end])
    }
}

/// The rules cannot decide this piece.
struct Undecided;

/// `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`: may start an `o200k` word.
const UPPER: u8 = 1;
/// `[\p{Ll}\p{Lm}\p{Lo}\p{M}]`: may end an `o200k` word.
const LOWER: u8 = 2;
/// `\p{L}`.
const LETTER: u8 = 4;
/// `\p{N}`.
const NUMBER: u8 = 8;
/// `\s` (Unicode White_Space).
const SPACE: u8 = 16;

/// Classes of the code points below this (the BMP and the emoji planes); beyond: undecided.
const TABLE_END: usize = 0x3_0000;

fn table() -> &'static [u8] {
    static TABLE: OnceLock<Box<[u8]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = vec![0u8; TABLE_END].into_boxed_slice();
        for (class, bit) in [
            (r"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]", UPPER),
            (r"[\p{Ll}\p{Lm}\p{Lo}\p{M}]", LOWER),
            (r"\p{L}", LETTER),
            (r"\p{N}", NUMBER),
            (r"\s", SPACE),
        ] {
            for (lo, hi) in unicode_ranges(class) {
                for c in lo..=hi.min(TABLE_END as u32 - 1) {
                    t[c as usize] |= bit;
                }
            }
        }
        t
    })
}

/// The code point ranges of a one-class pattern, from regex-syntax's Unicode tables.
fn unicode_ranges(class: &str) -> Vec<(u32, u32)> {
    use regex_syntax::hir::{Class, HirKind};
    let hir = regex_syntax::parse(class).expect("a valid class");
    match hir.kind() {
        HirKind::Class(Class::Unicode(c)) => c
            .iter()
            .map(|r| (u32::from(r.start()), u32::from(r.end())))
            .collect(),
        other => unreachable!("{class} parsed as {other:?}"),
    }
}

/// One character: its classes, its length in bytes and, for ASCII, the byte (else 0x80).
#[derive(Clone, Copy)]
struct Ch {
    class: u8,
    len: usize,
    ascii: u8,
}

impl Ch {
    fn is(self, bits: u8) -> bool {
        self.class & bits != 0
    }
    fn newline(self) -> bool {
        self.ascii == b'\r' || self.ascii == b'\n'
    }
    /// `[^\r\n\p{L}\p{N}]`: what may precede a word.
    fn lead(self) -> bool {
        !self.newline() && !self.is(LETTER | NUMBER)
    }
    /// `[^\s\p{L}\p{N}]`: punctuation, symbols, marks and controls.
    fn punct(self) -> bool {
        !self.is(SPACE | LETTER | NUMBER)
    }
}

struct Text<'a> {
    b: &'a [u8],
    table: &'a [u8],
}

impl Text<'_> {
    /// The character at byte `i` (a char boundary): `None` past the end.
    #[inline(always)]
    fn at(&self, i: usize) -> Result<Option<Ch>, Undecided> {
        let Some(&b0) = self.b.get(i) else {
            return Ok(None);
        };
        let (cp, len) = if b0 < 0x80 {
            (u32::from(b0), 1)
        } else if b0 < 0xE0 {
            (
                (u32::from(b0 & 0x1F) << 6) | u32::from(self.b[i + 1] & 0x3F),
                2,
            )
        } else if b0 < 0xF0 {
            let cp = (u32::from(b0 & 0x0F) << 12)
                | (u32::from(self.b[i + 1] & 0x3F) << 6)
                | u32::from(self.b[i + 2] & 0x3F);
            (cp, 3)
        } else {
            let cp = (u32::from(b0 & 0x07) << 18)
                | (u32::from(self.b[i + 1] & 0x3F) << 12)
                | (u32::from(self.b[i + 2] & 0x3F) << 6)
                | u32::from(self.b[i + 3] & 0x3F);
            (cp, 4)
        };
        match self.table.get(cp as usize) {
            Some(&class) => Ok(Some(Ch {
                class,
                len,
                ascii: if b0 < 0x80 { b0 } else { 0x80 },
            })),
            None => Err(Undecided),
        }
    }

    /// Where a run of characters that `accept` holds for, from `i`, ends.
    #[inline(always)]
    fn run(&self, mut i: usize, accept: impl Fn(Ch) -> bool) -> Result<usize, Undecided> {
        while let Some(c) = self.at(i)? {
            if !accept(c) {
                break;
            }
            i += c.len;
        }
        Ok(i)
    }

    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)` at `i`: where it ends, if it matches. A non-ASCII
    /// letter after the quote is undecided (`ſ` matches `s` without case).
    fn contraction(&self, i: usize) -> Result<Option<usize>, Undecided> {
        if self.b.get(i) != Some(&b'\'') {
            return Ok(None);
        }
        let ascii = |j: usize| match self.b.get(j) {
            Some(&c) if c >= 0x80 => Err(Undecided),
            c => Ok(c.map(u8::to_ascii_lowercase)),
        };
        Ok(match ascii(i + 1)? {
            Some(b's' | b't' | b'm' | b'd') => Some(i + 2),
            Some(c @ (b'r' | b'v' | b'l')) => {
                let want = if c == b'l' { b'l' } else { b'e' };
                (ascii(i + 2)? == Some(want)).then_some(i + 3)
            }
            _ => None,
        })
    }

    /// `\p{N}{1,3}`, ` ?[^\s\p{L}\p{N}]+` + `tail`, and the white-space rules, which both
    /// encodings share, for a piece starting with `c0` at `p`.
    fn rest(&self, p: usize, c0: Ch, tail: impl Fn(Ch) -> bool) -> Result<usize, Undecided> {
        if c0.is(NUMBER) {
            let mut e = p + c0.len;
            for _ in 0..2 {
                match self.at(e)? {
                    Some(c) if c.is(NUMBER) => e += c.len,
                    _ => break,
                }
            }
            return Ok(e);
        }
        let s = if c0.ascii == b' ' { p + 1 } else { p };
        let e = self.run(s, Ch::punct)?;
        if e > s {
            return self.run(e, tail);
        }
        // `\s*[\r\n]+` (up to the last newline of the run), `\s+$`, `\s+(?!\S)` (all but
        // the last character), `\s+`.
        let (mut e, mut last, mut chars, mut newline_end) = (p, p, 0, None);
        while let Some(c) = self.at(e)? {
            if !c.is(SPACE) {
                break;
            }
            last = e;
            e += c.len;
            chars += 1;
            if c.newline() {
                newline_end = Some(e);
            }
        }
        Ok(match newline_end {
            Some(k) => k,
            None if e == self.b.len() => e,
            None if chars >= 2 => last,
            None => e,
        })
    }
}

/// `o200k_base`: `lead? [UPPER]* [LOWER]+ contraction?`, else `lead? [UPPER]+ [LOWER]*
/// contraction?`, else the shared rules.
fn o200k(t: &Text, p: usize) -> Result<usize, Undecided> {
    if let Some(end) = ascii_word(t, p, Encoding::O200kBase) {
        return Ok(end);
    }
    let Some(c0) = t.at(p)? else {
        return Ok(p);
    };
    if c0.lead() && c0.is(UPPER | LOWER) {
        // A leading mark: the pattern would also try it as the word's first letter.
        return Err(Undecided);
    }
    let s = if c0.lead() { p + c0.len } else { p };
    let upper = t.run(s, |c| c.is(UPPER))?;
    let lower = t.run(upper, |c| c.is(LOWER))?;
    let word_end = if lower > upper {
        Some(lower)
    } else {
        // `[UPPER]*` gives characters back until `[LOWER]+` can take one: the last
        // character of the upper run that is also lower (the next one is not).
        let mut end = None;
        let mut i = s;
        while i < upper {
            let c = t.at(i)?.ok_or(Undecided)?;
            i += c.len;
            if c.is(LOWER) {
                end = Some(i);
            }
        }
        // Failing that, the second alternative: the upper run itself.
        end.or((upper > s).then_some(upper))
    };
    match word_end {
        Some(e) => Ok(t.contraction(e)?.unwrap_or(e)),
        None => t.rest(p, c0, |c| c.newline() || c.ascii == b'/'),
    }
}

/// `cl100k_base`: a contraction, else `lead? \p{L}+`, else the shared rules.
fn cl100k(t: &Text, p: usize) -> Result<usize, Undecided> {
    let Some(c0) = t.at(p)? else {
        return Ok(p);
    };
    if let Some(e) = t.contraction(p)? {
        return Ok(e);
    }
    if let Some(end) = ascii_word(t, p, Encoding::Cl100kBase) {
        return Ok(end);
    }
    let s = if c0.lead() { p + c0.len } else { p };
    let e = t.run(s, |c| c.is(LETTER))?;
    if e > s {
        return Ok(e);
    }
    t.rest(p, c0, Ch::newline)
}

// ---------------------------------------------------------------------------------------
// The fast path: a word of ASCII letters after at most one ASCII lead character, its runs
// of letters found 8 bytes at a time. The rules above step through a word character by
// character, and where a word ends is a branch the CPU guesses wrong about once per word;
// here the end is found by arithmetic. Whatever this cannot decide from ASCII alone (a
// non-ASCII character next to the word, a digit or a line break first, no letter at all)
// is left to the rules, from the same position.

/// The high bit of every byte.
const HIGH: u64 = 0x8080_8080_8080_8080;
/// Each byte: 1.
const ONES: u64 = 0x0101_0101_0101_0101;

/// The high bit of each byte of `v7` (bytes below 0x80) in `lo..=hi`. Adding `0x80 - lo`
/// sets a byte's high bit exactly when it is at least `lo`, and no byte carries into the
/// next.
#[inline(always)]
fn in_range(v7: u64, lo: u8, hi: u8) -> u64 {
    let at_least_lo = v7.wrapping_add(ONES * u64::from(0x80 - lo));
    let above_hi = v7.wrapping_add(ONES * u64::from(0x7F - hi));
    at_least_lo & !above_hi & HIGH
}

/// ASCII upper-case letters (`o200k`'s `[UPPER]` within ASCII).
fn ascii_upper(v7: u64) -> u64 {
    in_range(v7, b'A', b'Z')
}

/// ASCII lower-case letters (`o200k`'s `[LOWER]` within ASCII).
fn ascii_lower(v7: u64) -> u64 {
    in_range(v7, b'a', b'z')
}

/// ASCII letters (`\p{L}` within ASCII).
fn ascii_letter(v7: u64) -> u64 {
    ascii_upper(v7) | ascii_lower(v7)
}

/// Where the run of bytes in `class` from `i` ends, if that is decided by ASCII alone:
/// `None` when a non-ASCII character ends it (it may belong to the class).
#[inline(always)]
fn ascii_run(b: &[u8], mut i: usize, class: impl Fn(u64) -> u64) -> Option<usize> {
    while let Some(w) = b.get(i..i + 8) {
        let v = u64::from_le_bytes(w.try_into().expect("8 bytes"));
        let high = v & HIGH;
        let stop = !class(v & !HIGH) & HIGH | high;
        if stop == 0 {
            i += 8;
            continue;
        }
        let k = stop.trailing_zeros() as usize / 8;
        return (high >> (k * 8) & 0x80 == 0).then_some(i + k);
    }
    while let Some(&c) = b.get(i) {
        if c >= 0x80 {
            return None;
        }
        if class(u64::from(c)) == 0 {
            return Some(i);
        }
        i += 1;
    }
    Some(i)
}

/// The end of the word at `p` in `enc`, when it is ASCII letters after at most one ASCII
/// lead character and the characters around it are ASCII; else `None`.
#[inline(always)]
fn ascii_word(t: &Text, p: usize, enc: Encoding) -> Option<usize> {
    let b0 = *t.b.get(p)?;
    if b0 >= 0x80 || b0 == b'\r' || b0 == b'\n' || b0.is_ascii_digit() {
        return None;
    }
    let s = if b0.is_ascii_alphabetic() { p } else { p + 1 };
    let end = match enc {
        Encoding::O200kBase => {
            // `[UPPER]*[LOWER]+`, else `[UPPER]+[LOWER]*`: no ASCII upper-case letter is
            // also lower-case, so the first alternative never gives letters back.
            let upper = ascii_run(t.b, s, ascii_upper)?;
            let lower = ascii_run(t.b, upper, ascii_lower)?;
            if lower == s {
                return None;
            }
            t.contraction(lower).ok()?.unwrap_or(lower)
        }
        Encoding::Cl100kBase => {
            let end = ascii_run(t.b, s, ascii_letter)?;
            if end == s {
                return None;
            }
            end
        }
    };
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pieces of both splitters, for a message that shows where they part.
    fn check(text: &str) {
        for enc in [Encoding::O200kBase, Encoding::Cl100kBase] {
            let ours: Vec<&str> = split(text, enc).collect();
            let theirs: Vec<&str> = enc.tokenizer().split(text).collect();
            assert_eq!(ours, theirs, "{enc:?} on {text:?}");
        }
    }

    #[test]
    fn hand_picked_texts_split_as_the_regex_does() {
        for t in [
            "",
            "Hello world",
            "HELLOworld HelloWorld ABC's I'LL we're they've she'd don't",
            "'s 'sorry 'T 're 'rx 'l 'll 'LLx ''",
            "  two spaces\tand\t\ttabs   \n\n  \r\n x  ",
            "1234567 12a3 x1 3.14159 2024-03-10T07:30:00Z",
            "... ?!x ,hello (Hello) [ABC] {x} a/b//c\n/\n//\r\n",
            "end with spaces   ",
            "end with newline\n",
            " ",
            "\n",
            "\x00\x01\x7f controls\x0b\x0c",
            "naïve café — “quoted” 日本語 🙂 emoji\u{a0}nbsp x\u{2003}y",
            "mixed ASCIIé and éASCII, 'é 'sé ²3 ٣4",
            "def f(x):\n    return x ** 2  # square\n\n\n",
        ] {
            check(t);
        }
    }

    #[test]
    fn generated_texts_split_as_the_regex_does() {
        // Every class the patterns tell apart, including non-ASCII letters, marks, digits
        // and spaces next to ASCII ones.
        let atoms = [
            "a",
            "Z",
            "word",
            "Word",
            "WORD",
            "resistances",
            "TRANSISTORS",
            "McDonaldsXY",
            "'",
            "'s",
            "'S",
            "'re",
            "'ll",
            "'d",
            "'v",
            "1",
            "12",
            "1234",
            ".",
            "/",
            "!?",
            "-",
            "_",
            " ",
            "  ",
            "\t",
            "\n",
            "\r\n",
            "\x0b",
            "\x00",
            "é",
            "É",
            "ß",
            "\u{301}",
            "日",
            "٣",
            "²",
            "\u{a0}",
            "\u{2003}",
            "🙂",
            "—",
            "“",
            "ſ",
            "K",
            "\u{2028}",
            "\u{85}",
            "ʰ",
            "ǅ",
            "Ⅻ",
            "\u{fe0f}",
            "\u{1f3fb}",
            "𠀀",
            "\u{e0061}",
            "ａ",
            "Ａ",
            "\u{3000}",
            "'\u{301}",
            "x\u{301}",
        ];
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..50_000 {
            let len = (next() % 12) as usize;
            let text: String = (0..len)
                .map(|_| atoms[(next() % atoms.len() as u64) as usize])
                .collect();
            check(&text);
        }
    }
}
