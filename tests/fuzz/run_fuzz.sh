#!/usr/bin/env bash
# Runs one fuzz target for SECONDS on a working copy of its seed corpus.
#   run_fuzz.sh BINARY TARGET SECONDS WORK_DIR SOURCE_DIR SHARED_DIR
# Exit 0 when the fuzzer finds nothing; libFuzzer's exit code and the saved
# input (WORK_DIR/crash-*) otherwise. Exit 77 (ctest: skipped) when the binary
# was not built, saying why.
set -u
bin=$1 target=$2 seconds=$3 work=$4 src=$5 shared=$6
if [ ! -x "$bin" ]; then
  echo "skipped: $bin not built (fuzz targets need clang-14 and libfuzzer-14-dev: make fuzz-build)"
  exit 77
fi
mkdir -p "$work/corpus"
/usr/bin/python3 "$src/tests/fuzz/corpus.py" "$target" "$work/corpus" --source "$src" --shared "$shared"
# Regression inputs (each once a crash) run first, as plain inputs.
if compgen -G "$src/tests/fuzz/regressions/$target/*" >/dev/null; then
  "$bin" -runs=0 "$src"/tests/fuzz/regressions/"$target"/* || exit $?
fi
exec "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=3072 -max_len=65536 \
  -artifact_prefix="$work/" -print_final_stats=1 "$work/corpus"
