#!/usr/bin/env bash
# Runs one fuzz target on a working copy of its seed corpus.
#   run_fuzz.sh BINARY TARGET SECONDS|replay:N WORK_DIR SOURCE_DIR SHARED_DIR
# SECONDS: a libFuzzer binary fuzzes that long. replay:N: a binary linked to
# replay_main.cpp (builds without libFuzzer) runs the corpus, the regressions
# and N seeded mutations of them.
# Exit 0 when nothing is found; the fuzzer's exit code and the saved input
# (WORK_DIR/crash-* or WORK_DIR/last-input) otherwise.
set -u
bin=$1 target=$2 seconds=$3 work=$4 src=$5 shared=$6
if [ ! -x "$bin" ]; then
  echo "$bin: not built" >&2
  exit 1
fi

mkdir -p "$work/corpus"
/usr/bin/python3 "$src/tests/fuzz/corpus.py" "$target" "$work/corpus" --source "$src" --shared "$shared"
regressions=()
if compgen -G "$src/tests/fuzz/regressions/$target/*" >/dev/null; then
  regressions=("$src"/tests/fuzz/regressions/"$target"/*)
fi
case "$seconds" in
  replay:*)
    exec "$bin" --mutations "${seconds#replay:}" --seed 1 --artifact "$work/last-input" \
      "${regressions[@]}" "$work/corpus" ;;
esac
# Regression inputs (each once a crash) run first, as plain inputs.
if compgen -G "$src/tests/fuzz/regressions/$target/*" >/dev/null; then
  "$bin" -runs=0 "$src"/tests/fuzz/regressions/"$target"/* || exit $?
fi
# A fixed seed (FUZZ_SEED, default 1): the same corpus gives the same mutations, so a
# ctest that fails fails again and its input reproduces; set FUZZ_SEED=0 for a
# random seed in long runs (`make fuzz`).
exec "$bin" -seed="${FUZZ_SEED:-1}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=3072 -max_len=65536 \
  -artifact_prefix="$work/" -print_final_stats=1 "$work/corpus"
