// prune() over more artifacts than one batch of the deleter (256, native/storage/artifact_deleter.cc):
// each later batch's locks and file status are taken on a second thread while the batch before it is
// unlinked, and its locks released there afterwards. Checked against `msb image prune` on a twin copy.
import { execFileSync } from "node:child_process";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";

import { ImageCache } from "../../lib/index";
import { buildFixture } from "../support/fixture";
import { copyHome, holdFlock, listFiles, makeHome, msbImageJson, sql } from "../support/msb";

const homes: string[] = [];
afterEach(async () => {
  for (const h of homes.splice(0)) await rm(h, { recursive: true, force: true });
});

/** Takes and drops every lock without waiting, in another process: fails if anyone still holds one. */
function takeEveryLock(paths: string[]): void {
  execFileSync("python3", [
    "-c",
    "import fcntl,os,sys\nfor p in sys.argv[1:]:\n fd=os.open(p,os.O_RDWR)\n fcntl.flock(fd,fcntl.LOCK_EX|fcntl.LOCK_NB)\n os.close(fd)",
    ...paths,
  ]);
}

describe("prune() across many batches", () => {
  it("deletes what msb image prune deletes, keeps a locked layer of a later batch, and leaves no lock held or made", async () => {
    const home = await makeHome();
    homes.push(home);
    // 150 images: 150 metadata files and 150 manifests come first, so every layer is in a later batch.
    await buildFixture(home, { images: 150, seed: 5 });
    const twin = await copyHome(home);
    homes.push(twin);
    const cacheDir = join(home, "cache");
    const [layer] = await sql<{ diff_id: string }>(home, "SELECT diff_id FROM layer ORDER BY id DESC LIMIT 1");
    const layerFile = `layers/${layer!.diff_id.replace(":", "_")}.erofs`;
    const release = await holdFlock(join(cacheDir, layerFile + ".lock"));
    const isLock = (p: string) => p.endsWith(".lock");
    const locksBefore = (await listFiles(cacheDir)).map((f) => f.path).filter(isLock);
    const cache = new ImageCache({ home });
    let ours;
    try {
      ours = await cache.prune();
    } finally {
      await release();
      await cache.close();
    }
    const theirs = await msbImageJson<{ image_refs_removed: number; layers_removed: number }>(twin, ["prune", "--yes"]);

    expect(ours.errors).toEqual([]);
    expect(ours.skipped).toEqual([{ kind: "layer", id: layer!.diff_id, reason: "locked" }]);
    expect(ours.imageRefsRemoved).toBe(theirs.image_refs_removed);
    expect(ours.layersRemoved).toBe(theirs.layers_removed);
    const after = (await listFiles(cacheDir)).map((f) => f.path);
    const msbAfter = (await listFiles(join(twin, "cache"))).map((f) => f.path).filter((p) => !isLock(p));
    expect(after.filter((p) => !isLock(p)).sort()).toEqual([...msbAfter, layerFile].sort());
    // The lock files this run made for msb's protocol are gone again, msb's stay (and prune's own, which
    // keeps two prunes apart), and no one holds any of them.
    const locksAfter = after.filter(isLock);
    expect(locksAfter.sort()).toEqual([...locksBefore, ".msb-image-cache.prune.lock"].sort());
    expect(locksAfter.length).toBeGreaterThan(300);
    takeEveryLock(locksAfter.map((p) => join(cacheDir, p)));
  });
});
