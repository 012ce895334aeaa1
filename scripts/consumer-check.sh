# Sourced by scripts/check-package.sh (x64) and scripts/arm64-check.sh (arm64 under qemu): what a consumer
# project that installed the packed tarball must see. The caller defines fail(), $home (an msb-made cache
# holding exactly $expected), $expected (a JSON array of its references, sorted) and $msb (the real msb); `node`
# on PATH is the Node under test (for arm64, a wrapper that runs the arm64 Node under qemu).

# A consumer: require() and import() each list the cache; the references must be exactly the expected ones.
assert_consumer() { # <project dir> <label> <expected binary path regex>
  local dir="$1" label="$2" want_bin="$3"
  local pkg="$dir/node_modules/msb-image-cache"
  [[ -f "$pkg/package.json" ]] || fail "$label: not installed"
  local bin
  bin=$(cd "$dir" && node -p 'require("node-gyp-build").path(require("node:path").dirname(require.resolve("msb-image-cache/package.json")))')
  [[ "$bin" =~ $want_bin ]] || fail "$label: loads $bin, expected $want_bin"
  echo "$label: addon $bin"
  local cjs esm
  cjs=$(cd "$dir" && node -e '
    const { ImageCache } = require("msb-image-cache");
    const c = new ImageCache({ home: process.argv[1] });
    c.list().then(async (l) => { console.log(JSON.stringify(l.map((i) => i.reference).sort())); await c.close(); });
  ' "$home")
  esm=$(cd "$dir" && node --input-type=module -e '
    import { ImageCache, Image } from "msb-image-cache";
    import def from "msb-image-cache";
    if (def.ImageCache !== ImageCache || typeof Image.list !== "function") throw new Error("bad ESM exports");
    const c = new ImageCache({ home: process.argv[1] });
    const l = await c.list();
    const beta = await c.get("check/beta:2");
    if (beta.layerCount !== 1) throw new Error("check/beta:2 has " + beta.layerCount + " layers");
    console.log(JSON.stringify(l.map((i) => i.reference).sort()));
    await c.close();
  ' "$home")
  [[ "$cjs" == "$expected" ]] || fail "$label: require() listed $cjs, expected $expected"
  [[ "$esm" == "$expected" ]] || fail "$label: import listed $esm, expected $expected"
  echo "$label: require and import both list $cjs"
  # The package's bin (npm links node_modules/.bin/msb-image-cache): ls lists the same cache, and its
  # table is byte for byte what `msb image ls` prints.
  local bin_refs bin_table msb_table
  bin_refs=$(cd "$dir" && TZ=UTC ./node_modules/.bin/msb-image-cache --home "$home" ls -q </dev/null |
    node -e 'let s="";process.stdin.on("data",(d)=>s+=d).on("end",()=>console.log(JSON.stringify(s.trim().split("\n").sort())))') ||
    fail "$label: the msb-image-cache bin failed"
  [[ "$bin_refs" == "$expected" ]] || fail "$label: msb-image-cache ls -q listed $bin_refs, expected $expected"
  bin_table=$(cd "$dir" && TZ=UTC NO_COLOR=1 ./node_modules/.bin/msb-image-cache --home "$home" ls </dev/null)
  msb_table=$(TZ=UTC NO_COLOR=1 MSB_HOME="$home" "$msb" image ls </dev/null)
  [[ "$bin_table" == "$msb_table" ]] || fail "$label: msb-image-cache ls printed
$bin_table
msb image ls printed
$msb_table"
  echo "$label: the msb-image-cache bin lists the same, its table equal to msb image ls"
}

new_project() { mkdir -p "$1" && printf '{ "name": "consumer", "version": "1.0.0", "private": true }\n' >"$1/package.json"; }
