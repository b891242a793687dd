//! Generates large synthetic exports for benchmarks, and measures the JSON validation lower
//! bound of a file.
//!
//! ```text
//! cargo run --release --example generate -- conversations 500M convos.jsonl [--seed 1] [--layout rows|objects|mixed]
//! cargo run --release --example generate -- documents 500M docs.jsonl [--seed 1]
//! cargo run --release --example generate -- validate FILE [--threads 2]
//! cargo run --release --example generate -- topics 100000 convos.jsonl docs.jsonl [--topics 12] [--chunks 4200] [--seed 1]
//! ```

use std::io::{BufWriter, Write};
use std::time::Instant;

#[path = "../benches/synthetic/mod.rs"]
#[allow(dead_code)]
mod synthetic;

use synthetic::{write_conversations, write_documents, ConvoLayout};

/// `500M`, `3G` or a byte count.
fn parse_size(s: &str) -> anyhow::Result<u64> {
    let (num, mult) = match s.chars().last() {
        Some('K' | 'k') => (&s[..s.len() - 1], 1u64 << 10),
        Some('M' | 'm') => (&s[..s.len() - 1], 1 << 20),
        Some('G' | 'g') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    Ok((num.parse::<f64>()? * mult as f64) as u64)
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: generate conversations|documents SIZE OUT [--seed N] [--layout rows|objects|mixed] | validate FILE [--threads N] | topics QUESTIONS CONVOS DOCS [--topics N] [--chunks PER_TOPIC] [--seed N]";
    let kind = args.first().ok_or_else(|| anyhow::anyhow!(usage))?;
    if kind == "validate" {
        return validate(
            args.get(1).ok_or_else(|| anyhow::anyhow!(usage))?,
            arg(&args, "--threads"),
        );
    }
    if kind == "topics" {
        let get = |i: usize| args.get(i).ok_or_else(|| anyhow::anyhow!(usage));
        let questions: usize = get(1)?.parse()?;
        let mut c = BufWriter::with_capacity(1 << 20, std::fs::File::create(get(2)?)?);
        let mut d = BufWriter::with_capacity(1 << 20, std::fs::File::create(get(3)?)?);
        let p = synthetic::topics::Planted {
            topics: arg(&args, "--topics").map_or(Ok(12), |s| s.parse())?,
            questions,
            chunks_per_topic: arg(&args, "--chunks").map_or(Ok(4200), |s| s.parse())?,
            contexts: 10,
            off_topic: 0.3,
            no_context: 0.25,
            dims: 1536,
            seed: arg(&args, "--seed").map_or(Ok(1), |s| s.parse())?,
        };
        let started = Instant::now();
        let truth = synthetic::topics::write_planted(&mut c, &mut d, &p)?;
        c.flush()?;
        d.flush()?;
        // The planted topic of each question, for scoring: CONVOS.truth.csv.
        let mut t = BufWriter::new(std::fs::File::create(format!("{}.truth.csv", get(2)?))?);
        writeln!(t, "convo_id,message_index,topic")?;
        for (id, i, topic) in &truth {
            writeln!(t, "{id},{i},{topic}")?;
        }
        t.flush()?;
        eprintln!(
            "{} questions in {} topics in {:.1} s",
            truth.len(),
            p.topics,
            started.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    let size = parse_size(args.get(1).ok_or_else(|| anyhow::anyhow!(usage))?)?;
    let out = args.get(2).ok_or_else(|| anyhow::anyhow!(usage))?;
    let seed: u64 = arg(&args, "--seed").map_or(Ok(1), |s| s.parse())?;
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(out)?);
    let started = Instant::now();
    let n = match kind.as_str() {
        "conversations" => {
            let layout = match arg(&args, "--layout").as_deref() {
                None | Some("rows") => ConvoLayout::Rows,
                Some("objects") => ConvoLayout::Objects,
                Some("mixed") => ConvoLayout::Mixed,
                Some(other) => anyhow::bail!("unknown layout {other}"),
            };
            write_conversations(&mut w, size, seed, layout)?
        }
        "documents" => write_documents(&mut w, size, seed, 1536)?,
        _ => anyhow::bail!(usage),
    };
    w.flush()?;
    eprintln!("{n} {kind} in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Reads the file and validates every line as JSON on N threads: the floor under any
/// decoder that must look at every byte.
fn validate(path: &str, threads: Option<String>) -> anyhow::Result<()> {
    let threads: usize = threads.map_or(Ok(2), |t| t.parse())?;
    let started = Instant::now();
    let bytes = std::fs::read(path)?;
    let read = started.elapsed().as_secs_f64();
    let per = bytes.len() / threads + 1;
    let mut cuts = vec![0];
    for t in 1..threads {
        let at = (t * per).min(bytes.len());
        let nl = memchr::memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |i| at + i + 1);
        cuts.push(nl.max(*cuts.last().unwrap_or(&0)));
    }
    cuts.push(bytes.len());
    let bad: usize = std::thread::scope(|s| {
        let handles: Vec<_> = cuts
            .windows(2)
            .map(|w| {
                let part = &bytes[w[0]..w[1]];
                s.spawn(move || {
                    part.split(|b| *b == b'\n')
                        .filter(|l| !l.is_empty())
                        .filter(|l| serde_json::from_slice::<serde::de::IgnoredAny>(l).is_err())
                        .count()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    let total = started.elapsed().as_secs_f64();
    println!(
        "validate: {:.1} MB in {total:.2} s (read {read:.2} s), {:.0} MB/s, {bad} invalid lines",
        bytes.len() as f64 / 1e6,
        bytes.len() as f64 / 1e6 / total
    );
    Ok(())
}
