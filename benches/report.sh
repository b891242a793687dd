#!/usr/bin/env bash
# What the reports cost on a big export, and how much of it is token counting: wall time and
# peak RSS of every report, of the cost report alone, of the reports without it, and of
# counting the tokens of every context text (with and without the per-text cache). Run by
# hand after benches/compare.sh made the inputs (or it makes them):
#
#   benches/report.sh             # SIZE=500M THREADS=2 BENCH_DIR=/tmp/chatql-bench
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
SIZE=${SIZE:-500M}
DIR=${BENCH_DIR:-/tmp/chatql-bench}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/chatql-target}
# PROFILE=profiling measures the build perf reads (the same code with line tables).
PROFILE=${PROFILE:-release}
cargo build --profile "$PROFILE" --quiet --bin chatql --example generate
BIN=$CARGO_TARGET_DIR/$PROFILE/chatql
GEN=$CARGO_TARGET_DIR/$PROFILE/examples/generate
mkdir -p "$DIR"
[ -f "$DIR/convos.jsonl" ] || "$GEN" conversations "$SIZE" "$DIR/convos.jsonl" --seed 1
[ -d "$DIR/lake-convos" ] || "$BIN" convert "$DIR/convos.jsonl" -o "$DIR/lake-convos" -q
measure() {
  /usr/bin/time -f "%e %M" -o "$DIR/time.txt" "$@" >/dev/null 2>"$DIR/err.txt" || { cat "$DIR/err.txt" >&2; exit 1; }
  awk '{printf "%7.2f s | %6.0f MiB", $1, $2/1024}' "$DIR/time.txt"
}
L="$DIR/lake-convos"
names=$("$BIN" report --list | awk '$1 != "cost" {print $1}')
echo "machine: $(nproc) cores; $("$BIN" --version); input $(du -hL "$DIR/convos.jsonl" | cut -f1), $(
  "$BIN" sql "select count(*) from contexts" "$L" --format csv | tail -1) contexts; threads $THREADS"
echo
echo "| job | time | peak RSS |"
echo "|---|---|---|"
echo "| every report, --tz America/Chicago | $(measure "$BIN" report "$L" --tz America/Chicago --threads "$THREADS" --format json) |"
all_but_cost=0
for n in $names; do
  t=$(/usr/bin/time -f "%e" "$BIN" report "$n" "$L" --threads "$THREADS" --format json 2>&1 >/dev/null | tail -1)
  all_but_cost=$(awk -v a="$all_but_cost" -v b="$t" 'BEGIN {print a + b}')
done
echo "| the reports but cost, one by one (sum) | $(printf '%7.2f s' "$all_but_cost") | |"
echo "| cost report | $(measure "$BIN" report cost "$L" --threads "$THREADS" --format json) |"
echo "| sql: tokens of every context text | $(measure "$BIN" sql "select sum(token_count(text)) from contexts" "$L" --threads "$THREADS") |"
echo "| sql: bytes of every context text (no tokens) | $(measure "$BIN" sql "select sum(length(text)) from contexts" "$L" --threads "$THREADS") |"
