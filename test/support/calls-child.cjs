// Runs every public call once against a home and prints one JSON line per call:
// {"call","ok":true,"value"} or {"call","ok":false,"code","message"}. Used to run the library as
// another (unprivileged) user: node calls-child.cjs <dist/index.js> <home> <reference>
"use strict";
const [, , entry, home, reference] = process.argv;
const { ImageCache } = require(entry);

(async () => {
  const c = new ImageCache({ home });
  const calls = [
    ["list", async () => (await c.list()).map((h) => h.reference).sort()],
    ["get", async () => (await c.get(reference)).manifestDigest],
    ["inspect", async () => (await c.inspect(reference)).layers.length],
    ["diskUsage", async () => (await c.diskUsage()).images.length],
    ["verify", async () => (await c.verify()).checked.references],
    ["prune", async () => (await c.prune()).imageRefsRemoved],
    ["remove", async () => (await c.remove(reference)).imageRefsRemoved],
  ];
  for (const [call, fn] of calls) {
    try {
      process.stdout.write(JSON.stringify({ call, ok: true, value: await fn() }) + "\n");
    } catch (e) {
      process.stdout.write(JSON.stringify({ call, ok: false, code: e.code, message: e.message }) + "\n");
    }
  }
  await c.close();
})().catch((e) => {
  process.stderr.write(String(e && e.stack) + "\n");
  process.exit(1);
});
