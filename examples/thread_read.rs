//! Times `chatql serve`'s thread reads straight from a lake: the whole thread, the page, and
//! each column alone (docs/performance.md). `cargo run --release --example thread_read LAKE ID...`
use std::time::Instant;

use chatql::lake::LakeSnapshot;
use chatql::model::Zone;
use chatql::serve::rows::RowIndex;
use chatql::serve::thread::{Source, Thread};

fn main() {
    let lake = std::env::args().nth(1).expect("LAKE");
    let ids: Vec<String> = std::env::args().skip(2).collect();
    let t = Instant::now();
    let snap = LakeSnapshot::load(std::path::Path::new(&lake), None).unwrap();
    let index = RowIndex::build(&snap).unwrap();
    eprintln!("index {:.2?}", t.elapsed());
    let rt = tokio::runtime::Runtime::new().unwrap();
    for round in 0..3 {
        let t = Instant::now();
        for id in &ids {
            let th = rt
                .block_on(Thread::load(&Source::Lake(&index, Zone::UTC), id, None))
                .unwrap();
            assert!(th.is_some());
        }
        eprintln!(
            "round {round}: {:.2?} per thread",
            t.elapsed() / ids.len() as u32
        );
        let threads: Vec<Thread> = ids
            .iter()
            .map(|id| {
                rt.block_on(Thread::load(&Source::Lake(&index, Zone::UTC), id, None))
                    .unwrap()
                    .unwrap()
            })
            .collect();
        let t = Instant::now();
        let mut bytes = 0;
        for th in &threads {
            let near = chatql::serve::pages::Neighbours {
                list: String::new(),
                prev: None,
                next: None,
            };
            bytes += chatql::serve::pages::thread(th, &[], &near, "").len();
        }
        eprintln!(
            "  page: {:.2?} per thread ({} KB each)",
            t.elapsed() / ids.len() as u32,
            bytes / ids.len() / 1024
        );
        for (k, cols) in [
            (0, &["name"][..]),
            (0, &["created_at"][..]),
            (1, &["message_index"][..]),
            (1, &["content"][..]),
            (2, &["message_index"][..]),
            (2, &["text"][..]),
            (2, &["readable_filename"][..]),
        ] {
            let t = Instant::now();
            let mut rows = 0;
            for id in &ids {
                rows += index
                    .read(k, id, cols)
                    .unwrap()
                    .iter()
                    .map(|b| b.num_rows())
                    .sum::<usize>();
            }
            eprintln!(
                "  table {k} {cols:?}: {:.2?} per thread ({rows} rows)",
                t.elapsed() / ids.len() as u32
            );
        }
    }
}
