#!/usr/bin/env bash
# Local against Ballista cluster on one machine, and DuckDB on the same partitioned lake, in
# one run: wall time and peak RSS. Run by hand (takes a few minutes):
#
#   benches/cluster.sh            # SIZE=500M THREADS=2 BENCH_DIR=/tmp/chatql-bench
#
# The cluster is one scheduler and one executor with THREADS task slots on loopback: on one
# machine it measures what distribution costs, not what more machines gain.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
SIZE=${SIZE:-500M}
DIR=${BENCH_DIR:-/tmp/chatql-bench}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/chatql-target}
cargo build --release --quiet --features cluster --bin chatql --example generate
BIN=$CARGO_TARGET_DIR/release/chatql
GEN=$CARGO_TARGET_DIR/release/examples/generate
mkdir -p "$DIR"
[ -f "$DIR/convos.jsonl" ] || "$GEN" conversations "$SIZE" "$DIR/convos.jsonl" --seed 1
VENV=$DIR/venv
[ -x "$VENV/bin/python" ] || { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q duckdb; }
PY=$VENV/bin/python

measure() { # CMD...: prints "seconds peak_kib"
  /usr/bin/time -f "%e %M" -o "$DIR/time.txt" "$@" >/dev/null 2>"$DIR/err.txt" || { cat "$DIR/err.txt" >&2; exit 1; }
  cat "$DIR/time.txt"
}
best() { # CMD...: the fastest of three runs, "seconds peak_kib"
  local a b c
  a=$(measure "$@"); b=$(measure "$@"); c=$(measure "$@")
  printf '%s\n%s\n%s\n' "$a" "$b" "$c" | sort -n | head -n 1
}
fmt() { awk '{printf "%.2f s, %.0f MiB", $1, $2/1024}' <<<"$1"; }
ratio() { awk -v a="${1% *}" -v b="${2% *}" 'BEGIN {printf "%.2fx", a/(b>0?b:0.01)}'; }

echo "machine: $(nproc) cores; $("$BIN" --version); duckdb $("$PY" -c 'import duckdb; print(duckdb.__version__)'); threads $THREADS"
echo "input: convos.jsonl $(du -h "$DIR/convos.jsonl" | cut -f1)"
rm -rf "$DIR/lake-flat" "$DIR/lake-part"
flat=$(measure "$BIN" convert "$DIR/convos.jsonl" -o "$DIR/lake-flat" --threads "$THREADS" -q)
part=$(measure "$BIN" convert "$DIR/convos.jsonl" -o "$DIR/lake-part" --partition-by course,month --threads "$THREADS" -q)
again=$(measure "$BIN" convert "$DIR/convos.jsonl" -o "$DIR/lake-part" --append --threads "$THREADS" -q)
echo "convert flat: $(fmt "$flat"); partitioned: $(fmt "$part") ($(ratio "$part" "$flat") of flat, $(find "$DIR/lake-part" -name '*.parquet' | wc -l) files); append of the same export again (nothing new): $(fmt "$again")"

port=$((20000 + RANDOM % 20000))
"$BIN" cluster scheduler --bind "127.0.0.1:$port" 2>"$DIR/scheduler.log" &
sched=$!
sleep 1
"$BIN" cluster executor --scheduler "127.0.0.1:$port" --bind "127.0.0.1:$((port + 1))" \
  --grpc-port $((port + 2)) --cores "$THREADS" 2>"$DIR/executor.log" &
exe=$!
trap 'kill $sched $exe 2>/dev/null' EXIT
sleep 2
REMOTE="--remote df://127.0.0.1:$port"

echo
echo "| job (partitioned lake) | local | cluster | cluster/local | DuckDB | local/DuckDB |"
echo "|---|---|---|---|---|---|"
for q in count_contexts activity_per_month top_documents feedback_by_model course_contexts; do
  case $q in
    count_contexts) sql="select count(*) from contexts" ;;
    activity_per_month) sql="select to_char(date_trunc('month', c.created_at), '%Y-%m') as month, count(distinct c.convo_id), count(m.message_index), count(distinct c.user_email) from conversations c left join messages m on m.convo_id = c.convo_id where c.created_at is not null group by 1 order by 1" ;;
    top_documents) sql="select readable_filename, count(*) from contexts group by 1 order by 2 desc limit 20" ;;
    feedback_by_model) sql="select coalesce(c.model_id, '(unknown)'), sum(case when m.feedback_positive then 1 else 0 end), sum(case when not m.feedback_positive then 1 else 0 end) from messages m join conversations c on c.convo_id = m.convo_id where m.feedback_positive is not null group by 1 order by 1" ;;
    course_contexts) sql="select count(*) from contexts where course = 'course03'" ;;
  esac
  l=$(best "$BIN" sql "$sql" "$DIR/lake-part" --threads "$THREADS" --format csv)
  # shellcheck disable=SC2086
  c=$(best "$BIN" sql "$sql" "$DIR/lake-part" --threads "$THREADS" --format csv $REMOTE)
  d=$(best "$PY" benches/duckdb_jobs.py query-hive "$DIR/lake-part" "$THREADS" "$q")
  echo "| sql $q | $(fmt "$l") | $(fmt "$c") | $(ratio "$c" "$l") | $(fmt "$d") | $(ratio "$l" "$d") |"
done
l=$(best "$BIN" report "$DIR/lake-part" --threads "$THREADS" --format json)
# shellcheck disable=SC2086
c=$(best "$BIN" report "$DIR/lake-part" --threads "$THREADS" --format json $REMOTE)
echo "| report (all 8, 27 sections) | $(fmt "$l") | $(fmt "$c") | $(ratio "$c" "$l") | | |"
l=$(best "$BIN" report "$DIR/lake-part" --threads "$THREADS" --format json --course course03 --since 2024-06-01)
# shellcheck disable=SC2086
c=$(best "$BIN" report "$DIR/lake-part" --threads "$THREADS" --format json --course course03 --since 2024-06-01 $REMOTE)
f=$(best "$BIN" report "$DIR/lake-flat" --threads "$THREADS" --format json --course course03 --since 2024-06-01)
echo "| report, one course since 2024-06 | $(fmt "$l") | $(fmt "$c") | $(ratio "$c" "$l") | | |"
echo
echo "the same restricted report on the flat lake: $(fmt "$f") (partitioned/flat $(ratio "$l" "$f"))"
echo "executor peak RSS: $(awk '/VmHWM/ {printf "%.0f MiB", $2/1024}' /proc/$exe/status); scheduler: $(awk '/VmHWM/ {printf "%.0f MiB", $2/1024}' /proc/$sched/status)"
