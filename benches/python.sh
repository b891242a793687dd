#!/usr/bin/env bash
# The Python package against the command line and DuckDB's Python, in one run, on the lake
# of a generated conversations export: a query's result into a Polars DataFrame through
# chatql (`chatql.connect(lake).sql(q).pl()`), the CLI writing the same result to Parquet,
# and DuckDB reading the same lake's Parquet files into Polars (`duckdb.sql(q).pl()`).
# Then the peak memory of holding a large result and handing it to Polars and pyarrow,
# which stays flat when no buffer is copied. Run by hand:
#
#   benches/python.sh             # SIZE=500M THREADS=2 BENCH_DIR=/tmp/chatql-bench
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
SIZE=${SIZE:-500M}
DIR=${BENCH_DIR:-/tmp/chatql-bench}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/chatql-target}
cargo build --release --quiet --bin chatql --example generate
BIN=$CARGO_TARGET_DIR/release/chatql
GEN=$CARGO_TARGET_DIR/release/examples/generate
mkdir -p "$DIR"
VENV=$DIR/venv-python
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check duckdb polars pyarrow
# The release wheel, as `pip install .` builds it.
"$VENV/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps .
PY=$VENV/bin/python

f=$DIR/convos-$SIZE.jsonl
[ -f "$f" ] || "$GEN" conversations "$SIZE" "$f" --seed 1
LAKE=$DIR/lake-convos-$SIZE
[ -d "$LAKE" ] || "$BIN" convert "$f" -o "$LAKE" -q

# measure CMD...: prints "seconds peak_kib"; the command's output is left in $DIR/out.txt
measure() {
  /usr/bin/time -f "%e %M" -o "$DIR/time.txt" "$@" >"$DIR/out.txt" 2>"$DIR/err.txt" || { cat "$DIR/err.txt" >&2; exit 1; }
  cat "$DIR/time.txt"
}
inner() { awk '{print $2}' "$DIR/out.txt"; }
q_of() { "$PY" -c "import sys; sys.path.insert(0, 'benches'); import python_jobs as j; print(j.QUERIES['$1'].format(contexts='contexts', conversations='conversations', messages='messages'))"; }

echo "machine: $(nproc) cores; $(date -u +%F); $("$BIN" --version); $("$PY" -c 'import duckdb, polars; print("duckdb", duckdb.__version__, "polars", polars.__version__)')"
echo "lake of $f ($(du -sh "$LAKE" | cut -f1)), threads $THREADS"
echo
echo "Times: the work inside Python (interpreter started, modules imported), then in brackets"
echo "the whole process; the CLI's is the whole process."
echo
echo "| query | chatql -> Polars | CLI -> Parquet | DuckDB -> Polars | chatql RSS | CLI RSS | DuckDB RSS | vs CLI | vs DuckDB |"
echo "|---|---|---|---|---|---|---|---|---|"
for q in all_contexts context_text top_documents activity_per_month; do
  read -r ps pm <<<"$(measure "$PY" benches/python_jobs.py chatql "$LAKE" "$THREADS" $q)"; pi=$(inner)
  read -r cs cm <<<"$(measure "$BIN" sql "$(q_of $q)" "$LAKE" --threads "$THREADS" --format parquet -o "$DIR/py-cli.parquet")"
  read -r ds dm <<<"$(measure "$PY" benches/python_jobs.py duckdb "$LAKE" "$THREADS" $q)"; di=$(inner)
  awk -v q=$q -v ps=$ps -v pi=$pi -v pm=$pm -v cs=$cs -v cm=$cm -v ds=$ds -v di=$di -v dm=$dm 'BEGIN {
    printf "| %s | %.2f s (%.2f) | %.2f s | %.2f s (%.2f) | %.0f MiB | %.0f MiB | %.0f MiB | %.2fx the time | %.2fx faster |\n",
      q, pi, ps, cs, di, ds, pm/1024, cm/1024, dm/1024, pi/cs, di/pi }'
done
rm -f "$DIR/py-cli.parquet"
echo
echo "no copy on the way (NOCOPY_LAKE, default this lake):"
"$PY" benches/python_jobs.py nocopy "${NOCOPY_LAKE:-$LAKE}" "$THREADS" "${NOCOPY_QUERY:-all_contexts}"
