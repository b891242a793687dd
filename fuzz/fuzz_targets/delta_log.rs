//! Any bytes as a table's Delta log: file names and commit files, possibly damaged. Reading
//! them is an error or a snapshot, never a panic; chatql's record in a commit info too.
#![no_main]

use std::path::Path;

use chatql::lake::delta::action::decode;
use chatql::lake::delta::log::{versions_of, Snapshot};
use chatql::lake::record::LakeCommit;
use chatql::Error;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = Path::new("t/_delta_log");
    // The first line is a listing of file names, the rest commit files split at 0xFF.
    let (names, rest) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let names = String::from_utf8_lossy(names);
    let _ = versions_of(dir, names.split(' '));
    let commits: Vec<_> = rest
        .split(|&b| b == 0xFF)
        .map(|c| decode(&String::from_utf8_lossy(c)).map_err(|(_, e)| Error::read("t", e)))
        .collect();
    for c in commits.iter().flatten().flatten() {
        if let chatql::lake::delta::Action::CommitInfo(info) = c {
            let _ = LakeCommit::of(info);
        }
    }
    let target = commits.len().saturating_sub(1) as u64;
    if let Ok(s) = Snapshot::replay(dir, target, commits.into_iter()) {
        for add in &s.files {
            let _ = s.file_path(add);
        }
    }
});
