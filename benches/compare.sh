#!/usr/bin/env bash
# chatql against DuckDB (and, for convert, Polars) on the same generated files, with the same
# thread count, in one run:
# wall time and peak RSS of each, and the ratios. Run by hand (takes several minutes):
#
#   benches/compare.sh            # SIZES="500M 3G" THREADS=2 BENCH_DIR=/tmp/chatql-bench
#   SIZES=500M benches/compare.sh # the small scale only (a few minutes)
#   FLAT=1 benches/compare.sh     # also: peak RSS of convert on 200M vs 2G of input
#   PROFILE=profiling FEATURES=s3 benches/compare.sh   # the build benches/s3.sh made
#
# Each size converts a generated conversations export and a documents export with both
# tools, then runs the same SQL on chatql's lake of the conversations (DuckDB reading the
# same Parquet files). The rest (raw-input SQL, partitioned convert, a line without end)
# runs on the first size.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
SIZES=${SIZES:-500M 3G}
DIR=${BENCH_DIR:-/tmp/chatql-bench}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/chatql-target}
# PROFILE=profiling measures the build perf reads (the same code with line tables).
PROFILE=${PROFILE:-release}
# FEATURES=s3 reuses the build benches/s3.sh made (a feature of object_store changes, so a
# build without it compiles DataFusion again); convert and SQL on disk run the same code.
cargo build --profile "$PROFILE" --quiet ${FEATURES:+--features "$FEATURES"} --bin chatql --example generate
BIN=$CARGO_TARGET_DIR/$PROFILE/chatql
GEN=$CARGO_TARGET_DIR/$PROFILE/examples/generate
mkdir -p "$DIR"
VENV=$DIR/venv
[ -x "$VENV/bin/python" ] || { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q duckdb; }
PY=$VENV/bin/python
"$PY" -c 'import polars' 2>/dev/null || "$VENV/bin/pip" install -q polars

# measure CMD...: prints "seconds peak_kib"
measure() {
  /usr/bin/time -f "%e %M" -o "$DIR/time.txt" "$@" >/dev/null 2>"$DIR/err.txt" || { cat "$DIR/err.txt" >&2; exit 1; }
  cat "$DIR/time.txt"
}
row() { # name ours theirs
  read -r ts tm <<<"$2"; read -r ds dm <<<"$3"
  awk -v n="$1" -v ts="$ts" -v tm="$tm" -v ds="$ds" -v dm="$dm" 'BEGIN {
    printf "| %-34s | %7.2f s | %7.0f MiB | %7.2f s | %7.0f MiB | %5.2fx faster | %4.2fx memory |\n",
      n, ts, tm/1024, ds, dm/1024, ds/(ts>0?ts:0.01), tm/(dm>0?dm:1) }'
}
sql_of() {
  case $1 in
    count_contexts) echo "select count(*) from contexts" ;;
    activity_per_month) echo "select to_char(date_trunc('month', c.created_at), '%Y-%m') as month, count(distinct c.convo_id), count(m.message_index), count(distinct c.user_email) from conversations c left join messages m on m.convo_id = c.convo_id where c.created_at is not null group by 1 order by 1" ;;
    top_documents) echo "select readable_filename, count(*) from contexts group by 1 order by 2 desc limit 20" ;;
    feedback_by_model) echo "select coalesce(c.model_id, '(unknown)'), sum(case when m.feedback_positive then 1 else 0 end), sum(case when not m.feedback_positive then 1 else 0 end) from messages m join conversations c on c.convo_id = m.convo_id where m.feedback_positive is not null group by 1 order by 1" ;;
    like_scan) echo "select count(*) from contexts where text like '%transistor resistor%'" ;;
  esac
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $(date -u +%F); $("$BIN" --version); duckdb $("$PY" -c 'import duckdb; print(duckdb.__version__)'); polars $("$PY" -c 'import polars; print(polars.__version__)')"
echo "threads $THREADS; sizes $SIZES"
echo
echo "| job                                | chatql    | chatql RSS  | duckdb    | duckdb RSS  | time          | memory       |"
echo "|---|---|---|---|---|---|---|"
seed=1
for size in $SIZES; do
  for kind in convos docs; do
    f=$DIR/$kind-$size.jsonl
    if [ ! -f "$f" ]; then
      if [ $kind = convos ]; then "$GEN" conversations "$size" "$f" --seed $seed; else "$GEN" documents "$size" "$f" --seed $seed; fi
    fi
    job=$([ $kind = convos ] && echo convert-conversations || echo convert-documents)
    # DuckDB gets the file's schema up front (untimed), its fastest formulation.
    [ -f "$f.duckdb-columns" ] || "$PY" benches/duckdb_jobs.py columns "$f"
    rm -rf "$DIR/lake-$kind-$size" "$DIR/duck-$kind"; mkdir -p "$DIR/duck-$kind"
    ours=$(measure "$BIN" convert "$f" -o "$DIR/lake-$kind-$size" --threads "$THREADS" -q)
    theirs=$(measure "$PY" benches/duckdb_jobs.py "$job" "$f" "$DIR/duck-$kind" "$THREADS")
    rm -rf "$DIR/duck-$kind"
    row "convert $kind ($(du -h "$f" | cut -f1))" "$ours" "$theirs"
    # Polars doing the same normalization (benches/polars_jobs.py), in the DuckDB columns.
    rm -rf "$DIR/pol-$kind"; mkdir -p "$DIR/pol-$kind"
    pol=$(measure "$PY" benches/polars_jobs.py "$job" "$f" "$DIR/pol-$kind" "$THREADS")
    rm -rf "$DIR/pol-$kind"
    row "  the same, Polars as the peer" "$ours" "$pol"
  done
  rm -rf "$DIR/lake-docs-$size"
  for q in count_contexts activity_per_month top_documents feedback_by_model like_scan; do
    ours=$(measure "$BIN" sql "$(sql_of $q)" "$DIR/lake-convos-$size" --threads "$THREADS" --format csv)
    theirs=$(measure "$PY" benches/duckdb_jobs.py query "$DIR/lake-convos-$size" "$THREADS" "$q")
    row "sql $q ($size lake)" "$ours" "$theirs"
  done
  # The whole contexts table out, streamed (DuckDB: COPY of the same Parquet files).
  for ext in csv parquet; do
    fmt=$([ $ext = csv ] && echo csv || echo parquet)
    ours=$(measure "$BIN" sql "select * from contexts" "$DIR/lake-convos-$size" --threads "$THREADS" --format "$fmt" -o "$DIR/out-ours.$ext")
    theirs=$(measure "$PY" benches/duckdb_jobs.py copy "$DIR/lake-convos-$size" "$THREADS" "$DIR/out-duck.$ext")
    row "contexts out as $ext ($size lake)" "$ours" "$theirs"
    rm -f "$DIR/out-ours.$ext" "$DIR/out-duck.$ext"
  done
  seed=$((seed + 1))
done
base=$(measure "$PY" -c 'import duckdb; duckdb.connect().execute("select 1").fetchall()')
echo "| (duckdb: python start, import, connect) |  |  | $(echo "$base" | awk '{printf "%7.2f s | %7.0f MiB", $1, $2/1024}') |  |  |"
echo
first=${SIZES%% *}
CONVOS=$DIR/convos-$first.jsonl
# Raw-input SQL against the parse floor: serde_json validating every line on the same
# threads (`generate validate`, which reads the file first), and `cat`.
cat_t=$(measure cat "$CONVOS")
val=$("$GEN" validate "$CONVOS" --threads "$THREADS")
floor=$(echo "$val" | sed -E 's/.* in ([0-9.]+) s .*/\1/')
echo "parse floor ($first): $val; cat: ${cat_t% *} s"
for q in count_contexts top_documents like_scan; do
  ours=$(measure "$BIN" sql "$(sql_of $q)" "$CONVOS" --threads "$THREADS" --format csv)
  awk -v n="$q" -v o="$ours" -v f="$floor" -v s="$first" 'BEGIN { split(o, a, " ");
    printf "raw sql %s (%s export): %.2f s, %.0f MiB: %.2fx the parse floor\n", n, s, a[1], a[2]/1024, a[1]/f }'
done

# A partitioned conversion against the flat one (the same input, the same run): ROUNDS
# rounds (default 5), the two in turn, the order reversed every other round; the medians.
# PART_DIR (default BENCH_DIR) is where both lakes are written: a file system matters here
# (ext4 without a journal scans recently deleted inodes for each new file, and the
# partitioned lake is hundreds of files; docs/performance.md).
PART_DIR=${PART_DIR:-$DIR}
: >"$DIR/part-rounds.txt"
for r in $(seq "${ROUNDS:-5}"); do
  order="flat part"; [ $((r % 2)) = 0 ] && order="part flat"
  for kind in $order; do
    args=(); [ "$kind" = part ] && args=(--partition-by course,month)
    echo "$kind $(measure "$BIN" convert "$CONVOS" -o "$PART_DIR/lake-$kind" "${args[@]}" --threads "$THREADS" -q --force)" >>"$DIR/part-rounds.txt"
  done
done
awk 'function med(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
       return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
  { n[$1]++; s[$1, n[$1]] = $2; m[$1, n[$1]] = $3 }
  END { for (k in n) { for (i = 1; i <= n[k]; i++) { t[i] = s[k, i]; u[i] = m[k, i] } ts[k] = med(t, n[k]); ms[k] = med(u, n[k]) }
    printf "convert --partition-by course,month: %.2f s, %.0f MiB; flat %.2f s, %.0f MiB (medians of %d): %.2fx the flat time\n",
      ts["part"], ms["part"] / 1024, ts["flat"], ms["flat"] / 1024, n["part"], ts["part"] / ts["flat"] }' "$DIR/part-rounds.txt"

# Bounded memory: 2 GiB without a newline, plain and as a zip member (refused as a bomb
# there, after the record limit has capped what is held).
[ -f "$DIR/noend.jsonl" ] || head -c 2G /dev/zero | tr '\0' x > "$DIR/noend.jsonl"
[ -f "$DIR/noend.zip" ] || "$PY" -c "import zipfile, sys; zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED).write(sys.argv[2], 'noend.jsonl')" "$DIR/noend.zip" "$DIR/noend.jsonl"
for f in noend.jsonl noend.zip; do
  r=$(measure "$BIN" convert "$DIR/$f" -o "$DIR/lake-noend" --threads "$THREADS" -q --force)
  echo "a line without end ($f, 2 GiB): ${r% *} s, $(( ${r#* } / 1024 )) MiB peak; rejects: $("$BIN" sql "select reason from rejects" "$DIR/lake-noend" --format csv | tail -1)"
done
if [ "${FLAT:-0}" = 1 ]; then
  [ -f "$DIR/flat-200M.jsonl" ] || "$GEN" conversations 200M "$DIR/flat-200M.jsonl" --seed 2
  [ -f "$DIR/flat-2G.jsonl" ] || "$GEN" conversations 2G "$DIR/flat-2G.jsonl" --seed 3
  rm -rf "$DIR/flat-a" "$DIR/flat-b"
  a=$(measure "$BIN" convert "$DIR/flat-200M.jsonl" -o "$DIR/flat-a" --threads "$THREADS" -q)
  b=$(measure "$BIN" convert "$DIR/flat-2G.jsonl" -o "$DIR/flat-b" --threads "$THREADS" -q)
  echo "flat memory: 200M input peak $(( ${a#* } / 1024 )) MiB in ${a% *} s; 2G input peak $(( ${b#* } / 1024 )) MiB in ${b% *} s"
fi
