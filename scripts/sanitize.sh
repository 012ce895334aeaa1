#!/usr/bin/env bash
# The test suite (vitest run) against an ASAN + UBSAN build of the addon and of the vendored SQLite.
#
#   scripts/sanitize.sh                  build (incremental) + the whole suite
#   scripts/sanitize.sh test/unit        build + only those test files (vitest filters)
#
# Design: the working tree (tracked + untracked, not ignored; as scripts/check-package.sh stages it) is copied
# to .tmp/sanitize/tree/ with node_modules/ and interop/node_modules/ linked in, built there by node-gyp with
# the sanitizer flags in $CFLAGS/$CXXFLAGS (binding.gyp stays the only source list), and vitest runs in that copy, so lib/native.ts loads the copy's build/Release by
# its usual rules. The repo's build/Release, dist/ and prebuilds/ are never touched, the library has no
# test-only load path, and the copy's build/ is kept between runs (the copy keeps the sources' mtimes, so
# make recompiles only what changed; a change of flags or compiler starts over).
#
# Node itself is not instrumented, so the ASAN runtime must come first: LD_PRELOAD=<gcc's libasan.so>.
# The test workers and their `node -e` children inherit it; msb, python3 and erofs-utils are started through
# shims without it (see below).
#   ASAN_OPTIONS=detect_leaks=0   LeakSanitizer would report Node's and V8's own allocations, which Node
#                                 deliberately never frees at exit, in every process; leaks are checked with
#                                 valgrind instead (scripts/valgrind-leaks.sh), where they can be told apart.
#   UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1, and the code is built with -fno-sanitize-recover=all, so
#                                 any undefined behaviour aborts.
# ASAN reports are also written to .tmp/sanitize/reports/ (log_path); the run fails if vitest fails, if any
# report file appears (whichever process wrote it), or if vitest's output holds a sanitizer report.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export npm_config_nodedir="${npm_config_nodedir:-/usr}"
export JOBS="${JOBS:-max}"
base="$root/.tmp/sanitize"
tree="$base/tree"
reports="$base/reports"

[[ -d "$root/node_modules" ]] || { echo "sanitize: run npm ci first (node_modules missing)" >&2; exit 1; }
bash "$root/scripts/install-msb.sh" >/dev/null

export CC=gcc CXX=g++
san="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
# node-gyp's Makefiles compile C with $CFLAGS and C++ with $CXXFLAGS (each after binding.gyp's own flags).
export CFLAGS="$san -g -O0" CXXFLAGS="$san -g -O0" LDFLAGS="-fsanitize=address,undefined"
libasan="$(gcc -print-file-name=libasan.so)"
[[ -f "$libasan" ]] || { echo "sanitize: gcc has no libasan.so ($libasan)" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------- stage
t0=$SECONDS
source "$root/scripts/stage-tree.sh"
stage_tree "$root" "$tree"
# interop/node_modules as links to the real one, except msb itself, which becomes a shim (below).
msb_pkg="@superradcompany/microsandbox-linux-x64-gnu"
mkdir -p "$tree/interop/node_modules/$msb_pkg/bin"
for f in "$root/interop/node_modules/"* "$root/interop/node_modules/".[!.]*; do
  [[ -e "$f" && "$(basename "$f")" != "@superradcompany" ]] && ln -s "$f" "$tree/interop/node_modules/"
done
for f in "$root/interop/node_modules/$msb_pkg/"*; do
  [[ "$(basename "$f")" != bin ]] && ln -s "$f" "$tree/interop/node_modules/$msb_pkg/"
done

# Shims that start the programs the tests run which are not Node without the ASAN preload: they never load
# our addon, and ASAN's interceptors made them 3-4x slower (python3 4x), which pushed tests past their
# timeouts. Node processes (the test workers and their `node -e` children) keep it.
shims="$base/shims"
rm -rf "$shims"
mkdir -p "$shims"
shim() { printf '#!/bin/sh\nunset LD_PRELOAD\nexec %q "$@"\n' "$2" >"$1"; chmod +x "$1"; }
shim "$tree/interop/node_modules/$msb_pkg/bin/msb" "$root/interop/node_modules/$msb_pkg/bin/msb"
for tool in python3 mkfs.erofs dump.erofs fsck.erofs; do
  real="$(command -v "$tool" || true)"
  [[ -n "$real" ]] && shim "$shims/$tool" "$real"
done

# ---------------------------------------------------------------------------------------------- build
stamp="$(printf '%s\n' "$CC $CXX $CFLAGS / $CXXFLAGS / $LDFLAGS" "$(gcc --version | head -1)" "$(node --version)")"
if [[ ! -f "$tree/build/sanitize-stamp" || "$(cat "$tree/build/sanitize-stamp")" != "$stamp" ]]; then
  rm -rf "$tree/build"
fi
cd "$tree"
if [[ ! -f build/Makefile || binding.gyp -nt build/Makefile ]]; then
  npm exec -c 'node-gyp configure' >"$base/build.log" 2>&1 || { tail -30 "$base/build.log"; exit 1; }
fi
npm exec -c 'node-gyp build' >>"$base/build.log" 2>&1 || { tail -30 "$base/build.log"; exit 1; }
echo "$stamp" >build/sanitize-stamp
addon="$tree/build/Release/msb_image_cache.node"
deps="$(ldd "$addon")"  # whole output first: `ldd | grep -q` under pipefail fails at random on SIGPIPE
grep -q libasan <<<"$deps" || { echo "sanitize: $addon is not linked with libasan" >&2; exit 1; }
npx tsc -p tsconfig.build.json && node scripts/write-esm-entry.js
echo "sanitize: built the ASAN+UBSAN addon in $((SECONDS - t0)) s ($addon)"

# ---------------------------------------------------------------------------------------------- test
rm -rf "$reports"
mkdir -p "$reports"
t1=$SECONDS
status=0
PATH="$shims:$PATH" LD_PRELOAD="$libasan" \
  ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:log_path=$reports/asan" \
  UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan" \
  npx vitest run "$@" 2>&1 | tee "$base/vitest.log" || status=$?
echo "sanitize: vitest under ASAN+UBSAN took $((SECONDS - t1)) s (exit $status)"

# gcc's UBSAN with -fno-sanitize-recover prints to stderr whatever log_path says: look in the output too.
if grep -qE 'runtime error:|ERROR: (Address|Undefined|Leak)Sanitizer' "$base/vitest.log"; then
  echo "sanitize: a sanitizer report in vitest's output:" >&2
  grep -E -A12 'runtime error:|ERROR: (Address|Undefined|Leak)Sanitizer' "$base/vitest.log" | head -80 >&2
  exit 1
fi
found=$(find "$reports" -type f | sort)
if [[ -n "$found" ]]; then
  echo "sanitize: sanitizer reports:" >&2
  for f in $found; do echo "--- $f" >&2; head -60 "$f" >&2; done
  exit 1
fi
[[ $status -eq 0 ]] || exit "$status"
echo "sanitize: no ASAN or UBSAN report"
