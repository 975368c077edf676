#!/bin/bash
# Runs every fuzz target of a build for SECONDS each, JOBS at a time, from the seed corpora (made here with
# make_corpus.py) into a corpus folder per target that grows from run to run. A finding stops that target and
# fails this script; its input is saved as crash-*/leak-*/timeout-* in the target's folder under OUT.
#   tests/fuzz/run.sh BUILD_DIR SECONDS [JOBS] [OUT]
# BUILD_DIR: a build configured with -DCMAKE_CXX_COMPILER=clang++ -DFMVIZ_BUILD_FUZZERS=ON.
set -euo pipefail
build=$1
seconds=$2
jobs=${3:-2}
out=${4:-$build/fuzz}
here=$(cd "$(dirname "$0")" && pwd)
images=$build/tests/data/images
[ -d "$images" ] || images=""
/usr/bin/python3 "$here/make_corpus.py" --out "$out/seeds" ${images:+--images "$images"}
run_one() {
  local target=$1 build=$2 seconds=$3 out=$4
  mkdir -p "$out/$target/corpus"
  cd "$out/$target"
  # -timeout: one input taking over 10 s is a hang; -rss_limit_mb: over 2 GiB is a finding too.
  if "$build/tests/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      corpus "$out/seeds/$target" > log.txt 2>&1; then
    echo "$target: $(grep -E '^stat::number_of_executed_units' log.txt | awk '{print $2}') runs," \
         "$(grep -oE 'cov: [0-9]+' log.txt | tail -1), $(ls corpus | wc -l) inputs in the corpus, no finding"
  else
    echo "$target: FINDING (see $out/$target/log.txt)"
    grep -E "ERROR|SUMMARY|runtime error|Test unit written" log.txt | head -5
    return 1
  fi
}
export -f run_one
printf "%s\n" fuzz_image fuzz_weights fuzz_npy fuzz_channels fuzz_cli fuzz_atlas_table |
  xargs -P "$jobs" -I{} bash -c 'run_one "$@"' _ {} "$(cd "$build" && pwd)" "$seconds" "$(mkdir -p "$out" && cd "$out" && pwd)"
