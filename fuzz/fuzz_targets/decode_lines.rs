//! Any bytes, cut at an arbitrary point into two reads: the decoder must not panic, every
//! line is counted, and the rejects it counts are the rows it made.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut d = chatql::ingest::Decoder::new("fuzz".into(), 1, 0);
    let cut = data.first().map_or(0, |b| usize::from(*b) % data.len().max(1));
    let used = d.decode(&data[..cut]);
    let mut rest = data[used..cut].to_vec();
    rest.extend_from_slice(&data[cut..]);
    d.finish(&rest);
    let stats = d.stats();
    let lines = if data.is_empty() {
        0
    } else {
        data.split(|b| *b == b'\n').count() as u64 - u64::from(data.ends_with(b"\n"))
    };
    assert_eq!(stats.lines, lines);
    let rejects: usize = d
        .take_batches()
        .iter()
        .filter(|(t, _)| *t == chatql::table::Table::Rejects)
        .map(|(_, b)| b.num_rows())
        .sum();
    assert_eq!(rejects as u64, stats.rejects);
});
