// For scripts/valgrind-leaks.sh, run under valgrind: a list / get / inspect / verify / remove / prune loop over an
// msb-made cache through the public API of the normal build (dist/ + build/Release), error paths included.
// Each round re-loads the archive with the real msb (a child process valgrind does not trace), so every
// prune really removes rows and files. Exits non-zero if anything behaves unexpectedly.
//
//   node scripts/valgrind/loop.cjs <home> <images.tar> <msb> <rounds>
"use strict";
const assert = require("node:assert/strict");
const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const { ImageCache } = require(path.join(__dirname, "..", "..", "dist", "index.js"));
const [home, tar, msb, roundsArg] = process.argv.slice(2);
const rounds = Number(roundsArg || 3);
const PINNED = "localhost:5000/vg/pinned:1";

async function rejects(promise, code) {
  try {
    await promise;
  } catch (e) {
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    return;
  }
  assert.fail(`expected a rejection with ${code}`);
}

async function round(i) {
  if (i > 0) execFileSync(msb, ["load", "-i", tar], { env: { ...process.env, MSB_HOME: home }, stdio: "ignore" });
  const cache = new ImageCache({ home });
  const images = await cache.list();
  assert.equal(images.length, 5);
  for (const h of images) {
    const d = await cache.inspect(h.reference);
    assert.ok(d.layers.length >= 1);
    assert.equal((await cache.get(h.reference)).manifestDigest, h.manifestDigest);
    JSON.stringify(h.toJSON());
  }
  await rejects(cache.get("vg/missing:1"), "imageNotFound");
  await rejects(cache.inspect("UPPER/Case:1"), "invalidReference");
  await rejects(cache.remove(PINNED), "imageInUse");
  await rejects(cache.list({ signal: AbortSignal.abort() }), "aborted");
  await cache.diskUsage();
  // verify: clean, then with an orphan layer file (no row names it) that repair removes.
  assert.equal((await cache.verify()).ok, true);
  const orphan = path.join(home, "cache", "layers", `sha256_${String(i).padStart(64, "0")}.erofs`);
  fs.writeFileSync(orphan, Buffer.alloc(4096));
  const found = await cache.verify({ graceMs: 0 });
  assert.ok(found.findings.some((f) => f.kind === "orphan-file" && f.path === orphan), JSON.stringify(found.findings));
  const repaired = await cache.verify({ repair: true, graceMs: 0 });
  assert.equal(repaired.repaired.removed >= 1 && !fs.existsSync(orphan), true, JSON.stringify(repaired));
  const removed = await cache.remove("vg/app:latest");
  assert.equal(removed.manifestRemoved, false); // vg/app:1 still names it
  const plan = await cache.prune({ dryRun: true, keep: "vg/solo:*" });
  let events = 0;
  const report = await cache.prune({ plan, keep: "vg/solo:*", onProgress: () => events++ });
  assert.ok(report.manifestsRemoved >= 2, JSON.stringify(report));
  const rest = (await cache.list()).map((h) => h.reference).sort();
  assert.deepEqual(rest, [PINNED, "vg/solo:2"]);
  await cache.prune({ maxBytes: 0 }); // evicts vg/solo:2 too; the pinned image stays
  assert.deepEqual((await cache.list()).map((h) => h.reference), [PINNED]);
  await cache.close();
  await rejects(cache.list(), "cacheClosed");
  return events;
}

(async () => {
  let events = 0;
  for (let i = 0; i < rounds; i++) events += await round(i);
  console.log(`valgrind loop: ${rounds} rounds ok (${events} progress events)`);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
