#!/usr/bin/env bash
# Build and run the libFuzzer targets in fuzz/ (clang 14 from Debian: -fsanitize=fuzzer,address,undefined).
#
#   scripts/fuzz.sh                  each target 30 s (CI)
#   scripts/fuzz.sh --long           each target 600 s
#   scripts/fuzz.sh erofs vmdk       only those targets
#   FUZZ_SECONDS=120 FUZZ_JOBS=1 scripts/fuzz.sh
#
# Each target starts from its committed seeds (fuzz/corpus/<target>/, never written to) plus what earlier runs
# found (.tmp/fuzz/corpus/<target>/, kept between runs, ignored by git). A crash, a sanitizer report, a failed
# property check, a timeout (10 s for one input) or 2 GiB of memory fails the run: the input is saved as
# .tmp/fuzz/artifacts/<target>-crash-<sha1> and the log's tail is printed. Reproduce it with
#   .tmp/fuzz/bin/<target> <that file>
# then fix the code, and add the input to fuzz/corpus/<target>/ and a unit test.
#
# The native sources a target links are derived from what it includes: fuzz/<t>_fuzzer.cc includes
# "formats/x.h" (from native/), so native/formats/x.cc is linked, and so on for what x.cc includes (no second
# source list).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-30}"
targets=()
for arg in "$@"; do
  case "$arg" in
    --long) seconds="${FUZZ_SECONDS:-600}" ;;
    -*) echo "usage: scripts/fuzz.sh [--long] [target...]" >&2; exit 2 ;;
    *) targets+=("$arg") ;;
  esac
done
if [[ ${#targets[@]} -eq 0 ]]; then
  for f in fuzz/*_fuzzer.cc; do t="${f#fuzz/}"; targets+=("${t%_fuzzer.cc}"); done
fi
jobs="${FUZZ_JOBS:-$(nproc)}"

# clang 14 and its sanitizer/libFuzzer runtimes: Debian 12's default clang (about 1 min to install).
CXX="${FUZZ_CXX:-clang++-14}"
if ! command -v "$CXX" >/dev/null || ! compgen -G "/usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a" >/dev/null; then
  echo "fuzz: installing clang-14 and libclang-rt-14-dev (Debian)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends clang-14 libclang-rt-14-dev >/dev/null
fi

out=.tmp/fuzz
mkdir -p "$out/bin" "$out/logs" "$out/artifacts"

# native/**/*.cc that a file needs: the .cc beside each native header it includes, transitively.
native_sources() {
  local -a queue=("$1") seen=()
  local srcs="" file inc cc
  while [[ ${#queue[@]} -gt 0 ]]; do
    file="${queue[0]}"; queue=("${queue[@]:1}")
    [[ " ${seen[*]-} " == *" $file "* ]] && continue
    seen+=("$file")
    while read -r inc; do
      inc="native/$inc"  # native/ includes name their layer: "formats/vmdk.h"
      [[ -f "$inc" ]] || continue
      queue+=("$inc")
      cc="${inc%.h}.cc"
      if [[ -f "$cc" && " $srcs " != *" $cc "* ]]; then srcs+=" $cc"; queue+=("$cc"); fi
    done < <(sed -n 's/^#include "\(.*\.h\)"/\1/p' "$file")
  done
  echo "$srcs"
}

flags=(-Inative -std=c++17 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Wall -Wextra -Werror)
build_start=$SECONDS
for t in "${targets[@]}"; do
  src="fuzz/${t}_fuzzer.cc"
  [[ -f "$src" ]] || { echo "fuzz: no target $t ($src)" >&2; exit 2; }
  # shellcheck disable=SC2046
  "$CXX" "${flags[@]}" "$src" $(native_sources "$src") -o "$out/bin/$t"
done
echo "fuzz: built ${targets[*]} in $((SECONDS - build_start)) s ($CXX; $(for t in "${targets[@]}"; do echo -n "$t:$(native_sources "fuzz/${t}_fuzzer.cc") "; done))"

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

run_one() {
  local t="$1"
  mkdir -p "$out/corpus/$t"
  rm -f "$out/artifacts/$t-"*
  "$out/bin/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$out/artifacts/$t-" "$out/corpus/$t" "fuzz/corpus/$t" >"$out/logs/$t.log" 2>&1
}

echo "fuzz: running ${#targets[@]} targets, $seconds s each, $jobs at a time"
declare -A pids=()
failed=()
pending=("${targets[@]}")
while [[ ${#pending[@]} -gt 0 || ${#pids[@]} -gt 0 ]]; do
  while [[ ${#pending[@]} -gt 0 && ${#pids[@]} -lt $jobs ]]; do
    t="${pending[0]}"; pending=("${pending[@]:1}")
    run_one "$t" &
    pids[$t]=$!
  done
  if wait -n -p done_pid; then rc=0; else rc=$?; fi
  for t in "${!pids[@]}"; do
    [[ "${pids[$t]}" == "$done_pid" ]] || continue
    unset "pids[$t]"
    log="$out/logs/$t.log"
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")"
    rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")"
    cov="$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)"
    corpus="$(find "$out/corpus/$t" "fuzz/corpus/$t" -type f | wc -l)"
    if [[ $rc -eq 0 ]]; then
      printf 'fuzz: %-10s ok: %s execs in %s s (%s/s), coverage %s edges, %s corpus files\n' "$t" "${execs:-?}" "$seconds" "${rate:-?}" "${cov:-?}" "$corpus"
    else
      failed+=("$t")
      echo "fuzz: $t FAILED (exit $rc); log $log; tail:"
      grep -v '^#[0-9]' "$log" | tail -40 | sed 's/^/    /'
      ls -1 "$out/artifacts/$t-"* 2>/dev/null | sed 's/^/    input: /' || true
    fi
  done
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: ${#failed[@]} of ${#targets[@]} targets failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets passed"
