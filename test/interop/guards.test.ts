// Decisions the library exists for, each pinned down by a test that fails when the decision is
// dropped (issue 17): a pin through `sandbox.active_config` only, the cache location from
// config.json's `paths.cache` and the `cacheDir` option, allocated bytes from st_blocks, and where
// the maxBytes budget puts references whose last-used time cannot be read.
import { existsSync } from "node:fs";
import { lstat, readdir, readFile, rename, truncate, writeFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { ImageCache, ImageInUseError } from "../../lib/index";
import { contentFingerprint, copyHome, holdWriteLock, listFiles, makeHome, msbLoad, msbTimestamp, sql } from "../support/msb";
import { oracleStem } from "../support/oracle";
import { sampleCacheEach, SAMPLE_REFERENCES } from "../support/sample-cache";
import { writeDockerSave } from "../support/docker-save";

let home: string;
let cache: ImageCache;
sampleCacheEach((h, c) => {
  home = h;
  cache = c;
});

async function digestOf(h: string, reference: string): Promise<string> {
  const [row] = await sql<{ digest: string }>(
    h,
    "SELECT m.digest FROM image_ref r JOIN manifest m ON m.id = r.manifest_id WHERE r.reference = ?",
    [reference],
  );
  if (!row) throw new Error(`no ${reference} in ${h}`);
  return row.digest;
}

/** The files of an image, from the rows (independently of the library). */
async function filesOf(h: string, reference: string): Promise<string[]> {
  const digest = await digestOf(h, reference);
  const layers = await sql<{ diff_id: string }>(
    h,
    "SELECT l.diff_id FROM image_ref r JOIN manifest_layer ml ON ml.manifest_id = r.manifest_id JOIN layer l ON l.id = ml.layer_id WHERE r.reference = ?",
    [reference],
  );
  return [
    `fsmeta/${oracleStem(digest)}.erofs`,
    `vmdk/${oracleStem(digest)}.vmdk`,
    ...layers.map((l) => `layers/${oracleStem(l.diff_id)}.erofs`),
  ];
}

/** A sandbox that names the image only in `active_config` (config `{}`, no sandbox_rootfs row). */
async function pinByActiveConfig(h: string, name: string, digest: string): Promise<void> {
  const now = msbTimestamp();
  await sql(h, "INSERT INTO sandbox(name, config, active_config, status, created_at, updated_at) VALUES (?, '{}', ?, 'Stopped', ?, ?)", [
    name,
    JSON.stringify({ image: "plain", manifest_digest: digest }),
    now,
    now,
  ]);
  const [n] = await sql<{ n: number }>(h, "SELECT count(*) AS n FROM sandbox_rootfs");
  expect(n!.n).toBe(0); // the pin is active_config and nothing else
}

describe("a pin through sandbox.active_config only", () => {
  it("is honoured by prune(): the image and its files stay, everything else goes", async () => {
    const digest = await digestOf(home, "plain");
    await pinByActiveConfig(home, "restarting", digest);
    const files = await filesOf(home, "plain");
    const r = await cache.prune();
    expect((await cache.list()).map((h) => h.reference)).toEqual(["plain"]);
    expect(r.imageRefsRemoved).toBe(SAMPLE_REFERENCES.length - 1);
    expect(r.skipped).toContainEqual({ kind: "reference", id: "plain", reason: "pinned" });
    for (const f of files) expect(existsSync(join(home, "cache", f)), f).toBe(true);
  });

  it("is honoured by remove() without force: ImageInUseError naming the sandbox, nothing changed", async () => {
    const digest = await digestOf(home, "plain");
    await pinByActiveConfig(home, "restarting", digest);
    const before = await contentFingerprint(join(home, "cache"));
    const err = await cache.remove("plain").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageInUseError);
    expect((err as ImageInUseError).code).toBe("imageInUse");
    expect((err as ImageInUseError).sandboxes).toEqual(["restarting"]);
    expect((await cache.list()).map((h) => h.reference)).toContain("plain");
    expect(await contentFingerprint(join(home, "cache"))).toBe(before);
  });

  it("is reported by diskUsage() as pinnedBy and left out of reclaimableBytes", async () => {
    const digest = await digestOf(home, "plain");
    const unpinned = await cache.diskUsage();
    expect(unpinned.images.find((i) => i.reference === "plain")!.pinnedBy).toEqual([]);
    await pinByActiveConfig(home, "restarting", digest);
    const u = await cache.diskUsage();
    expect(u.images.find((i) => i.reference === "plain")!.pinnedBy).toEqual(["sandbox:restarting"]);
    for (const i of u.images.filter((x) => x.reference !== "plain")) expect(i.pinnedBy).toEqual([]);
    // plain's files are its own (no shared layer), so the pin takes exactly them out of what is reclaimable
    const sizes = new Map((await listFiles(join(home, "cache"))).map((f) => [f.path, f.size]));
    const own = (await filesOf(home, "plain")).reduce((n, f) => n + sizes.get(f)!, 0);
    expect(unpinned.reclaimableBytes - u.reclaimableBytes).toBeGreaterThanOrEqual(own);
    const r = await cache.prune();
    expect(u.reclaimableBytes).toBe(r.bytesReclaimed);
  });
});

describe("which cache", () => {
  // Two different caches for one database: the configured one holds the files msb wrote for it;
  // the default location <home>/cache holds another home's cache (other images, other sizes).
  async function twoCaches(): Promise<{ configured: string; decoy: string }> {
    const other = await makeHome();
    await writeDockerSave(join(other, "other.tar"), [
      { repoTags: ["other:1"], layers: [{ files: [{ path: "big", content: Buffer.alloc(70_000, 3) }] }] },
    ]);
    await msbLoad(other, join(other, "other.tar"));
    const configured = join(await makeHome(), "moved-cache");
    await rename(join(home, "cache"), configured);
    await copyHome(join(other, "cache"), join(home, "cache"));
    return { configured, decoy: join(home, "cache") };
  }

  const totalOf = async (dir: string) => (await listFiles(dir)).reduce((n, f) => n + f.size, 0);

  async function expectUses(c: ImageCache, configured: string, decoy: string): Promise<void> {
    const decoyPrint = await contentFingerprint(decoy);
    const u = await c.diskUsage();
    expect(u.totalBytes).toBe(await totalOf(configured));
    expect(u.totalBytes).not.toBe(await totalOf(decoy));
    const plainLayer = (await c.inspect("plain")).layers[0]!;
    const layerFile = join(configured, "layers", oracleStem(plainLayer.diffId) + ".erofs");
    expect(plainLayer.erofsSizeBytes).toBe((await lstat(layerFile)).size);
    // prune deletes in the configured cache and never in the other one
    const r = await c.prune();
    expect(r.imageRefsRemoved).toBe(SAMPLE_REFERENCES.length);
    expect(existsSync(layerFile)).toBe(false);
    expect((await readdir(join(configured, "layers"))).filter((f) => !f.endsWith(".lock"))).toEqual([]);
    expect(await contentFingerprint(decoy)).toBe(decoyPrint);
    await c.close();
  }

  it("config.json's paths.cache moves the cache away from <home>/cache", async () => {
    const { configured, decoy } = await twoCaches();
    await writeFile(join(home, "config.json"), JSON.stringify({ paths: { cache: configured } }));
    await expectUses(new ImageCache({ home }), configured, decoy);
  });

  it("the cacheDir option moves it too (and beats paths.cache)", async () => {
    const { configured, decoy } = await twoCaches();
    await writeFile(join(home, "config.json"), JSON.stringify({ paths: { cache: decoy } }));
    await expectUses(new ImageCache({ home, cacheDir: configured }), configured, decoy);
  });
});

describe("allocatedBytes", () => {
  it("is Σ st_blocks × 512 of every file under the cache (lstat, not following links)", async () => {
    const root = join(home, "cache");
    await mkdir(join(root, "tmp"), { recursive: true });
    // A sparse file (large size, few blocks) and a small one (small size, a whole block): st_size and
    // st_blocks × 512 differ in opposite directions.
    await writeFile(join(root, "tmp", "sparse.part"), "");
    await truncate(join(root, "tmp", "sparse.part"), 64 * 1024 * 1024);
    await writeFile(join(root, "tmp", "tiny.part"), "x");
    let allocated = 0;
    let size = 0;
    async function walk(d: string): Promise<void> {
      for (const e of await readdir(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) await walk(p);
        else {
          const s = await lstat(p);
          allocated += s.blocks * 512;
          size += s.size;
        }
      }
    }
    await walk(root);
    expect(allocated).not.toBe(size);
    const u = await cache.diskUsage();
    expect(u.totalBytes).toBe(size);
    expect(u.allocatedBytes).toBe(allocated);
  });
});

describe("the maxBytes budget with unparseable last-used times", () => {
  // docs/api.md: "least recently used first (unknown lastUsedAt last)"; native/storage/budget.cc sorts a
  // missing time after every known one, so an image whose age cannot be read is not taken for old.
  it("evicts every image with a known time before one whose time cannot be read", async () => {
    const known = ["tools:2.0", "base:1", "localhost:5000/team/app:1", "app:1", "app:latest", "docker.io/library/app:2"];
    for (const [i, ref] of known.entries()) {
      await sql(home, "UPDATE image_ref SET created_at = ?, updated_at = ? WHERE reference = ?", [
        msbTimestamp(new Date(Date.UTC(2026, 0, 1))),
        msbTimestamp(new Date(Date.UTC(2026, 0, 2 + i))),
        ref,
      ]);
    }
    // plain: a garbage last-used time (and a created time as old as it gets, so "oldest" cannot be
    // read from it either).
    await sql(home, "UPDATE image_ref SET created_at = '1970-01-01 00:00:00', updated_at = 'yesterday-ish' WHERE reference = 'plain'");
    expect((await cache.get("plain")).lastUsedAt).toBeNull();
    const u = await cache.diskUsage();
    // Just past the budget (whichever total the budget measures): one eviction, the oldest known.
    const budget = Math.min(u.totalBytes, u.allocatedBytes) - 1;
    const one = await cache.prune({ maxBytes: budget, dryRun: true });
    const taken = one.removed.references.map((r) => r.reference);
    expect(taken).toContain("tools:2.0");
    expect(taken).not.toContain("plain");
    // plain is eligible: a budget of 0 takes it too (last).
    const all = await cache.prune({ maxBytes: 0, dryRun: true });
    expect(all.removed.references.map((r) => r.reference).sort()).toEqual([...SAMPLE_REFERENCES].sort());
  });
});

describe("the row re-check", () => {
  it("keeps a file rewritten after the prune's transaction began (in-use-again), and only that one", async () => {
    // Another process holds SQLite's write lock, so the prune, having taken its start time, waits at
    // BEGIN; on its first progress event (rows 0/1) the test rewrites tools:2.0's fsmeta (a load
    // re-materialising it), then releases the lock through a pipe. The 20 ms pause only puts the rewrite
    // clearly after the start time the prune took right after that event (ctime is coarse).
    const digest = await digestOf(home, "tools:2.0");
    const fsmeta = join(home, "cache", "fsmeta", oracleStem(digest) + ".erofs");
    const vmdk = join(home, "cache", "vmdk", oracleStem(digest) + ".vmdk");
    const holder = await holdWriteLock(home);
    let rewritten: Promise<void> | undefined;
    const r = await cache.prune({
      onProgress: () => {
        rewritten ??= (async () => {
          await new Promise((res) => setTimeout(res, 20));
          await writeFile(fsmeta, await readFile(fsmeta));
          holder.stdin!.end();
        })();
      },
    });
    await rewritten;
    expect(r.imageRefsRemoved).toBe(SAMPLE_REFERENCES.length);
    expect(r.skipped).toContainEqual({ kind: "manifest", id: digest, reason: "in-use-again" });
    expect(existsSync(fsmeta)).toBe(true);
    // the re-check is per artifact: the rest went (the VMDK is the manifest's too, so it stays with it)
    expect(existsSync(vmdk)).toBe(true);
    const fsmetaLeft = (await readdir(join(home, "cache", "fsmeta"))).filter((f) => f.endsWith(".erofs"));
    expect(fsmetaLeft).toEqual([oracleStem(digest) + ".erofs"]);
  });
});
