// prune()'s disk-aware targets on a real, small file system: a 64 MiB tmpfs as the msb home, filled
// by the real `msb load`. minFreeSpace, maxBytes as bytes and as a share of the file system,
// reservedSpace, ordered policies, keep functions, pins, and ensureFree. Every expectation is
// computed independently from the allocated sizes (st_blocks × 512) of the files each image owns.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cp, mkdtemp, rm, stat, statfs } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { ImageCache, type ImagePruneReport, InsufficientSpaceError } from "../../lib/index";
import { writeDockerSave } from "../support/docker-save";
import { cleanupHomes, listFiles, makeHome, msbLoad, msbTimestamp, pinImage, sql } from "../support/msb";
import { metadataFileName, oracleStem } from "../support/oracle";

const isRoot = process.getuid?.() === 0;
const MiB = 1 << 20;

// Least recently used first; the two CI images are the most recently used.
const LRU = ["a:1", "b:1", "c:1", "d:1", "ci/e:1", "ci/f:1"];
let template: string;
let mnt: string;
let cache: ImageCache;

beforeAll(async () => {
  if (!isRoot) return;
  template = await makeHome("msbdt-");
  const tars = await makeHome("msbdt-tar-");
  for (const [i, ref] of LRU.entries()) {
    const tar = join(tars, `${i}.tar`);
    await writeDockerSave(tar, [
      {
        repoTags: [ref],
        layers: [
          { files: [{ path: "base", content: "shared base layer" }] },
          { files: [{ path: "blob", content: randomBytes(5 * MiB) }] },
        ],
      },
    ]);
    await msbLoad(template, tar);
  }
  for (const [i, ref] of LRU.entries()) {
    await sql(template, "UPDATE image_ref SET updated_at = ? WHERE reference = ?", [msbTimestamp(new Date(Date.UTC(2026, 0, 1 + i))), ref]);
  }
  // created long ago, so minAge does not get in the way unless a test sets it
  await sql(template, "UPDATE image_ref SET created_at = ?", [msbTimestamp(new Date(Date.UTC(2025, 0, 1)))]);
}, 120_000);

afterAll(async () => {
  await cleanupHomes();
});

beforeEach(async () => {
  if (!isRoot) return;
  mnt = await mkdtemp(join(tmpdir(), "msbdt-fs-"));
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=64m", "tmpfs", mnt]);
  await cp(template, mnt, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
  cache = new ImageCache({ home: mnt });
  // Open the database before anything measures free space: while it is open its msb.db-shm takes
  // 32 KiB of this file system, and a prune checks the database before it measures.
  await cache.list();
});

afterEach(async () => {
  if (!isRoot) return;
  await cache.close();
  execFileSync("umount", [mnt]);
  await rm(mnt, { recursive: true, force: true });
});

const testRoot = isRoot ? it : it.skip;

async function fsFree(): Promise<{ size: number; free: number }> {
  const s = await statfs(join(mnt, "cache"));
  return { size: s.blocks * s.bsize, free: s.bavail * s.bsize };
}

async function allocated(path: string): Promise<number> {
  try {
    return (await stat(path)).blocks * 512;
  } catch {
    return 0;
  }
}

/** The cache's allocated bytes, counted here (every file under cache/). */
async function cacheBytes(): Promise<number> {
  let total = 0;
  for (const f of await listFiles(join(mnt, "cache"))) total += await allocated(join(mnt, "cache", f.path));
  return total;
}

/**
 * Bytes freed after removing each prefix of `order`: an image's metadata JSON, fsmeta, VMDK and
 * unique layer go with it; the shared base layer only with the last image that uses it.
 */
async function cumulativeFreed(order: string[]): Promise<number[]> {
  const rows = await sql<{ reference: string; digest: string; diff_id: string }>(
    mnt,
    `SELECT r.reference, m.digest, l.diff_id FROM image_ref r JOIN manifest m ON m.id = r.manifest_id
       JOIN manifest_layer ml ON ml.manifest_id = m.id JOIN layer l ON l.id = ml.layer_id`,
  );
  const users = new Map<string, Set<string>>();
  for (const r of rows) {
    if (!users.has(r.diff_id)) users.set(r.diff_id, new Set());
    users.get(r.diff_id)!.add(r.reference);
  }
  const gone = new Set<string>();
  const out: number[] = [];
  let freed = 0;
  const c = join(mnt, "cache");
  for (const ref of order) {
    const mine = rows.filter((r) => r.reference === ref);
    const digest = mine[0]!.digest;
    freed += await allocated(join(c, "manifests", metadataFileName(ref)));
    freed += await allocated(join(c, "fsmeta", oracleStem(digest) + ".erofs"));
    freed += await allocated(join(c, "vmdk", oracleStem(digest) + ".vmdk"));
    gone.add(ref);
    for (const r of mine) {
      if ([...users.get(r.diff_id)!].every((u) => gone.has(u))) freed += await allocated(join(c, "layers", oracleStem(r.diff_id) + ".erofs"));
    }
    out.push(freed);
  }
  return out;
}

const removed = (r: ImagePruneReport) => r.removed.references.map((x) => x.reference);
const listed = async () => (await cache.list()).map((h) => h.reference).sort();

/** Rows and files, to show a refusal changed nothing. */
async function snapshot(): Promise<string> {
  const rows = await sql(mnt, "SELECT reference, manifest_id, updated_at FROM image_ref ORDER BY reference");
  const files = (await listFiles(join(mnt, "cache"))).filter((f) => !f.path.endsWith(".lock")).map((f) => f.path).sort();
  return JSON.stringify({ rows, files });
}

describe("the space the targets measure", () => {
  testRoot("report.space: allocated bytes as df shows them, the file system's size and free space, before and after", async () => {
    const du = await cache.diskUsage();
    const { size, free } = await fsFree();
    const dry = await cache.prune({ maxBytes: "100%", dryRun: true });
    expect(dry.space).toMatchObject({ bytesBefore: du.allocatedBytes, bytesAfter: du.allocatedBytes, fsSize: size, fsFreeBefore: free, met: true });
    expect(du.allocatedBytes).toBe(await cacheBytes());
    expect(dry.space!.budget.maxBytes).toBe(size);
  });
});

describe("minFreeSpace", () => {
  testRoot("evicts least recently used first, exactly as many as needed to have that much free", async () => {
    const freed = await cumulativeFreed(LRU);
    const { free } = await fsFree();
    // Three evictions are needed: after two, one byte is missing.
    const goal = free + freed[1]! + 1;
    const dry = await cache.prune({ minFreeSpace: goal, dryRun: true });
    expect(removed(dry)).toEqual(LRU.slice(0, 3));
    expect(dry.space!.fsFreeAfter).toBe(free + freed[2]!);
    expect(dry.space!.met).toBe(true);

    const real = await cache.prune({ minFreeSpace: goal });
    expect(removed(real)).toEqual(removed(dry));
    expect(real.removed.references.every((r) => r.policy === 0)).toBe(true);
    expect(real.space!.bytesAfter).toBe(dry.space!.bytesAfter);
    expect(real.space!.bytesAfter).toBe(await cacheBytes());
    expect((await fsFree()).free).toBeGreaterThanOrEqual(goal - 2 * MiB); // msb.db-wal lives here too
    expect(real.space!.fsFreeAfter).toBe((await fsFree()).free);
    expect(await listed()).toEqual(LRU.slice(3).sort());
  });

  testRoot("as a share of the file system", async () => {
    const freed = await cumulativeFreed(LRU);
    const { size, free } = await fsFree();
    // A share that needs exactly two evictions.
    const percent = (((free + (freed[0]! + freed[1]!) / 2) / size) * 100).toFixed(4);
    const r = await cache.prune({ minFreeSpace: `${percent}%`, dryRun: true });
    expect(r.space!.budget.minFreeSpace).toBe(Math.floor((size * Number(percent)) / 100));
    expect(removed(r)).toEqual(LRU.slice(0, 2));
  });

  testRoot("already met: nothing goes", async () => {
    const { free } = await fsFree();
    const r = await cache.prune({ minFreeSpace: free });
    expect(removed(r)).toEqual([]);
    expect(await listed()).toEqual([...LRU].sort());
  });
});

describe("maxBytes on allocated bytes", () => {
  testRoot("as a share of the file system: the cache ends at most that big, with the fewest evictions", async () => {
    const freed = await cumulativeFreed(LRU);
    const before = await cacheBytes();
    const { size } = await fsFree();
    const budget = before - (freed[0]! + freed[1]!) / 2; // one eviction is not enough, two are
    const percent = ((budget / size) * 100).toFixed(4);
    const resolved = Math.floor((size * Number(percent)) / 100);
    expect(before - freed[0]!).toBeGreaterThan(resolved);
    expect(before - freed[1]!).toBeLessThanOrEqual(resolved);
    const r = await cache.prune({ maxBytes: `${percent}%` });
    expect(removed(r)).toEqual(LRU.slice(0, 2));
    expect(r.space!.budget.maxBytes).toBe(resolved);
    expect(await cacheBytes()).toBe(before - freed[1]!);
    expect((await cache.diskUsage()).allocatedBytes).toBeLessThanOrEqual(resolved);
  });

  testRoot("as a size string", async () => {
    const before = await cacheBytes();
    const r = await cache.prune({ maxBytes: "1MiB", dryRun: true });
    expect(removed(r)).toEqual(LRU); // the base layer goes with the last image
    expect(r.space!.bytesBefore).toBe(before);
    expect(r.space!.bytesAfter).toBeLessThanOrEqual(1 * MiB);
  });
});

describe("reservedSpace", () => {
  testRoot("the cache never shrinks below it, even when the other targets stay unmet", async () => {
    const freed = await cumulativeFreed(LRU);
    const before = await cacheBytes();
    const reserved = before - freed[1]! - 1; // a third eviction would go below it
    const r = await cache.prune({ maxBytes: 0, reservedSpace: reserved });
    expect(removed(r)).toEqual(LRU.slice(0, 2));
    expect(r.space!.met).toBe(false);
    expect(await cacheBytes()).toBe(before - freed[1]!);
    expect(await cacheBytes()).toBeGreaterThanOrEqual(reserved);
  });

  testRoot("bounds a prune without size goals too", async () => {
    const freed = await cumulativeFreed(LRU);
    const before = await cacheBytes();
    const r = await cache.prune({ reservedSpace: before - freed[3]!, dryRun: true });
    expect(removed(r)).toEqual(LRU.slice(0, 4));
  });
});

describe("policies", () => {
  testRoot("the first policy's images go first; the second runs only while the targets are unmet", async () => {
    const ciFirst = ["ci/e:1", "ci/f:1", ...LRU.slice(0, 4)];
    const freed = await cumulativeFreed(ciFirst);
    const { free } = await fsFree();
    const policies = [{ filter: { reference: "ci/*" } }, {}];
    // Met by the CI images alone: the second policy removes nothing.
    const one = await cache.prune({ minFreeSpace: free + (freed[0]! + freed[1]!) / 2, policies, dryRun: true });
    expect(one.removed.references.map((r) => [r.reference, r.policy])).toEqual([
      ["ci/e:1", 0],
      ["ci/f:1", 0],
    ]);
    // One image more is needed: the least recently used one, by the second policy.
    const two = await cache.prune({ minFreeSpace: free + (freed[1]! + freed[2]!) / 2, policies });
    expect(two.removed.references.map((r) => [r.reference, r.policy]).sort()).toEqual([
      ["a:1", 1],
      ["ci/e:1", 0],
      ["ci/f:1", 0],
    ]);
    expect(await listed()).toEqual(["b:1", "c:1", "d:1"]);
  });

  testRoot("a policy without goals removes all its candidates (BuildKit's keepDuration-only policy)", async () => {
    const freed = await cumulativeFreed(["ci/e:1", "ci/f:1", ...LRU.slice(0, 4)]);
    const before = await cacheBytes();
    const budget = before - (freed[1]! + freed[2]!) / 2; // the CI images and one more
    const r = await cache.prune({ policies: [{ olderThan: "1d", filter: { reference: "ci/*" } }, { maxBytes: budget }], dryRun: true });
    expect(r.removed.references.map((x) => [x.reference, x.policy]).sort()).toEqual([
      ["a:1", 1],
      ["ci/e:1", 0],
      ["ci/f:1", 0],
    ]);
  });
});

describe("keep and pins", () => {
  testRoot("a keep function (sync and async) and a pin are honoured; the next least recently used go instead", async () => {
    await pinImage(mnt, "b:1", { name: "runs-b" });
    const freed = await cumulativeFreed(["c:1", "d:1"]);
    const { free } = await fsFree();
    const asked: string[] = [];
    const keepSync = (img: { reference: string }) => {
      asked.push(img.reference);
      return img.reference === "a:1";
    };
    // Two images' worth (half a layer of slack: other files on this file system change a little).
    const goal = free + (freed[0]! + freed[1]!) / 2;
    const sync = await cache.prune({ minFreeSpace: goal, keep: keepSync, dryRun: true });
    expect(removed(sync)).toEqual(["c:1", "d:1"]);
    expect(sync.skipped).toContainEqual({ kind: "reference", id: "a:1", reason: "kept" });
    expect(sync.skipped).toContainEqual({ kind: "reference", id: "b:1", reason: "pinned" });
    expect(asked.sort()).toEqual([...LRU].sort());

    const keepAsync = async (img: { reference: string }) => {
      await new Promise((r) => setTimeout(r, 1));
      return img.reference === "a:1" || img.reference === "c:1";
    };
    const r = await cache.prune({ minFreeSpace: goal, keep: keepAsync });
    expect(removed(r)).toEqual(["d:1", "ci/e:1"]);
    expect(await listed()).toEqual(["a:1", "b:1", "c:1", "ci/f:1"]);
  });

  testRoot("a keep function that throws rejects prune() and removes nothing", async () => {
    const before = await snapshot();
    await expect(cache.prune({ keep: () => { throw new Error("desired state unavailable"); } })).rejects.toThrow("desired state unavailable");
    await expect(cache.prune({ keep: (() => "yes") as never })).rejects.toThrow(TypeError);
    expect(await snapshot()).toBe(before);
  });
});

describe("validation", () => {
  testRoot("bad targets and policies are precise errors, and nothing runs", async () => {
    const before = await snapshot();
    await expect(cache.prune({ minFreeSpace: "101%" })).rejects.toThrow(RangeError);
    await expect(cache.prune({ maxBytes: -1 })).rejects.toThrow(RangeError);
    await expect(cache.prune({ reservedSpace: "10" })).rejects.toThrow(/needs a unit/);
    await expect(cache.prune({ policies: {} as never })).rejects.toThrow(/"policies" must be an array/);
    await expect(cache.prune({ policies: [{ policies: [] } as never] })).rejects.toThrow(/cannot be nested/);
    await expect(cache.prune({ policies: [{ dryRun: true } as never] })).rejects.toThrow(/unknown option "dryRun"/);
    await expect(cache.prune({ olderThan: "1d", policies: [{}] })).rejects.toThrow(/beside "policies"/);
    await expect(cache.prune({ minFreeSpaces: 1 } as never)).rejects.toThrow(/unknown option "minFreeSpaces"/);
    expect(await snapshot()).toBe(before);
  });
});


describe("ensureFree", () => {
  testRoot("evicts least recently used images until the bytes asked for plus minFreeSpace are free", async () => {
    const freed = await cumulativeFreed(LRU);
    const { free } = await fsFree();
    const minFree = 1 * MiB;
    // Two evictions are needed, with half an image of slack either way.
    const bytes = free + (freed[0]! + freed[1]!) / 2 - minFree;
    const plan = await cache.ensureFree(Math.round(bytes), { minFreeSpace: minFree, dryRun: true });
    expect(plan.dryRun).toBe(true);
    expect(removed(plan)).toEqual(LRU.slice(0, 2));
    const r = await cache.ensureFree(Math.round(bytes), { minFreeSpace: minFree });
    expect(r.dryRun).toBe(false);
    expect(removed(r)).toEqual(LRU.slice(0, 2));
    expect((await fsFree()).free).toBeGreaterThanOrEqual(bytes + minFree);
    expect(await listed()).toEqual(LRU.slice(2).sort());
    // Already free: nothing goes.
    const none = await cache.ensureFree("1MiB");
    expect(removed(none)).toEqual([]);
  });

  testRoot("refuses, removing nothing, when pinned, kept and too-new images stand in the way", async () => {
    await pinImage(mnt, "a:1", { name: "runs-a" });
    await sql(mnt, "UPDATE image_ref SET created_at = ? WHERE reference = 'ci/f:1'", [msbTimestamp(new Date())]);
    const freed = await cumulativeFreed(["b:1", "c:1", "d:1"]);
    const { free } = await fsFree();
    const before = await snapshot();
    const ask = free + freed[2]! + 1 * MiB; // more than b, c and d can give; a, e and f may not go
    const err = await cache
      .ensureFree(ask, { keep: (img) => img.reference === "ci/e:1", minAge: "1h" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InsufficientSpaceError);
    const e = err as InsufficientSpaceError;
    expect(e.code).toBe("insufficientSpace");
    expect(e.requested).toBe(ask);
    // (opening the database may add a few KiB beside it on this file system: msb.db-shm)
    expect(Math.abs(e.free - free)).toBeLessThan(256 * 1024);
    expect(e.available).toBe(e.free + freed[2]!); // b, c and d: exactly the files they own
    expect(e.shortBy).toBe(ask - e.available);
    expect(e.pinned).toEqual(["a:1"]);
    expect(e.kept).toEqual(["ci/e:1"]);
    expect(e.tooNew).toEqual(["ci/f:1"]);
    expect(e.message).toMatch(/short by .*nothing was removed/);
    expect(await snapshot()).toBe(before);
    // Bad input: a precise error, nothing run.
    await expect(cache.ensureFree(-1)).rejects.toThrow(RangeError);
    await expect(cache.ensureFree("3")).rejects.toThrow(/needs a unit/);
    await expect(cache.ensureFree(1, { maxBytes: 1 } as never)).rejects.toThrow(/ensureFree\(\): unknown option "maxBytes"/);
    expect(await snapshot()).toBe(before);
  });
});
