#!/usr/bin/env bash
# What `chatql topics` costs at scale: 100,000 questions with 10 contexts each and a
# 50,400-chunk document export (1536-d), planted in 12 topics; wall time and peak RSS on
# the raw exports and on a converted lake, and the adjusted Rand index of the assignments
# against the planted topics. Run by hand:
#
#   benches/topics.sh            # QUESTIONS=100000 THREADS=2 BENCH_DIR=/tmp/chatql-topics
set -euo pipefail
cd "$(dirname "$0")/.."
QUESTIONS=${QUESTIONS:-100000}
DIR=${BENCH_DIR:-/tmp/chatql-topics}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/chatql-target}
cargo build --release --quiet --bin chatql --example generate
BIN=$CARGO_TARGET_DIR/release/chatql
GEN=$CARGO_TARGET_DIR/release/examples/generate
mkdir -p "$DIR"
[ -f "$DIR/convos.jsonl" ] || "$GEN" topics "$QUESTIONS" "$DIR/convos.jsonl" "$DIR/docs.jsonl" \
  --topics 12 --chunks 4200 --seed 1
[ -d "$DIR/lake" ] || "$BIN" convert "$DIR/convos.jsonl" "$DIR/docs.jsonl" -o "$DIR/lake" -q
measure() {
  /usr/bin/time -f "%e %M" -o "$DIR/time.txt" "$@" >/dev/null 2>"$DIR/err.txt" || { cat "$DIR/err.txt" >&2; exit 1; }
  awk '{printf "%7.2f s | %6.0f MiB", $1, $2/1024}' "$DIR/time.txt"
}
echo "machine: $(nproc) cores; $("$BIN" --version); conversations $(du -h "$DIR/convos.jsonl" | cut -f1), documents $(du -h "$DIR/docs.jsonl" | cut -f1)"
echo
echo "| job | time | peak RSS |"
echo "|---|---|---|"
echo "| topics, raw exports, k chosen | $(measure "$BIN" topics "$DIR/convos.jsonl" "$DIR/docs.jsonl" --assignments "$DIR/a-raw.csv") |"
echo "| topics, lake, k chosen | $(measure "$BIN" topics "$DIR/lake" --assignments "$DIR/a-lake.csv") |"
echo "| topics, lake, -k 12 | $(measure "$BIN" topics "$DIR/lake" -k 12 --assignments "$DIR/a-k12.csv") |"
echo "| topics, conversations only (words), -k 12 | $(measure "$BIN" topics "$DIR/convos.jsonl" -k 12 --assignments "$DIR/a-text.csv") |"
echo
# Adjusted Rand index of each assignment file against the planted topics.
for f in a-raw a-lake a-k12 a-text; do
  python3 - "$DIR/convos.jsonl.truth.csv" "$DIR/$f.csv" "$f" <<'PY'
import csv, sys
from collections import Counter
truth = {(r["convo_id"], r["message_index"]): r["topic"] for r in csv.DictReader(open(sys.argv[1]))}
found = {(r["convo_id"], r["message_index"]): r["topic"] for r in csv.DictReader(open(sys.argv[2]))}
keys = sorted(truth)
a = [truth[k] for k in keys]; b = [found[k] for k in keys]
c2 = lambda n: n * (n - 1) / 2
cells = sum(c2(v) for v in Counter(zip(a, b)).values())
ra = sum(c2(v) for v in Counter(a).values()); rb = sum(c2(v) for v in Counter(b).values())
exp = ra * rb / c2(len(a)); mx = (ra + rb) / 2
print(f"{sys.argv[3]}: {len(a)} questions, {len(set(b))} topics, ARI {(cells - exp) / (mx - exp):.3f}")
PY
done
