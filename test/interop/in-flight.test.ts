// Files msb is still writing. msb writes an image's layers, fsmeta + VMDK and metadata JSON first and its rows
// last, holding no lock in between; a prune that asks only the rows could take, inside that window, a file the
// new image reuses from one it prunes (the race test found exactly that: test/interop/race.test.ts). Here the
// window is frozen: a twin home gets the new image from the real `msb load`, and the files that load wrote are
// copied into the home being pruned — files without rows, as msb leaves them just before its commit. After
// the prune, the new image must still be a cache hit (checked by the independent oracle): when msb commits
// its rows, it has everything.
import { createHash } from "node:crypto";
import { copyFile, readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { ImageCache } from "../../lib/index";
import { writeDockerSave } from "../support/docker-save";
import { copyHome, msbImage, msbLoad, sql } from "../support/msb";
import { cacheHitProblems, metadataFileName, oracleStem } from "../support/oracle";
import { SAMPLE_IMAGES, sampleCacheEach } from "../support/sample-cache";

let home: string;
let cache: ImageCache;
sampleCacheEach((h, c) => {
  home = h;
  cache = c;
});

async function digestOf(h: string, ref: string): Promise<string> {
  const [row] = await sql<{ digest: string }>(h, "SELECT m.digest FROM image_ref r JOIN manifest m ON m.id = r.manifest_id WHERE r.reference = ?", [ref]);
  return row!.digest;
}

async function layersOf(h: string, ref: string): Promise<string[]> {
  const rows = await sql<{ diff_id: string }>(
    h,
    "SELECT l.diff_id FROM image_ref r JOIN manifest_layer ml ON ml.manifest_id = r.manifest_id JOIN layer l ON l.id = ml.layer_id WHERE r.reference = ? ORDER BY ml.position",
    [ref],
  );
  return rows.map((r) => r.diff_id);
}

/**
 * `msb load`s `tar` into a twin of `home`, then copies every cache file that load created or rewrote into
 * `home`, without its rows: the cache as msb leaves it right before it commits. Returns the copied paths.
 */
async function freezeLoad(tar: string): Promise<string[]> {
  const twin = await copyHome(home);
  const dirs = ["layers", "fsmeta", "vmdk", "manifests"];
  const snapshot = async () => {
    const m = new Map<string, string>();
    for (const d of dirs) {
      for (const n of await readdir(join(twin, "cache", d))) {
        const st = await stat(join(twin, "cache", d, n), { bigint: true });
        m.set(`${d}/${n}`, `${st.ino}:${st.ctimeNs}`);
      }
    }
    return m;
  };
  const before = await snapshot();
  await msbLoad(twin, tar);
  const copied: string[] = [];
  for (const [p, id] of await snapshot()) {
    if (p.endsWith(".lock") || before.get(p) === id) continue; // untouched by the load
    await copyFile(join(twin, "cache", p), join(home, "cache", p));
    copied.push(p);
  }
  return copied.sort();
}

/** `late:1`, which reuses plain's only layer (SOLO) and adds one of its own, frozen between its files and rows. */
async function freezeLateLoad(): Promise<{ solo: string; tar: string; copied: string[] }> {
  const plain = SAMPLE_IMAGES.find((i) => i.repoTags.includes("plain"))!;
  const tar = join(home, "late.tar");
  await writeDockerSave(tar, [{ repoTags: ["late:1"], layers: [plain.layers[0]!, { files: [{ path: "late", content: "late\n" }] }] }]);
  const [solo] = await layersOf(home, "plain");
  return { solo: solo!, tar, copied: await freezeLoad(tar) };
}

describe("a prune while msb is between writing an image's files and its rows", () => {
  it("keeps a layer the new image reuses from an image it prunes", async () => {
    const plainDigest = await digestOf(home, "plain");
    const { solo, tar, copied } = await freezeLateLoad();
    expect(copied.filter((p) => p.startsWith("manifests/"))).toEqual([`manifests/${metadataFileName("late:1")}`]);
    expect(copied).not.toContain(`layers/${oracleStem(solo)}.erofs`); // reused, not rewritten

    const r = await cache.prune();
    expect(r.imageRefsRemoved).toBe(7);
    expect(r.skipped).toContainEqual({ kind: "layer", id: solo, reason: "in-use-by-files" });
    expect(r.errors).toEqual([]);
    // plain's own files went; what late:1 needs is all there.
    expect(await cacheHitProblems(join(home, "cache"), "plain")).not.toEqual([]);
    expect(r.removed.manifests.map((m) => m.digest)).toContain(plainDigest);
    expect(await cacheHitProblems(join(home, "cache"), "late:1")).toEqual([]);

    // msb's load now finds every file in place and commits its rows: a complete image.
    await msbLoad(home, tar);
    expect((await msbImage(home, ["inspect", "late:1"])).code).toBe(0);
    expect(await cacheHitProblems(join(home, "cache"), "late:1", { digest: await digestOf(home, "late:1") })).toEqual([]);
  });

  it("keeps that layer when it is one of 5,000 rowless files the guard must read", async () => {
    // 5,000 rowless metadata files written just now, naming digests nobody has: the guard reads them all,
    // beside late:1's files, and must still find the one that names the reused layer.
    const { solo } = await freezeLateLoad();
    const hex = (i: number, salt: string) => createHash("sha256").update(`${salt}${i}`).digest("hex");
    for (let i = 0; i < 5000; i++) {
      const doc = { manifest_digest: `sha256:${hex(i, "m")}`, layers: [{ diff_id: `sha256:${hex(i, "l")}` }] };
      await writeFile(join(home, "cache", "manifests", `${hex(i, "f")}.json`), JSON.stringify(doc));
    }
    const r = await cache.prune();
    expect(r.skipped).toContainEqual({ kind: "layer", id: solo, reason: "in-use-by-files" });
    expect(r.errors).toEqual([]);
    expect(await cacheHitProblems(join(home, "cache"), "late:1")).toEqual([]);
  });

  it("keeps a manifest's VMDK, fsmeta and layers when the new reference is to the same image", async () => {
    const tools = SAMPLE_IMAGES.find((i) => i.repoTags.includes("tools:2.0"))!;
    const tar = join(home, "again.tar");
    await writeDockerSave(tar, [{ ...tools, repoTags: ["tools:again"] }]);
    const digest = await digestOf(home, "tools:2.0");
    const [layer] = await layersOf(home, "tools:2.0");
    const copied = await freezeLoad(tar);
    expect(copied).toEqual([`manifests/${metadataFileName("tools:again")}`]); // everything else reused

    const r = await cache.prune();
    expect(r.skipped).toContainEqual({ kind: "manifest", id: digest, reason: "in-use-by-files" });
    expect(r.skipped).toContainEqual({ kind: "layer", id: layer, reason: "in-use-by-files" });
    expect(await cacheHitProblems(join(home, "cache"), "tools:again")).toEqual([]);
  });

  it("keeps a metadata file a load has rewritten for another image (re-tag), and that image's files", async () => {
    // app:latest moves to a new image that shares BASE with app.
    const base = SAMPLE_IMAGES.find((i) => i.repoTags.includes("base:1"))!;
    const tar = join(home, "retag.tar");
    await writeDockerSave(tar, [{ repoTags: ["app:latest"], layers: [base.layers[0]!, { files: [{ path: "next", content: "next\n" }] }] }]);
    const [baseLayer] = await layersOf(home, "base:1");
    const copied = await freezeLoad(tar);
    expect(copied).toContain(`manifests/${metadataFileName("app:latest")}`);

    const r = await cache.prune();
    expect(r.skipped).toContainEqual({ kind: "metadata", id: "docker.io/library/app:latest", reason: "in-use-again" });
    expect(r.skipped).toContainEqual({ kind: "layer", id: baseLayer, reason: "in-use-by-files" });
    expect(await cacheHitProblems(join(home, "cache"), "app:latest")).toEqual([]);
  });

  it("sees files written after an earlier removal on the same instance (what it read then is brought up to date)", async () => {
    // The instance keeps what each file names between removals and re-reads only files changed since
    // (native/write_path/in_flight.cc): a dry run reads every file now, then a load re-tags app:latest and adds late:1.
    const plain = SAMPLE_IMAGES.find((i) => i.repoTags.includes("plain"))!;
    const base = SAMPLE_IMAGES.find((i) => i.repoTags.includes("base:1"))!;
    const tar = join(home, "both.tar");
    await writeDockerSave(tar, [
      { repoTags: ["app:latest"], layers: [base.layers[0]!, { files: [{ path: "next", content: "next\n" }] }] },
      { repoTags: ["late:1"], layers: [plain.layers[0]!, { files: [{ path: "late", content: "late\n" }] }] },
    ]);
    const [baseLayer] = await layersOf(home, "base:1");
    const [solo] = await layersOf(home, "plain");
    const dry = await cache.prune({ dryRun: true });
    expect(dry.skipped).toEqual([]);
    // one more removal before the load; it must succeed (its failure would leave the test about nothing)
    const removed = await cache.remove("tools:2.0", { force: true });
    expect(removed).toMatchObject({ reference: "tools:2.0", manifestRemoved: true });
    expect(removed.imageRefsRemoved).toBe(1);
    await freezeLoad(tar);

    const r = await cache.prune();
    expect(r.skipped).toContainEqual({ kind: "metadata", id: "docker.io/library/app:latest", reason: "in-use-again" });
    expect(r.skipped).toContainEqual({ kind: "layer", id: baseLayer, reason: "in-use-by-files" });
    expect(r.skipped).toContainEqual({ kind: "layer", id: solo, reason: "in-use-by-files" });
    expect(await cacheHitProblems(join(home, "cache"), "app:latest")).toEqual([]);
    expect(await cacheHitProblems(join(home, "cache"), "late:1")).toEqual([]);
  });

  it("msb's own prune, on the same frozen cache, deletes the reused layer (the defect this guards against)", async () => {
    const { solo } = await freezeLateLoad();
    const r = await msbImage(home, ["prune", "--yes"]);
    expect(r.code, r.stderr).toBe(0);
    expect(await cacheHitProblems(join(home, "cache"), "late:1")).toEqual([`late:1: layer ${solo} missing`]);
  });

  it("without files in flight, takes everything, as before", async () => {
    const r = await cache.prune();
    expect(r.skipped).toEqual([]);
    expect(r.imageRefsRemoved).toBe(7);
    const left = (await readdir(join(home, "cache", "layers"))).filter((n) => !n.endsWith(".lock"));
    expect(left).toEqual([]);
  });
});
