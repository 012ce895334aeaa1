// A process that prunes one home with the built library and reports as it goes, one line per event on
// stdout, so a parent can SIGKILL it at a chosen point (test/interop/crash.test.ts):
//   ready <ms>                 the cache is open (a list() ran), the prune starts now
//   p <phase> <done> <total>   each onProgress event (phase rows: 0/1 before BEGIN, 1/1 after COMMIT)
//   done <report JSON>         the prune resolved; the process then exits only when its stdin ends, so a
//                              parent that kills on an event can never be beaten by the exit
// usage: node prune-child.cjs <dist/index.js> <home>
"use strict";
const [, , entry, home] = process.argv;
const { ImageCache } = require(entry);

const out = (line) => process.stdout.write(line + "\n");

(async () => {
  const cache = new ImageCache({ home });
  await cache.list();
  out(`ready ${performance.now().toFixed(3)}`);
  const report = await cache.prune({ onProgress: (e) => out(`p ${e.phase} ${e.done} ${e.total} ${performance.now().toFixed(3)}`) });
  out(`done ${JSON.stringify({ imageRefsRemoved: report.imageRefsRemoved, layerFilesRemoved: report.layerFilesRemoved, skipped: report.skipped, errors: report.errors })}`);
  await cache.close();
  process.stdin.resume();
  await new Promise((r) => process.stdin.once("end", r).once("close", r));
})().catch((e) => {
  process.stderr.write(String(e && e.stack) + "\n");
  process.exit(1);
});
