//! Growable, truncatable column buffers that turn into Arrow arrays.
//!
//! Arrow's own builders cannot shrink, but the decoder appends a line's rows straight into
//! the columns while it parses and must take them back out when the line later turns out to
//! be unreadable (it goes to `rejects` instead). These buffers are plain `Vec`s with a
//! `truncate`, handed to Arrow without copying when a batch is cut.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Float32Array, Float64Array, Int32Array, Int64Array, ListArray,
    StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::buffer::{BooleanBuffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use datafusion::arrow::datatypes::{DataType, Field, TimeUnit};

/// Validity bits kept as bytes until the batch is cut; `nulls` counts the false entries so
/// that a column without nulls gets no bitmap at all.
#[derive(Default, Debug)]
struct Validity {
    bits: Vec<bool>,
    nulls: usize,
}

impl Validity {
    fn push(&mut self, valid: bool) {
        self.bits.push(valid);
        self.nulls += usize::from(!valid);
    }
    fn truncate(&mut self, len: usize) {
        if len < self.bits.len() {
            self.nulls -= self.bits[len..].iter().filter(|v| !**v).count();
            self.bits.truncate(len);
        }
    }
    fn take(&mut self) -> Option<NullBuffer> {
        let bits = std::mem::take(&mut self.bits);
        let nulls = std::mem::replace(&mut self.nulls, 0);
        (nulls > 0).then(|| NullBuffer::new(BooleanBuffer::from(bits)))
    }
    fn len(&self) -> usize {
        self.bits.len()
    }
}

/// A column of a table: knows its Arrow type and how to give its rows up as an array.
pub trait Column: Default {
    /// The Arrow type of the finished array.
    fn data_type() -> DataType;
    /// Rows appended so far.
    fn len(&self) -> usize;
    /// Whether no row was appended.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Drops rows past `len` (used to undo a rejected line).
    fn truncate(&mut self, len: usize);
    /// Appends a null row.
    fn push_null(&mut self);
    /// Moves the rows out as an Arrow array, leaving the column empty.
    fn finish(&mut self) -> ArrayRef;
}

/// The capacity a column's buffer starts the next batch with, from the length the last one
/// reached: a decoder that is reused (one per decode thread) then fills its buffers without
/// growing them. Growing by doubling copied every large buffer several times and touched
/// fresh pages each time: the kernel zeroing them was a fifth of a conversion's CPU. The
/// reserve is not touched until rows fill it, so it costs address space, not memory.
fn next(len: usize) -> usize {
    len + len / 8
}

/// The offsets vector of the next batch (its leading 0 pushed), sized like [`next`].
fn next_offsets(len: usize) -> Vec<i32> {
    let mut v = Vec::with_capacity(next(len));
    v.push(0);
    v
}

/// UTF-8 strings (`Utf8`).
#[derive(Debug)]
pub struct StrCol {
    offsets: Vec<i32>,
    data: String,
    valid: Validity,
}

impl Default for StrCol {
    fn default() -> Self {
        StrCol {
            offsets: vec![0],
            data: String::new(),
            valid: Validity::default(),
        }
    }
}

/// An Arrow offset (i32) of a column `len` long. A batch is one input chunk (2 MiB) and
/// at most one record (`--max-record-size`, at most [`MAX_RECORD_BYTES`]), so this never
/// fails in practice; if it did, the checked conversion stops the decoder (whose panic
/// becomes an error naming the input and line) rather than wrapping into offsets that
/// Arrow would read out of bounds.
fn offset(len: usize) -> i32 {
    i32::try_from(len).expect("a column of one batch passed 2 GiB (Arrow's i32 offsets)")
}

/// The longest record a batch may hold with its chunk without passing Arrow's 2 GiB of
/// offsets in one column: the bound of `--max-record-size`.
pub const MAX_RECORD_BYTES: usize = 1 << 30;

impl StrCol {
    /// Appends a string row.
    pub fn push(&mut self, s: &str) {
        self.data.push_str(s);
        self.end_row(true);
    }
    /// Appends an optional string row.
    pub fn push_opt(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.push(s),
            None => self.push_null(),
        }
    }
    /// Gives write access to the bytes of the row being built; call [`StrCol::end_row`] after.
    pub fn buf(&mut self) -> &mut String {
        &mut self.data
    }
    /// Closes the row whose bytes were written through [`StrCol::buf`].
    pub fn end_row(&mut self, valid: bool) {
        self.offsets.push(offset(self.data.len()));
        self.valid.push(valid);
    }
    /// The string of row `i`, if not null.
    pub fn get(&self, i: usize) -> Option<&str> {
        if !self.valid.bits[i] {
            return None;
        }
        Some(&self.data[self.offsets[i] as usize..self.offsets[i + 1] as usize])
    }
}

impl Column for StrCol {
    fn data_type() -> DataType {
        DataType::Utf8
    }
    fn len(&self) -> usize {
        self.valid.len()
    }
    fn truncate(&mut self, len: usize) {
        // Also drops bytes written through `buf` for a row that was never closed.
        let len = len.min(self.len());
        self.data.truncate(self.offsets[len] as usize);
        self.offsets.truncate(len + 1);
        self.valid.truncate(len);
    }
    fn push_null(&mut self) {
        self.end_row(false);
    }
    fn finish(&mut self) -> ArrayRef {
        let fresh = next_offsets(self.offsets.len());
        let offsets = std::mem::replace(&mut self.offsets, fresh);
        let fresh = String::with_capacity(next(self.data.len()));
        let data = std::mem::replace(&mut self.data, fresh).into_bytes();
        let nulls = self.valid.take();
        let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
        #[cfg(debug_assertions)]
        {
            // What the unchecked constructor below skips, checked in debug builds and tests.
            let checked = StringArray::try_new(offsets.clone(), data.clone().into(), nulls.clone());
            debug_assert!(checked.is_ok(), "{checked:?}");
        }
        // SAFETY: `data` was a `String`, so it is UTF-8, and every offset is its length at
        // the end of a row (`end_row`) or where `truncate` cut it back to such an end, so
        // offsets start at 0, never decrease, end at `data.len()` and fall on char
        // boundaries; `nulls` has one bit per row. (Validating the UTF-8 again was 9% of a
        // conversion's CPU time.)
        Arc::new(unsafe { StringArray::new_unchecked(offsets, data.into(), nulls) })
    }
}

/// Fixed-width values with a validity bit.
#[derive(Debug)]
pub struct PrimCol<T> {
    values: Vec<T>,
    valid: Validity,
}

impl<T> Default for PrimCol<T> {
    fn default() -> Self {
        PrimCol {
            values: Vec::new(),
            valid: Validity::default(),
        }
    }
}

impl<T: Copy + Default> PrimCol<T> {
    /// Appends a value row.
    pub fn push(&mut self, v: T) {
        self.values.push(v);
        self.valid.push(true);
    }
    /// Appends an optional value row.
    pub fn push_opt(&mut self, v: Option<T>) {
        match v {
            Some(v) => self.push(v),
            None => {
                self.values.push(T::default());
                self.valid.push(false);
            }
        }
    }
    /// The value of row `i`, if not null.
    pub fn get(&self, i: usize) -> Option<T> {
        self.valid.bits[i].then(|| self.values[i])
    }
    fn take_parts(&mut self) -> (Vec<T>, Option<NullBuffer>) {
        (std::mem::take(&mut self.values), self.valid.take())
    }
}

macro_rules! prim_column {
    ($t:ty, $array:ty, $dt:expr) => {
        impl Column for PrimCol<$t> {
            fn data_type() -> DataType {
                $dt
            }
            fn len(&self) -> usize {
                self.valid.len()
            }
            fn truncate(&mut self, len: usize) {
                self.values.truncate(len);
                self.valid.truncate(len);
            }
            fn push_null(&mut self) {
                self.push_opt(None);
            }
            fn finish(&mut self) -> ArrayRef {
                let (values, nulls) = self.take_parts();
                Arc::new(<$array>::new(ScalarBuffer::from(values), nulls))
            }
        }
    };
}

prim_column!(i64, Int64Array, DataType::Int64);
prim_column!(i32, Int32Array, DataType::Int32);
prim_column!(f64, Float64Array, DataType::Float64);

/// Microseconds since the epoch, UTC.
#[derive(Debug, Default)]
pub struct TsCol(pub PrimCol<i64>);

impl Column for TsCol {
    fn data_type() -> DataType {
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn truncate(&mut self, len: usize) {
        self.0.truncate(len)
    }
    fn push_null(&mut self) {
        self.0.push_null()
    }
    fn finish(&mut self) -> ArrayRef {
        let (values, nulls) = self.0.take_parts();
        Arc::new(
            TimestampMicrosecondArray::new(ScalarBuffer::from(values), nulls).with_timezone("UTC"),
        )
    }
}

impl TsCol {
    /// Appends an optional timestamp in microseconds.
    pub fn push_opt(&mut self, v: Option<i64>) {
        self.0.push_opt(v)
    }
    /// The value of row `i`, if not null.
    pub fn get(&self, i: usize) -> Option<i64> {
        self.0.get(i)
    }
}

/// Booleans with a validity bit.
#[derive(Debug, Default)]
pub struct BoolCol(PrimCol<bool>);

impl BoolCol {
    /// Appends an optional boolean.
    pub fn push_opt(&mut self, v: Option<bool>) {
        self.0.push_opt(v)
    }
}

impl Column for BoolCol {
    fn data_type() -> DataType {
        DataType::Boolean
    }
    fn len(&self) -> usize {
        self.0.valid.len()
    }
    fn truncate(&mut self, len: usize) {
        self.0.values.truncate(len);
        self.0.valid.truncate(len);
    }
    fn push_null(&mut self) {
        self.0.push_opt(None)
    }
    fn finish(&mut self) -> ArrayRef {
        let (values, nulls) = self.0.take_parts();
        Arc::new(BooleanArray::new(BooleanBuffer::from(values), nulls))
    }
}

/// The items of a list column: what [`ListCol`] needs of the buffer of its values.
pub trait Items: Default {
    /// The items' Arrow type.
    fn item_type() -> DataType;
    /// Items held.
    fn count(&self) -> usize;
    /// Drops items past `len`.
    fn cut(&mut self, len: usize);
    /// Moves the items out as an Arrow array, leaving the buffer empty.
    fn take(&mut self) -> ArrayRef;
}

impl Items for Vec<f32> {
    fn item_type() -> DataType {
        DataType::Float32
    }
    fn count(&self) -> usize {
        self.len()
    }
    fn cut(&mut self, len: usize) {
        self.truncate(len)
    }
    fn take(&mut self) -> ArrayRef {
        let fresh = Vec::with_capacity(next(self.len()));
        let values = std::mem::replace(self, fresh);
        Arc::new(Float32Array::new(ScalarBuffer::from(values), None))
    }
}

impl Items for StrCol {
    fn item_type() -> DataType {
        DataType::Utf8
    }
    fn count(&self) -> usize {
        self.len()
    }
    fn cut(&mut self, len: usize) {
        self.truncate(len)
    }
    fn take(&mut self) -> ArrayRef {
        self.finish()
    }
}

/// A list column (`List<Float32>` embeddings, `List<Utf8>` doc_groups): offsets, a
/// validity bit per row, and the items of every row in one buffer.
#[derive(Debug)]
pub struct ListCol<V> {
    offsets: Vec<i32>,
    values: V,
    valid: Validity,
}

/// `List<Float32>`: embeddings.
pub type F32ListCol = ListCol<Vec<f32>>;
/// `List<Utf8>`: `doc_groups`.
pub type StrListCol = ListCol<StrCol>;

impl<V: Items> Default for ListCol<V> {
    fn default() -> Self {
        ListCol {
            offsets: vec![0],
            values: V::default(),
            valid: Validity::default(),
        }
    }
}

impl<V: Items> ListCol<V> {
    /// Closes the row whose items were appended since the last row.
    pub fn end_row(&mut self, valid: bool) {
        self.offsets.push(offset(self.values.count()));
        self.valid.push(valid);
    }
    /// Drops items appended for a row that is then abandoned.
    pub fn discard_open_row(&mut self) {
        let start = *self.offsets.last().unwrap_or(&0) as usize;
        self.values.cut(start);
    }
}

impl F32ListCol {
    /// The buffer the row being built appends its values to; close it with `end_row`.
    pub fn values(&mut self) -> &mut Vec<f32> {
        &mut self.values
    }
}

impl StrListCol {
    /// Appends one item to the row being built; close it with `end_row`.
    pub fn push_item(&mut self, s: &str) {
        self.values.push(s)
    }
}

impl<V: Items> Column for ListCol<V> {
    fn data_type() -> DataType {
        DataType::List(Arc::new(Field::new("item", V::item_type(), false)))
    }
    fn len(&self) -> usize {
        self.valid.len()
    }
    fn truncate(&mut self, len: usize) {
        // Also drops items appended for a row that was never closed.
        let len = len.min(self.len());
        self.values.cut(self.offsets[len] as usize);
        self.offsets.truncate(len + 1);
        self.valid.truncate(len);
    }
    fn push_null(&mut self) {
        self.end_row(false)
    }
    fn finish(&mut self) -> ArrayRef {
        let fresh = next_offsets(self.offsets.len());
        let offsets = std::mem::replace(&mut self.offsets, fresh);
        let field = Arc::new(Field::new("item", V::item_type(), false));
        Arc::new(ListArray::new(
            field,
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            self.values.take(),
            self.valid.take(),
        ))
    }
}
