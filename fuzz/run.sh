#!/usr/bin/env bash
# Run every fuzz target (or the ones named) for SECONDS seconds each (default 20) from
# its committed seed corpus, with ASan + UBSan; new inputs go to a scratch copy, not to
# fuzz/corpus. Exit status 1 if any target crashed, leaked, timed out or ran out of memory;
# crash inputs are kept in $OUT (default build-fuzz/findings/<target>/).
# Usage: fuzz/run.sh [TARGET...]     env: SECONDS_PER_TARGET, BUILD_DIR, OUT, JOBS
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-fuzz}
T=${SECONDS_PER_TARGET:-20}
OUT=${OUT:-$BUILD_DIR/findings}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for c in fuzz/corpus/*/; do targets+=("$(basename "$c")"); done
fi
fail=0
printf '%-16s %10s %8s %s\n' target execs seconds result
for t in "${targets[@]}"; do
  bin=$BUILD_DIR/fuzz/$t
  [ -x "$bin" ] || { echo "fuzz/run.sh: $bin not built (fuzz/build.sh)" >&2; fail=1; continue; }
  work=$(mktemp -d "${TMPDIR:-/tmp}/snfuzz-corpus.XXXXXX")
  cp -r fuzz/corpus/"$t"/. "$work"/ 2>/dev/null || true
  mkdir -p "$OUT/$t"
  dict=(); [ -f fuzz/dict/"$t".dict ] && dict=(-dict=fuzz/dict/"$t".dict)
  maxlen=16384; [ "$t" = fuzz_gallery ] && maxlen=65536
  log=$OUT/$t.log
  # -close_fd_mask=3: the library's and the CLI's own messages are not shown (libFuzzer
  # keeps its report channel); rss 2 GiB, 10 s per input.
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$bin" "$work" "${dict[@]}" -max_total_time="$T" -timeout=10 -rss_limit_mb=2048 \
      -max_len=$maxlen -close_fd_mask=3 -print_final_stats=1 -artifact_prefix="$OUT/$t/" \
      >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  secs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  if [ $rc -eq 0 ]; then res=ok; else res="FAILED (exit $rc, see $log and $OUT/$t/)"; fail=1; fi
  printf '%-16s %10s %8s %s\n' "$t" "${execs:-?}" "$T" "$res"
  [ $rc -eq 0 ] || grep -m3 -E 'ERROR|runtime error|SUMMARY' "$log" | sed 's/^/    /'
  rm -rf "$work"
done
exit $fail
