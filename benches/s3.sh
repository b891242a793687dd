#!/usr/bin/env bash
# A lake in object storage against the same lake on disk: convert, a report and a scan,
# each timed with its peak memory, on a generated export (the one compare.sh makes), with
# an S3-compatible server on loopback (moto, from pip: an in-memory Python server, so the
# S3 figures are an upper bound of what a real store costs the client).
#
#   benches/s3.sh [SIZE]          (default 500M; needs `pip install 'moto[server]'`)
#   PROFILE=profiling benches/s3.sh
#   LATENCY_MS=20 benches/s3.sh   (reads through benches/latency_proxy.py: a network's delay
#                                  added to each request)
#   S3S_FS=/tmp/s3s/bin/s3s-fs benches/s3.sh   (a fast server instead of moto, below)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE="${1:-500M}"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/chatql-target}
# PROFILE=profiling measures the build perf reads (the same code with line tables).
PROFILE=${PROFILE:-release}
cargo build --profile "$PROFILE" --quiet --features s3 --bin chatql --example generate
BIN="$CARGO_TARGET_DIR/$PROFILE/chatql"
GEN="$CARGO_TARGET_DIR/$PROFILE/examples/generate"
WORK="${BENCH_DIR:-/tmp/chatql-bench}"
mkdir -p "$WORK"
INPUT="$WORK/convos.jsonl"
[ -s "$INPUT" ] || "$GEN" conversations "$SIZE" "$INPUT" --seed 1
"$BIN" --version >/dev/null

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# S3S_FS=/path/to/s3s-fs serves the bucket from a folder with s3s-fs (`cargo install
# s3s-fs@0.14.1 --features binary`), a Rust server fast enough that the client's own cost
# shows; moto, the default, spends ~3 ms of CPU per request and bounds cold reads.
if [ -n "${S3S_FS:-}" ]; then
  rm -rf "$WORK/s3s-root" && mkdir -p "$WORK/s3s-root/bench"
  "$S3S_FS" --host 127.0.0.1 --port "$PORT" --access-key bench --secret-key bench \
    "$WORK/s3s-root" >/dev/null 2>&1 &
else
  moto_server -H 127.0.0.1 -p "$PORT" >/dev/null 2>&1 &
fi
MOTO=$!
trap 'kill $MOTO 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -s "http://127.0.0.1:$PORT" >/dev/null && break; sleep 0.1; done
[ -n "${S3S_FS:-}" ] || curl -s -X PUT "http://127.0.0.1:$PORT/bench" >/dev/null
READ_PORT=$PORT
if [ -n "${LATENCY_MS:-}" ]; then
  READ_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  python3 benches/latency_proxy.py "$READ_PORT" "$PORT" "$LATENCY_MS" &
  PROXY=$!
  trap 'kill $MOTO $PROXY 2>/dev/null || true' EXIT
  sleep 0.5
fi
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 \
  AWS_ENDPOINT_URL="http://127.0.0.1:$PORT" AWS_ALLOW_HTTP=true AWS_EC2_METADATA_DISABLED=true

# Runs a command; prints "seconds peak_MiB".
measure() {
  local out
  /usr/bin/time -f '%e %M' -o "$WORK/s3-time.txt" "$@" >/dev/null 2>"$WORK/s3-err.txt" \
    || { cat "$WORK/s3-err.txt" >&2; exit 1; }
  out=$(cat "$WORK/s3-time.txt")
  awk '{printf "%.2f s, %d MiB", $1, $2/1024}' <<<"$out"
}

# A read in S3 is measured twice: cold (a fresh folder of disk copies, the first run on a
# machine) and warm (the same folder again: the commits and data files come from the copies; the logs
# are still listed).
# The copies go to tmpfs where there is one: a cold run deletes the last run's copies first,
# and journal-less ext4 (this machine's) then checks every new inode against the recently
# deleted ones, a cost of the benchmark's loop rather than of a first run
# (docs/performance.md, partitioned convert). COPIES_DIR= puts them elsewhere.
COPIES="${COPIES_DIR:-$([ -w /dev/shm ] && echo /dev/shm/chatql-s3-copies || echo "$WORK/s3-copies")}"
read_env() { AWS_ENDPOINT_URL="http://127.0.0.1:$READ_PORT" "$@"; }
cold() { rm -rf "$COPIES"; CHATQL_STORE_CACHE_DIR="$COPIES" measure "$@"; }
warm() { CHATQL_STORE_CACHE_DIR="$COPIES" measure "$@"; }

rm -rf "$WORK/s3-local-lake"
printf '| job | lake on disk | lake in S3, cold | lake in S3, warm |\n|---|---|---|---|\n'
a=$(measure "$BIN" convert -q "$INPUT" -o "$WORK/s3-local-lake" --partition-by course,month)
b=$(measure "$BIN" convert -q "$INPUT" -o s3://bench/lake --partition-by course,month)
printf '| convert %s MB, partitioned | %s | %s | |\n' "$(( $(stat -L -c %s "$INPUT") >> 20 ))" "$a" "$b"
row() {
  local name=$1; shift
  a=$(measure "$BIN" "$@" "$WORK/s3-local-lake")
  b=$(read_env cold "$BIN" "$@" s3://bench/lake)
  c=$(read_env warm "$BIN" "$@" s3://bench/lake)
  printf '| %s | %s | %s | %s |\n' "$name" "$a" "$b" "$c"
}
q="select count(*), sum(length(text)) from contexts"
row "report overview" report overview --format json
row "every report" report --format json
row "sql: scan of contexts text" sql "$q"
# The same answers, from disk, from S3 cold and from S3 warm.
want=$("$BIN" report "$WORK/s3-local-lake" --format json)
rm -rf "$COPIES"
for _ in cold warm; do
  got=$(CHATQL_STORE_CACHE_DIR="$COPIES" "$BIN" report s3://bench/lake --format json)
  [ "$got" = "$want" ] || { echo "S3 report differs from the disk's" >&2; exit 1; }
done
rm -rf "$COPIES"
