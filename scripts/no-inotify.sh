#!/usr/bin/env bash
# The in-flight guard without inotify: the rescan fallback that macOS (and any platform without inotify) runs,
# built on Linux with -DMSB_NO_INOTIFY (native/platform/platform.h) in a copy of the working tree, then the tests that
# depend on the guard (in-flight on a disk and on tmpfs, race, crash) run against it unchanged.
#
#   scripts/no-inotify.sh                 build (incremental) + those four test files
#   scripts/no-inotify.sh test/interop    build + the given vitest filters instead
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export npm_config_nodedir="${npm_config_nodedir:-/usr}"
export JOBS="${JOBS:-max}"
base="$root/.tmp/no-inotify"
tree="$base/tree"

[[ -d "$root/node_modules" ]] || { echo "no-inotify: run npm ci first (node_modules missing)" >&2; exit 1; }
bash "$root/scripts/install-msb.sh" >/dev/null

t0=$SECONDS
source "$root/scripts/stage-tree.sh"
stage_tree "$root" "$tree"
ln -s "$root/interop/node_modules" "$tree/interop/node_modules"

cd "$tree"
export CXXFLAGS="-DMSB_NO_INOTIFY"
if [[ ! -f build/Makefile || binding.gyp -nt build/Makefile ]]; then
  npm exec -c 'node-gyp configure' >"$base/build.log" 2>&1 || { tail -30 "$base/build.log"; exit 1; }
fi
npm exec -c 'node-gyp build' >>"$base/build.log" 2>&1 || { tail -30 "$base/build.log"; exit 1; }
addon="$tree/build/Release/msb_image_cache.node"
# The proof that the fallback is what runs: the addon must not import any inotify call.
if nm -D --undefined-only "$addon" | grep -q inotify; then
  echo "no-inotify: $addon still imports inotify (was MSB_NO_INOTIFY applied?)" >&2
  exit 1
fi
npx tsc -p tsconfig.build.json && node scripts/write-esm-entry.js
echo "no-inotify: built the addon without inotify in $((SECONDS - t0)) s"

if [[ $# -eq 0 ]]; then
  set -- test/interop/in-flight.test.ts test/interop/in-flight-tmpfs.test.ts test/interop/race.test.ts test/interop/crash.test.ts
fi
t1=$SECONDS
npx vitest run "$@"
echo "no-inotify: tests took $((SECONDS - t1)) s"
