#!/usr/bin/env bash
# The linux-arm64 prebuild: cross-built with Debian's aarch64 GCC, stripped, exporting Node-API's entry point
# and none of SQLite's symbols, then loaded by a real arm64 Node (Debian's nodejs:arm64, run under qemu-user) from
# prebuilds/linux-arm64/, which runs every native operation on an msb-made cache; the output must equal the x64
# build's on the same cache, byte for byte. Then the install check for arm64 (check-package.sh does x64): the
# packed tarball installed with no compiler, the install script and every consumer run by the arm64 Node.
# Writes the prebuild to prebuilds/linux-arm64/ of the repo when given --keep-prebuild.
#
# Needs root on Debian/Ubuntu the first time (apt-get: g++-aarch64-linux-gnu, qemu-user-static, and Node's arm64
# packages, downloaded and unpacked into .tmp/arm64/node-root, never installed). About 3 min here, most of it
# sqlite3.c compiled for arm64.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export npm_config_nodedir="${npm_config_nodedir:-/usr}"
export JOBS="${JOBS:-max}"
base="$root/.tmp/arm64"
tree="$base/tree"
noderoot="$base/node-root"
msb="$root/interop/node_modules/@superradcompany/microsandbox-linux-x64-gnu/bin/msb"
keep_prebuild=0; [[ "${1:-}" == "--keep-prebuild" ]] && keep_prebuild=1
t0=$SECONDS

# ---------------------------------------------------------------------------------------------- tools
if ! command -v aarch64-linux-gnu-g++ >/dev/null || ! command -v qemu-aarch64-static >/dev/null; then
  [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null ||
    { echo "arm64-check: run as root on Debian/Ubuntu, or: apt-get install g++-aarch64-linux-gnu qemu-user-static" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends g++-aarch64-linux-gnu qemu-user-static >/dev/null
fi
if [[ ! -x "$noderoot/usr/bin/node" ]]; then
  [[ $(id -u) -eq 0 ]] || { echo "arm64-check: the arm64 Node is fetched with apt-get download as root" >&2; exit 1; }
  dpkg --print-foreign-architectures | grep -qx arm64 || { dpkg --add-architecture arm64; apt-get update -qq >/dev/null; }
  rm -rf "$base/debs" "$noderoot" && mkdir -p "$base/debs" "$noderoot"
  deps=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
    --no-enhances nodejs:arm64 | grep -E '^[a-z0-9].*:arm64$' | sort -u)
  # Debian's Node loads some of its JavaScript (acorn, cjs-module-lexer, undici) from /usr/share/nodejs.
  (cd "$base/debs" && chmod 777 . && apt-get download -qq nodejs:arm64 $deps node-acorn node-cjs-module-lexer node-undici >/dev/null 2>&1)
  for d in "$base/debs"/*.deb; do dpkg-deb -x "$d" "$noderoot"; done
fi
arm_node() { qemu-aarch64-static -L "$noderoot" "$noderoot/usr/bin/node" "$@"; }
[[ "$(arm_node -p process.arch)" == arm64 ]] || { echo "arm64-check: the arm64 Node does not run under qemu" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------- build
source "$root/scripts/stage-tree.sh"
stage_tree "$root" "$tree"
cd "$tree"
export CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ AR=aarch64-linux-gnu-ar
npm exec -c 'node-gyp rebuild --arch=arm64' >"$base/build.log" 2>&1 || { tail -30 "$base/build.log"; exit 1; }
unset CC CXX AR
prebuild="$tree/prebuilds/linux-arm64/msb-image-cache.glibc.node"
mkdir -p "$(dirname "$prebuild")"
aarch64-linux-gnu-strip -o "$prebuild" build/Release/msb_image_cache.node
rm -rf build/Release  # node-gyp-build must find the prebuild, not the build
file -b "$prebuild" | grep -q "ARM aarch64" || { echo "arm64-check: $(file -b "$prebuild")" >&2; exit 1; }
# The same bar as the x64 prebuild (scripts/check-package.sh): Node-API's entry point exported, none of the
# vendored SQLite's symbols (GCC still exports libstdc++'s template instantiations, as on x64).
exports=$(aarch64-linux-gnu-nm -D --defined-only "$prebuild" | awk '{print $3}')
grep -qx napi_register_module_v1 <<<"$exports" || { echo "arm64-check: napi_register_module_v1 not exported" >&2; exit 1; }
if grep -q '^sqlite3_' <<<"$exports"; then
  echo "arm64-check: the prebuild exports SQLite's symbols: $(grep '^sqlite3_' <<<"$exports" | head -3 | tr '\n' ' ')" >&2
  exit 1
fi
glibc=$(aarch64-linux-gnu-objdump -T "$prebuild" | grep -oE 'GLIBC_[0-9.]+' | sort -Vu | tail -1)
npx tsc -p tsconfig.build.json && node scripts/write-esm-entry.js
loaded=$(arm_node -p 'require("node-gyp-build").path(process.argv[1])' "$tree")
[[ "$loaded" == "$prebuild" ]] || { echo "arm64-check: arm64 Node loads $loaded, not the prebuild" >&2; exit 1; }
echo "arm64-check: built $(stat -c %s "$prebuild") bytes, stripped, needs $glibc, in $((SECONDS - t0)) s"

# ---------------------------------------------------------------------------------------------- run
work="$base/run"
rm -rf "$work" && mkdir -p "$work"
[[ -x "$msb" ]] || bash "$root/scripts/install-msb.sh" >/dev/null
python3 "$root/scripts/docker-save-check.py" "$work/images.tar"
MSB_HOME="$work/home" "$msb" load -i "$work/images.tar" </dev/null >/dev/null 2>&1
cp -a "$work/home" "$work/home.orig"
node "$root/scripts/smoke-ops.cjs" "$root" "$work/home" >"$work/x64.json"
rm -rf "$work/home" && cp -a "$work/home.orig" "$work/home"
t1=$SECONDS
arm_node "$root/scripts/smoke-ops.cjs" "$tree" "$work/home" >"$work/arm64.json"
if ! diff -u "$work/x64.json" "$work/arm64.json"; then
  echo "arm64-check: the arm64 build's results differ from the x64 build's (above)" >&2
  exit 1
fi
grep -q '"after": \[\]' "$work/arm64.json" || { echo "arm64-check: the prune left images" >&2; exit 1; }
echo "arm64-check: list, get, inspect, diskUsage, verify, remove, prune under qemu equal x64's ($((SECONDS - t1)) s)"

# ------------------------------------------------------------------------------ install the packed tarball
# What an arm64 user gets from npm: the tarball (with the linux-arm64 prebuild) installed into a fresh project
# with no compiler, node-gyp-build's install script and every consumer run by the arm64 Node. npm itself is the
# x64 npm run by the x64 Node (Debian's arm64 Node 18 is older than npm 11 supports); `node` on the PATH that
# npm hands to install scripts is a wrapper that runs the arm64 Node under qemu, next to a shell and nothing
# else: an x64 Node would find no prebuild for its arch and try to compile, which fails without a compiler.
t2=$SECONDS
fail() { echo "arm64-check: FAIL: $*" >&2; exit 1; }
(cd "$tree" && npm pack --silent --pack-destination "$base" >"$base/pack.name")
tgz="$base/$(tail -1 "$base/pack.name")"
packed=$(tar -tzf "$tgz")  # whole listing first: `tar | grep -q` under pipefail fails when tar gets SIGPIPE
grep -qx 'package/prebuilds/linux-arm64/msb-image-cache.glibc.node' <<<"$packed" || fail "the tarball has no arm64 prebuild"
armbin="$base/arm-bin"
rm -rf "$armbin" && mkdir -p "$armbin"
printf '#!/bin/sh\nexec qemu-aarch64-static -L "%s" "%s/usr/bin/node" "$@"\n' "$noderoot" "$noderoot" >"$armbin/node"
chmod +x "$armbin/node"
for tool in sh env qemu-aarch64-static; do ln -s "$(command -v "$tool")" "$armbin/$tool"; done
for tool in cc c++ g++ gcc clang make python3 aarch64-linux-gnu-g++; do
  if PATH="$armbin" command -v "$tool" >/dev/null 2>&1; then fail "$tool is on the restricted PATH"; fi
done
[[ "$(PATH="$armbin" node -p process.arch)" == arm64 ]] || fail "the node wrapper does not run the arm64 Node"
x64node="$(command -v node)"
npmcli="$(dirname "$(readlink -f "$(command -v npm)")")/npm-cli.js"
[[ -f "$npmcli" ]] || fail "npm-cli.js not found next to $(command -v npm)"
home="$work/home.pkg" expected='["check/alpha:1","check/alpha:latest","check/beta:2"]'
cp -a "$work/home.orig" "$home"
source "$root/scripts/consumer-check.sh"
consumer="$base/consumer"
rm -rf "$consumer" && new_project "$consumer"
(cd "$consumer" && env -u CC -u CXX -u MAKE PATH="$armbin" npm_config_update_notifier=false npm_config_fund=false \
  npm_config_audit=false "$x64node" "$npmcli" install --prefer-offline --no-package-lock --foreground-scripts "$tgz" \
  >"$base/install.log" 2>&1) || { tail -30 "$base/install.log" >&2; fail "npm install of the tarball failed"; }
[[ ! -e "$consumer/node_modules/msb-image-cache/build" ]] || fail "the install built from source"
PATH="$armbin:$PATH" assert_consumer "$consumer" "arm64 install, no compiler" \
  "/node_modules/msb-image-cache/prebuilds/linux-arm64/msb-image-cache\\.glibc\\.node\$"
echo "arm64-check: the packed tarball installed with no compiler; require, import and the bin list the cache under qemu ($((SECONDS - t2)) s)"

if [[ $keep_prebuild -eq 1 ]]; then
  mkdir -p "$root/prebuilds/linux-arm64" && cp "$prebuild" "$root/prebuilds/linux-arm64/"
  echo "arm64-check: kept $root/prebuilds/linux-arm64/$(basename "$prebuild")"
fi
echo "arm64-check: passed in $((SECONDS - t0)) s"
