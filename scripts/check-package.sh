#!/usr/bin/env bash
# The npm package works for users without a compiler, and builds from source without one's prebuild.
#
#   1. stage     copy the working tree (tracked + untracked, not ignored) to a temp dir: the repo's build/,
#                prebuilds/ and dist/ are never touched, so this can run next to other work
#   2. prebuild  npm run prebuilds (prebuildify --napi --strip --tag-libc) → prebuilds/<platform>-<arch>/
#   3. pack      npm pack (its prepare step compiles dist/); assert the file list (whitelist, no tests/bench/
#                maps, every binding.gyp source present)
#   4. cache     an msb-made cache: a docker-save tar written here, loaded by the real msb 0.6.18
#   5. install   the tarball into a fresh project with no compiler on PATH; require + import list the cache,
#                so does the msb-image-cache bin (its ls table equal to msb image ls);
#                the types resolve from a .mts and a .cts file (tsc, node16 resolution)
#   6. install   the same with --ignore-scripts
#   7. source    the tarball minus prebuilds/ into a fresh project: compiles on install (nodedir only, a
#                dead header URL and an empty devdir prove no header download), then lists the cache
#
# Linux x64 glibc only (the real msb is). KEEP=1 keeps the temp dir. Times and sizes are printed at the end.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export npm_config_nodedir="${npm_config_nodedir:-/usr}"
export JOBS="${JOBS:-max}"                       # node-gyp: compile the addon's sources in parallel
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false

work="$(mktemp -d "${TMPDIR:-/tmp}/msb-pkgcheck.XXXXXX")"
cleanup() { if [[ "${KEEP:-}" == 1 ]]; then echo "check-package: kept $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT

summary=()
t0=0
phase() { t0=$(date +%s%N); echo; echo "=== check-package: $1"; }
done_phase() { local ms=$(( ($(date +%s%N) - t0) / 1000000 )); summary+=("$(printf '%-34s %6d.%01d s' "$1" $((ms / 1000)) $((ms % 1000 / 100)))"); }
fail() { echo "check-package: FAIL: $*" >&2; exit 1; }

tuple="$(node -p 'process.platform + "-" + process.arch')"
prebuild_name="msb-image-cache.glibc.node"
msb="$root/interop/node_modules/@superradcompany/microsandbox-linux-x64-gnu/bin/msb"

# ------------------------------------------------------------------------------------------------ 1 stage
phase "stage the working tree"
stage="$work/stage"
mkdir -p "$stage"
(cd "$root" && git ls-files -z --cached --others --exclude-standard) |
  while IFS= read -r -d '' f; do [[ -e "$root/$f" ]] && printf '%s\0' "$f"; done |
  (cd "$root" && tar --null -T - -cf -) | tar -xf - -C "$stage"
[[ -d "$root/node_modules" ]] || fail "run npm ci first (node_modules missing)"
ln -s "$root/node_modules" "$stage/node_modules"
done_phase "stage"

# --------------------------------------------------------------------------------------------- 2 prebuild
phase "npm run prebuilds"
(cd "$stage" && npm run prebuilds --silent)
prebuild="$stage/prebuilds/$tuple/$prebuild_name"
[[ -f "$prebuild" ]] || fail "expected $prebuild; prebuilds/ has: $(cd "$stage" && find prebuilds -type f)"
prebuild_bytes=$(stat -c %s "$prebuild")
if command -v nm >/dev/null; then
  # Whole output first: `… | grep -q` under pipefail fails at random when the writer gets SIGPIPE.
  exported=$(nm -D --defined-only "$prebuild" | awk '{print $3}')
  leaked=$(grep -c '^sqlite3_' <<<"$exported" || true)
  [[ "$leaked" == 0 ]] || fail "the prebuild exports $leaked sqlite3_* symbols"
  grep -qx napi_register_module_v1 <<<"$exported" || fail "no napi_register_module_v1"
fi
glibc_needed=$(objdump -T "$prebuild" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1 || true)
echo "prebuild: prebuilds/$tuple/$prebuild_name, $prebuild_bytes bytes, needs ${glibc_needed:-?}"
done_phase "prebuild (prebuildify)"

# ------------------------------------------------------------------------------------------------- 3 pack
phase "npm pack"
(cd "$stage" && npm pack --json --pack-destination "$work" >"$work/pack.json")
tgz="$work/$(node -p 'require(process.argv[1])[0].filename' "$work/pack.json")"
node - "$work/pack.json" "$stage/binding.gyp" "$tuple/$prebuild_name" <<'EOF'
const fs = require("node:fs");
const [packJson, gypFile, prebuild] = process.argv.slice(2);
const p = JSON.parse(fs.readFileSync(packJson, "utf8"))[0];
const files = p.files.map((f) => f.path);
const fail = (m) => { console.error("check-package: FAIL: " + m); process.exit(1); };
// binding.gyp is a Python literal: drop comments, then it is JSON.
const gyp = JSON.parse(fs.readFileSync(gypFile, "utf8").replace(/^\s*#.*$/gm, ""));
const sources = gyp.targets.flatMap((t) => t.sources || []);
const must = ["package.json", "README.md", "binding.gyp", "dist/index.js", "dist/index.mjs", "dist/index.d.ts",
  "deps/sqlite/sqlite3.h", "deps/sqlite/VERSION", `prebuilds/${prebuild}`, "dist/cli/main.js", ...sources];
const missing = must.filter((f) => !files.includes(f));
if (missing.length) fail("missing from the tarball: " + missing.join(", "));
const allowed = /^(package\.json|README\.md|LICENSE|NOTICE|binding\.gyp|docs\/[^/]+\.md|dist\/(cli\/)?[^/]+\.(js|mjs|d\.ts)|native\/[a-z_]+\/[^/]+\.(cc|h)|deps\/sqlite\/[^/]+|prebuilds\/[^/]+\/[^/]+\.node)$/;
const extra = files.filter((f) => !allowed.test(f));
if (extra.length) fail("unexpected files in the tarball: " + extra.join(", "));
console.log(`pack: ${p.filename}: ${p.entryCount} files, ${p.size} bytes packed, ${p.unpackedSize} unpacked`);
EOF
pack_size=$(node -p 'const p=require(process.argv[1])[0]; p.size + " bytes packed / " + p.unpackedSize + " unpacked, " + p.entryCount + " files"' "$work/pack.json")
done_phase "pack (incl. tsc via prepare)"

# ------------------------------------------------------------------------------------------------ 4 cache
phase "an msb-made cache"
[[ -x "$msb" ]] || bash "$root/scripts/install-msb.sh"
[[ -x "$msb" ]] || fail "the real msb is needed: $msb"
home="$work/msb-home"
python3 "$root/scripts/docker-save-check.py" "$work/images.tar"
MSB_HOME="$home" "$msb" load -i "$work/images.tar" </dev/null
expected='["check/alpha:1","check/alpha:latest","check/beta:2"]'
done_phase "msb load"

source "$root/scripts/consumer-check.sh"

# A PATH with node, npm and a shell only: no cc, c++, g++, gcc, clang, make (nor python3).
nocc="$work/nocc-bin"
mkdir -p "$nocc"
for tool in node npm npx sh env; do ln -s "$(command -v "$tool")" "$nocc/$tool"; done
for tool in cc c++ g++ gcc clang make python3; do
  if PATH="$nocc" command -v "$tool" >/dev/null 2>&1; then fail "$tool is on the restricted PATH"; fi
done
nocc_install() { # <project dir> [npm args...]
  local dir="$1"; shift
  (cd "$dir" && env -u CC -u CXX -u MAKE PATH="$nocc" npm install --prefer-offline --no-package-lock "$@" "$tgz")
}

# ------------------------------------------------------------------------------- 5 install (no cc) + types
phase "install the tarball with no compiler on PATH"
new_project "$work/consumer-prebuild"
nocc_install "$work/consumer-prebuild"
[[ ! -e "$work/consumer-prebuild/node_modules/msb-image-cache/build" ]] || fail "install built from source"
assert_consumer "$work/consumer-prebuild" "no compiler" "/prebuilds/$tuple/$prebuild_name\$"
# The "types" export: a .mts (import) and a .cts (require) consumer type-check against the installed package.
cat >"$work/consumer-prebuild/check.mts" <<'TS'
import def, { ImageCache, ImageNotFoundError, type ImageHandle } from "msb-image-cache";
const cache: ImageCache = new def.ImageCache({ home: "/nonexistent" });
const list: Promise<ImageHandle[]> = cache.list();
export const checks = [list, ImageNotFoundError];
TS
cat >"$work/consumer-prebuild/check.cts" <<'TS'
import msb = require("msb-image-cache");
const cache: msb.ImageCache = new msb.ImageCache({ home: "/nonexistent" });
export const refs = cache.list().then((l: msb.ImageHandle[]) => l.map((i) => i.reference));
TS
(cd "$work/consumer-prebuild" && node "$root/node_modules/typescript/bin/tsc" --noEmit --strict --module node16 \
  --moduleResolution node16 --target es2022 --types node --typeRoots "$root/node_modules/@types" check.mts check.cts) ||
  fail "the package's types do not resolve for import/require"
echo "no compiler: types resolve for import (.mts) and require (.cts)"
done_phase "install, no compiler"

# ---------------------------------------------------------------------------- 6 install --ignore-scripts
phase "install the tarball with --ignore-scripts and no compiler on PATH"
new_project "$work/consumer-noscripts"
nocc_install "$work/consumer-noscripts" --ignore-scripts
assert_consumer "$work/consumer-noscripts" "--ignore-scripts" "/prebuilds/$tuple/$prebuild_name\$"
done_phase "install --ignore-scripts, no compiler"

# ------------------------------------------------------------------------------- 7 no prebuilds: compile
phase "the tarball without prebuilds/ compiles on install"
mkdir -p "$work/repack"
tar -xzf "$tgz" -C "$work/repack"
rm -rf "$work/repack/package/prebuilds"
src_tgz="$work/msb-image-cache-source-only.tgz"
tar -czf "$src_tgz" -C "$work/repack" package
new_project "$work/consumer-source"
devdir="$work/node-gyp-devdir"
mkdir -p "$devdir"
# nodedir gives the headers; a dead dist-url and an empty devdir make any header download fail or show.
(cd "$work/consumer-source" &&
  npm_config_devdir="$devdir" npm_config_dist_url="http://127.0.0.1:9" \
    npm install --prefer-offline --no-package-lock --foreground-scripts "$src_tgz" >"$work/source-install.log" 2>&1) ||
  { tail -40 "$work/source-install.log" >&2; fail "install from source failed"; }
[[ -z "$(ls -A "$devdir")" ]] || fail "node-gyp wrote into its devdir (header download?): $(ls -A "$devdir")"
grep -q 'gyp info ok' "$work/source-install.log" || { tail -40 "$work/source-install.log" >&2; fail "no node-gyp build in the install log"; }
[[ ! -e "$work/consumer-source/node_modules/msb-image-cache/prebuilds" ]] || fail "prebuilds/ was not removed"
assert_consumer "$work/consumer-source" "from source" "/build/Release/msb_image_cache\\.node\$"
done_phase "install without prebuilds (compile)"

echo
echo "=== check-package: ok"
echo "tarball:  $pack_size"
echo "prebuild: prebuilds/$tuple/$prebuild_name, $prebuild_bytes bytes (needs ${glibc_needed:-?})"
printf '%s\n' "${summary[@]}"
