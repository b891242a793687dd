//! Decoder throughput per record kind (MB/s of input), the Parquet writer (rows of each
//! table encoded and compressed as a lake file, at the lake's zstd level and uncompressed as
//! a partitioned run's stage), and SQL over a converted folder.
//! Run by hand: `cargo bench --bench decode`. Inputs are generated with a fixed seed.

use std::sync::Arc;

use chatql::ingest::Decoder;
#[path = "synthetic/mod.rs"]
#[allow(dead_code)]
mod synthetic;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use synthetic::{write_conversations, write_documents, ConvoLayout};

fn decode_all(bytes: &[u8]) -> usize {
    let mut d = Decoder::new(Arc::from("bench"), 1, 0);
    d.finish(bytes);
    d.take_batches().iter().map(|(_, b)| b.num_rows()).sum()
}

fn decoder(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    g.sample_size(10);
    for (name, layout) in [
        ("conversations_r", ConvoLayout::Rows),
        ("conversations_c", ConvoLayout::Objects),
    ] {
        let mut bytes = Vec::new();
        write_conversations(&mut bytes, 32 << 20, 1, layout).unwrap();
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function(name, |b| b.iter(|| decode_all(&bytes)));
    }
    let mut docs = Vec::new();
    write_documents(&mut docs, 32 << 20, 1, 1536).unwrap();
    g.throughput(Throughput::Bytes(docs.len() as u64));
    g.bench_function("documents_1536d", |b| b.iter(|| decode_all(&docs)));
    g.finish();
}

fn writer(c: &mut Criterion) {
    let mut bytes = Vec::new();
    write_conversations(&mut bytes, 32 << 20, 1, ConvoLayout::Rows).unwrap();
    let mut d = Decoder::new(Arc::from("bench"), 1, 0);
    d.finish(&bytes);
    let batches = d.take_batches();
    let dir = tempfile::tempdir().unwrap();
    let mut g = c.benchmark_group("write_parquet");
    g.sample_size(10);
    // Throughput in bytes of JSON input whose rows are written.
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    for (name, props) in [
        ("zstd3", chatql::lake::parquet::writer_props(3).unwrap()),
        ("stage_uncompressed", chatql::lake::parquet::staging_props()),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                for (table, batch) in &batches {
                    let path = dir.path().join(table.file_name());
                    let mut w = chatql::lake::parquet::TableWriter::create(
                        &path,
                        *table,
                        props.clone(),
                        None,
                    )
                    .unwrap();
                    w.write(batch, &path).unwrap();
                    w.close(&path).unwrap();
                }
            })
        });
    }
    g.finish();
}

fn sql(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("convos.jsonl");
    let mut f = std::fs::File::create(&input).unwrap();
    write_conversations(&mut f, 64 << 20, 1, ConvoLayout::Rows).unwrap();
    let lake = dir.path().join("lake");
    let mut opts = chatql::lake::convert::ConvertOptions::new(&lake);
    opts.ingest.threads = 2;
    chatql::lake::convert::convert(&[input.to_string_lossy().into_owned()], &opts).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let args = [lake.to_string_lossy().into_owned()];
    let mut g = c.benchmark_group("sql_on_parquet");
    g.sample_size(10);
    for (name, q) in [
        ("count_contexts", "select count(*) from contexts"),
        (
            "activity_per_month",
            chatql::report::BUILTIN[1].1.split(';').next().unwrap(),
        ),
        (
            "top_documents",
            "select readable_filename, count(*) from contexts group by 1 order by 2 desc limit 20",
        ),
        (
            "turns",
            "select course_name, count(*), sum(context_count) from turns group by 1",
        ),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(async {
                    let mut cat = chatql::query::Catalog::open(&args, &Default::default())
                        .await
                        .unwrap();
                    cat.run_sql(q).await.unwrap().len()
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, decoder, writer, sql);
criterion_main!(benches);
