#!/usr/bin/env bash
# The JSON parsers on the generated conversation export, interleaved, three rounds; with
# NATIVE=1 built for this CPU (-C target-cpu=native: sonic-rs picks its SIMD at compile time).
#
#   benches/parsers/run.sh        # FILE=/tmp/chatql-bench/convos.jsonl (benches/compare.sh makes it)
set -euo pipefail
cd "$(dirname "$0")"
FILE=${FILE:-/tmp/chatql-bench/convos.jsonl}
TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/chatql-parsers-target}
[ "${NATIVE:-0}" = 1 ] && export RUSTFLAGS="-C target-cpu=native" && TARGET=$TARGET-native
CARGO_TARGET_DIR=$TARGET cargo build --release --quiet
for round in 1 2 3; do
  for p in serde_json serde_json-raw sonic-rs simd-json; do
    "$TARGET/release/chatql-parsers-bench" "$p" "$FILE"
  done
done
