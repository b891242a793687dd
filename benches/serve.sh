#!/usr/bin/env bash
# `chatql serve` on the lake of a generated export against Datasette serving the same
# questions from SQLite with FTS5 (built with sqlite-utils from the same rows), in one run:
# time to ready and resident memory, then latency under concurrent clients for the list, a
# search, a filtered list and threads (examples/load.rs: a new connection per request).
# Datasette in its fastest honest form: suggested facets off (else computed on every page),
# pages of 25 rows as serve shows, its FTS5 search, an index on convo_id and course_name.
#
#   benches/serve.sh                 # SIZE=3G CLIENTS=16 REQUESTS=10 BENCH_DIR=/tmp/chatql-bench
#   PROFILE=profiling FEATURES=s3 benches/serve.sh   # the build benches/s3.sh made
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${SIZE:-3G}
CLIENTS=${CLIENTS:-16}
REQUESTS=${REQUESTS:-10}
DIR=${BENCH_DIR:-/tmp/chatql-bench}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/chatql-target}
# PROFILE=profiling measures the build perf reads (the same code with line tables); FEATURES=s3
# reuses the build benches/s3.sh made (a feature of object_store changes, so a build without
# it compiles much of DataFusion again).
PROFILE=${PROFILE:-release}
cargo build --profile "$PROFILE" --quiet ${FEATURES:+--features "$FEATURES"} --bin chatql --example generate --example load
BIN=$CARGO_TARGET_DIR/$PROFILE/chatql
GEN=$CARGO_TARGET_DIR/$PROFILE/examples/generate
LOAD=$CARGO_TARGET_DIR/$PROFILE/examples/load
mkdir -p "$DIR"
IN=$DIR/convos-$SIZE.jsonl
[ -f "$IN" ] || "$GEN" conversations "$SIZE" "$IN" --seed 1
LAKE=$DIR/lake-serve-$SIZE
[ -d "$LAKE" ] || "$BIN" convert -q "$IN" -o "$LAKE"
VENV=$DIR/venv-datasette
[ -x "$VENV/bin/datasette" ] || { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q datasette sqlite-utils; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 600); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; echo "nothing on $1" >&2; exit 1; }

# The same questions for Datasette: one row per question with its answer, as serve lists them.
DB=$DIR/questions-$SIZE.db
if [ ! -f "$DB" ]; then
  "$BIN" sql "SELECT q.convo_id, q.message_index, c.created_at, c.course_name, c.user_email,
      q.content AS question, a.content AS answer, coalesce(c.model_id, c.model_name) AS model,
      a.feedback_positive FROM messages q JOIN conversations c ON c.convo_id = q.convo_id
      LEFT JOIN messages a ON a.convo_id = q.convo_id AND a.message_index = q.message_index + 1
      AND a.role = 'assistant' WHERE q.role = 'user'" "$LAKE" --format csv -o "$DIR/questions-$SIZE.csv"
  "$VENV/bin/sqlite-utils" insert "$DB" questions "$DIR/questions-$SIZE.csv" --csv
  "$VENV/bin/sqlite-utils" create-index "$DB" questions convo_id course_name
  "$VENV/bin/sqlite-utils" enable-fts "$DB" questions question answer --fts5
fi
IDS=$("$BIN" sql "SELECT convo_id FROM conversations ORDER BY convo_id LIMIT 20" "$LAKE" --format csv | tail -n +2)
COURSE=$("$BIN" sql "SELECT course_name FROM conversations GROUP BY 1 ORDER BY count(*) DESC LIMIT 1" "$LAKE" --format csv | tail -n +2)

echo "machine: $(nproc) cores; $(date -u +%F); $("$BIN" --version); datasette $("$VENV/bin/datasette" --version | awk '{print $NF}'); $SIZE export; $CLIENTS clients x $REQUESTS requests"
echo

# chatql serve: time until the URL is printed, memory once ready.
P=$(port)
start=$(date +%s.%N)
"$BIN" serve "$LAKE" --port "$P" -q >"$DIR/serve.out" 2>&1 &
SERVE=$!
trap 'kill $SERVE $DS 2>/dev/null || true' EXIT
DS=
# Ready when it prints its URL (it listens before the questions are read).
for _ in $(seq 1200); do grep -q "http://" "$DIR/serve.out" && break; sleep 0.05; done
ready=$(echo "$(date +%s.%N) - $start" | bc)
rss=$(awk '/VmHWM/ {print $2}' "/proc/$SERVE/status")
printf 'chatql serve: ready in %.1f s, %d MiB peak resident\n' "$ready" $((rss / 1024))
# The same requests of both servers: PREFIX of the list, then each kind's paths after it.
SEARCHES=(resistor thevenin+equivalent %22voltage+divider%22 transistor)
measure_kinds() { # LIST_URL SEARCH_PARAM FACET_PARAMS... -- THREAD_URLS...
  local list=$1 q=$2; shift 2
  local facets=(); while [ "$1" != -- ]; do facets+=("$list$1"); shift; done; shift
  local searches=(); for w in "${SEARCHES[@]}"; do searches+=("$list$q$w"); done
  printf '  %-7s %s\n' list "$("$LOAD" "127.0.0.1:$P" "$CLIENTS" "$REQUESTS" "$list")"
  printf '  %-7s %s\n' search "$("$LOAD" "127.0.0.1:$P" "$CLIENTS" "$REQUESTS" "${searches[@]}")"
  printf '  %-7s %s\n' facet "$("$LOAD" "127.0.0.1:$P" "$CLIENTS" "$REQUESTS" "${facets[@]}")"
  printf '  %-7s %s\n' thread "$("$LOAD" "127.0.0.1:$P" "$CLIENTS" "$REQUESTS" "$@")"
}
threads=(); for id in $IDS; do threads+=("/c/$id"); done
measure_kinds "/?" "q=" "course=$COURSE&feedback=down" "course=$COURSE" -- "${threads[@]}"
kill $SERVE; wait $SERVE 2>/dev/null || true

# Datasette on the same questions.
P=$(port)
start=$(date +%s.%N)
"$VENV/bin/datasette" serve "$DB" --port "$P" --setting sql_time_limit_ms 60000 --setting suggest_facets off >"$DIR/datasette.out" 2>&1 &
DS=$!
wait_port "$P"
ready=$(echo "$(date +%s.%N) - $start" | bc)
rss=$(awk '/VmHWM/ {print $2}' "/proc/$DS/status")
printf 'datasette: ready in %.1f s, %d MiB peak resident\n' "$ready" $((rss / 1024))
T=/questions-$SIZE/questions
dthreads=(); for id in $IDS; do dthreads+=("$T?convo_id=$id"); done
# Pages of 25 rows, as serve's.
measure_kinds "$T?_size=25&" "_search=" "course_name=$COURSE&feedback_positive=0&_facet=model" \
  "course_name=$COURSE&_facet=model" -- "${dthreads[@]}"
