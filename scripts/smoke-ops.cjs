// Every native operation once on an msb-made cache, printed as one JSON document, so two builds of the addon
// (x64 and arm64 under qemu, scripts/arm64-check.sh) can be compared byte for byte on the same cache.
// Usage: node scripts/smoke-ops.cjs <package dir> <msb home>
"use strict";
const { ImageCache } = require(process.argv[2]);
const home = process.argv[3];

(async () => {
  const cache = new ImageCache({ home });
  const out = {};
  out.list = (await cache.list()).map((i) => i.toJSON()).sort((a, b) => a.reference.localeCompare(b.reference));
  out.get = (await cache.get("check/alpha:1")).toJSON();
  out.inspect = await cache.inspect("check/alpha:latest");
  out.diskUsage = await cache.diskUsage();
  out.verify = await cache.verify({ graceMs: 0 });
  out.remove = await cache.remove("check/beta:2");
  out.pruneDryRun = await cache.prune({ dryRun: true });
  out.prune = await cache.prune();
  out.after = (await cache.list()).map((i) => i.reference);
  out.verifyAfter = await cache.verify({ graceMs: 0 });
  await cache.close();
  // The file system's free space is the machine's (other processes write to it between the two runs), not the
  // cache's: each build must report a number there, which one does not compare.
  const machine = new Set(["fsFreeBefore", "fsFreeAfter"]);
  const replacer = (key, value) => (machine.has(key) && typeof value === "number" ? "<measured>" : value);
  console.log(JSON.stringify(out, replacer, 1));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
