// prune(options) on msb-made caches: dry runs that equal the real run, age and LRU boundaries,
// keep / filter, progress.
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { ImageCache, type ImagePruneReport, type PruneProgress } from "../../lib/index";
import { contentFingerprint, holdFlock, listFiles, msbImageJson, msbTimestamp, pinImage, sql } from "../support/msb";
import { SAMPLE_REFERENCES, sampleCacheEach } from "../support/sample-cache";

let home: string;
let cache: ImageCache;
sampleCacheEach((h, c) => {
  home = h;
  cache = c;
});

// A dry run equals the real run but for the flag and the file system's free space, which a real run
// measures afterwards (other files on that file system change it too); the cache's own sizes agree.
// A plain real prune does not walk the cache to measure it (bytesBefore/After null; compared where measured).
const withoutFs = (r: ImagePruneReport) => ({
  ...r,
  space: r.space && { ...r.space, fsFreeBefore: 0, fsFreeAfter: 0, bytesBefore: 0, bytesAfter: 0 },
});
const withoutFlags = (r: ImagePruneReport) => ({ ...withoutFs(r), dryRun: undefined });
const refs = (r: ImagePruneReport) => r.removed.references.map((x) => x.reference).sort();

async function setTimes(reference: string, createdAt: Date, lastUsedAt: Date): Promise<void> {
  await sql(home, "UPDATE image_ref SET created_at = ?, updated_at = ? WHERE reference = ?", [
    msbTimestamp(createdAt),
    msbTimestamp(lastUsedAt),
    reference,
  ]);
}

describe("dryRun", () => {
  it("changes nothing and equals the real run that follows", async () => {
    await pinImage(home, "base:1");
    const before = await contentFingerprint(home);
    const plan = await cache.prune({ dryRun: true });
    expect(await contentFingerprint(home)).toBe(before);
    expect(await cache.list()).toHaveLength(SAMPLE_REFERENCES.length);
    const real = await cache.prune();
    expect(plan.dryRun).toBe(true);
    expect(real.dryRun).toBe(false);
    expect(withoutFlags(plan)).toEqual(withoutFlags(real));
    expect(real.imageRefsRemoved).toBe(6);
    expect(real.skipped).toContainEqual({ kind: "reference", id: "base:1", reason: "pinned" });
  });

  it("predicts a file another process has locked", async () => {
    const [layer] = await sql<{ diff_id: string }>(
      home,
      "SELECT l.diff_id FROM image_ref r JOIN manifest_layer ml ON ml.manifest_id = r.manifest_id JOIN layer l ON l.id = ml.layer_id WHERE r.reference = 'plain'",
    );
    const lock = join(home, "cache", "layers", layer!.diff_id.replace(":", "_") + ".erofs.lock");
    const release = await holdFlock(lock);
    try {
      const plan = await cache.prune({ dryRun: true });
      expect(plan.skipped).toContainEqual({ kind: "layer", id: layer!.diff_id, reason: "locked" });
      const real = await cache.prune();
      expect(withoutFlags(plan)).toEqual(withoutFlags(real));
    } finally {
      await release();
    }
  });

  it("reports each artifact's bytes, adding up with the metadata files to bytesReclaimed", async () => {
    const files = new Map((await listFiles(join(home, "cache"))).map((f) => [f.path, f.size]));
    const r = await cache.prune({ dryRun: true });
    for (const m of r.removed.manifests) {
      const s = m.digest.replace(":", "_");
      expect(m.bytes).toBe(files.get(`fsmeta/${s}.erofs`)! + files.get(`vmdk/${s}.vmdk`)!);
    }
    for (const l of r.removed.layers) expect(l.bytes).toBe(files.get(`layers/${l.diffId.replace(":", "_")}.erofs`));
    const metadata = [...files].filter(([p]) => p.startsWith("manifests/") && p.endsWith(".json")).reduce((n, [, s]) => n + s, 0);
    const artifacts = [...r.removed.manifests, ...r.removed.layers].reduce((n, x) => n + x.bytes, 0);
    expect(r.bytesReclaimed).toBe(artifacts + metadata);
  });
});

describe("olderThan and minAge", () => {
  it("olderThan takes only references last used strictly before the cut-off", async () => {
    const cutoff = new Date("2026-06-01T00:00:00.000Z");
    await setTimes("plain", new Date("2026-01-01T00:00:00Z"), new Date(cutoff.getTime() - 1));
    await setTimes("tools:2.0", new Date("2026-01-01T00:00:00Z"), cutoff);
    const r = await cache.prune({ olderThan: cutoff });
    expect(refs(r)).toEqual(["plain"]);
    // A duration is measured back from now.
    const r2 = await cache.prune({ olderThan: Date.now() - cutoff.getTime() + 60_000 });
    expect(refs(r2)).toEqual([]);
    const r3 = await cache.prune({ olderThan: Date.now() - cutoff.getTime() - 60_000 });
    expect(refs(r3)).toEqual(["tools:2.0"]);
  });

  it("minAge keeps references created within the grace period and says so", async () => {
    const now = Date.now();
    await sql(home, "UPDATE image_ref SET created_at = ?", [msbTimestamp(new Date(now))]);
    await setTimes("plain", new Date(now - 9 * 60_000), new Date(now));
    await setTimes("tools:2.0", new Date(now - 11 * 60_000), new Date(now));
    const r = await cache.prune({ minAge: 10 * 60_000 });
    expect(refs(r)).toEqual(["tools:2.0"]);
    expect(r.skipped).toContainEqual({ kind: "reference", id: "plain", reason: "too-new" });
    expect(r.skipped.filter((s) => s.reason === "too-new")).toHaveLength(SAMPLE_REFERENCES.length - 1);
  });

  it("treats a reference whose timestamps do not parse as neither old nor old enough", async () => {
    await sql(home, "UPDATE image_ref SET created_at = 'garbage', updated_at = 'garbage' WHERE reference = 'plain'");
    expect(refs(await cache.prune({ olderThan: 0, dryRun: true }))).not.toContain("plain");
    const r = await cache.prune({ minAge: 0, dryRun: true });
    expect(r.skipped).toContainEqual({ kind: "reference", id: "plain", reason: "too-new" });
  });
});

describe("keep and filter", () => {
  it("keep takes references and globs; kept images stay complete for msb", async () => {
    const r = await cache.prune({ keep: ["plain", "app:*"] });
    expect(r.skipped.filter((s) => s.reason === "kept").map((s) => s.id).sort()).toEqual(["app:1", "app:latest", "plain"]);
    const left = (await msbImageJson<{ reference: string }[]>(home, ["ls"])).map((x) => x.reference).sort();
    expect(left).toEqual(["app:1", "app:latest", "plain"]);
    expect((await cache.inspect("app:1")).layers.every((l) => l.erofsSizeBytes !== null)).toBe(true);
  });

  it("a plain reference in keep matches its normalized forms", async () => {
    const r = await cache.prune({ keep: "docker.io/library/plain:latest", dryRun: true });
    expect(r.skipped).toContainEqual({ kind: "reference", id: "plain", reason: "kept" });
  });

  it("filter.reference and filter.label restrict the candidates", async () => {
    const byRef = await cache.prune({ filter: { reference: ["localhost:5000/*/*", "tools:*"] }, dryRun: true });
    expect(refs(byRef)).toEqual(["localhost:5000/team/app:1", "tools:2.0"]);
    const byLabel = await cache.prune({ filter: { label: { "com.example.team": "core" } }, dryRun: true });
    expect(refs(byLabel)).toEqual(["app:1", "app:latest", "docker.io/library/app:2"]);
    const none = await cache.prune({ filter: { label: { "com.example.team": "other" } }, dryRun: true });
    expect(none.imageRefsRemoved).toBe(0);
    expect(none.manifestsRemoved).toBe(0);
    // A filtered prune leaves old dangling manifests alone; an unfiltered one takes them.
    const real = await cache.prune({ filter: { reference: "tools:*" } });
    expect(real).toMatchObject({ imageRefsRemoved: 1, manifestsRemoved: 1 });
    expect(await cache.list()).toHaveLength(SAMPLE_REFERENCES.length - 1);
  });
});

describe("onProgress", () => {
  it("reports the row phase, then file batches up to the total, then the sweep, with the bytes", async () => {
    const events: PruneProgress[] = [];
    const r = await cache.prune({ onProgress: (e) => events.push(e) });
    expect(events[0]).toEqual({ phase: "rows", done: 0, total: 1, bytes: 0 });
    expect(events).toContainEqual({ phase: "rows", done: 1, total: 1, bytes: 0 });
    expect([...new Set(events.map((e) => e.phase))]).toEqual(["rows", "files", "sweep"]);
    const files = events.filter((e) => e.phase === "files").pop()!;
    expect(files.done).toBe(files.total);
    const last = events[events.length - 1]!;
    expect(last).toMatchObject({ phase: "sweep", done: 1, total: 1 });
    expect(last.bytes).toBe(r.bytesReclaimed);
  });
});

describe("maxBytes", () => {
  // Least recently used first: plain, then base:1, tools:2.0, the team image, then app's three tags.
  const lru = ["plain", "base:1", "tools:2.0", "localhost:5000/team/app:1", "app:1", "app:latest", "docker.io/library/app:2"];
  async function ageInOrder(): Promise<void> {
    for (const [i, ref] of lru.entries()) {
      await setTimes(ref, new Date(Date.UTC(2026, 0, 1)), new Date(Date.UTC(2026, 0, 2 + i)));
    }
  }

  it("does nothing within the budget, evicts oldest first past it, and lands within it (allocated bytes, as df's On disk)", async () => {
    await ageInOrder();
    const total = (await cache.diskUsage()).allocatedBytes;
    expect(refs(await cache.prune({ maxBytes: total, dryRun: true }))).toEqual([]);
    const one = await cache.prune({ maxBytes: total - 1, dryRun: true });
    expect(one.removed.references.map((r) => r.reference)).toEqual(["plain"]);
    expect(one.space!.bytesBefore).toBe(total);

    const budget = total - 40_000;
    const r = await cache.prune({ maxBytes: budget });
    const removed = r.removed.references.map((x) => x.reference);
    expect(removed.sort()).toEqual(lru.slice(0, removed.length).sort()); // a prefix of the LRU order
    const after = (await cache.diskUsage()).allocatedBytes;
    expect(after).toBeLessThanOrEqual(budget);
    expect(r.space).toMatchObject({ bytesBefore: total, bytesAfter: after, budget: { maxBytes: budget }, met: true });
    expect(removed.length).toBeGreaterThan(0); // the exact count, from the files' sizes: disk-targets.test.ts
  });

  it("takes the human forms of a size", async () => {
    await ageInOrder();
    const total = (await cache.diskUsage()).allocatedBytes;
    const kib = Math.floor((total - 1) / 1024);
    const r = await cache.prune({ maxBytes: `${kib}KiB`, dryRun: true });
    expect(r.space!.budget.maxBytes).toBe(kib * 1024);
    expect(refs(r)).toEqual(["plain"]);
  });

  it("frees a shared layer only with its last image, and never touches pinned images", async () => {
    await ageInOrder();
    await pinImage(home, "app:1", { name: "keeps-app" });
    const r = await cache.prune({ maxBytes: 0 });
    expect(refs(r)).toEqual(["base:1", "localhost:5000/team/app:1", "plain", "tools:2.0"]);
    expect(r.skipped.filter((s) => s.reason === "pinned").map((s) => s.id).sort()).toEqual(["app:1", "app:latest", "docker.io/library/app:2"]);
    const baseLayer = (await cache.inspect("app:1")).layers[0]!;
    expect(baseLayer.erofsSizeBytes).toBeGreaterThan(0); // base:1 and the team image went; app still needs it
    expect(r.removed.layers.map((l) => l.diffId)).not.toContain(baseLayer.diffId);
  });
});

describe("plan", () => {
  it("a real run with a dry run's plan takes only what is still eligible, and reports what changed", async () => {
    const plan = await cache.prune({ dryRun: true });
    expect(refs(plan)).toHaveLength(SAMPLE_REFERENCES.length);
    // In between: a sandbox starts on plain, and msb loads a new image.
    await pinImage(home, "plain", { name: "late-sandbox" });
    const { writeDockerSave } = await import("../support/docker-save");
    const { msbLoad } = await import("../support/msb");
    await writeDockerSave(join(home, "new.tar"), [{ repoTags: ["fresh:1"], layers: [{ files: [{ path: "f", content: "fresh" }] }] }]);
    await msbLoad(home, join(home, "new.tar"));

    const real = await cache.prune({ plan });
    expect(refs(real)).toEqual(refs(plan).filter((r) => r !== "plain"));
    expect(real.skipped).toContainEqual({ kind: "reference", id: "plain", reason: "pinned" });
    const plainDigest = plan.removed.references.find((r) => r.reference === "plain")!.manifestDigest;
    expect(real.skipped).toContainEqual({ kind: "manifest", id: plainDigest, reason: "in-use-again" });
    expect((await cache.list()).map((h) => h.reference).sort()).toEqual(["fresh:1", "plain"]);
    expect((await cache.inspect("fresh:1")).layers[0]!.erofsSizeBytes).toBeGreaterThan(0);
  });

  it("rejects something that is not a dry run's report", async () => {
    const real = await cache.prune({ filter: { reference: "nothing-matches" } });
    await expect(cache.prune({ plan: real })).rejects.toThrow(/must be the report of a prune\({ dryRun: true }\)/);
  });
});

describe("plan with dangling manifests", () => {
  it("takes the old dangling manifests its dry run named", async () => {
    // Re-tagging tools:2.0 leaves its manifest with no reference (dangling).
    const [row] = await sql<{ id: number }>(home, "SELECT manifest_id AS id FROM image_ref WHERE reference = 'plain'");
    const [tools] = await sql<{ digest: string }>(home, "SELECT m.digest FROM manifest m JOIN image_ref r ON r.manifest_id = m.id WHERE r.reference = 'tools:2.0'");
    await sql(home, "UPDATE image_ref SET manifest_id = ? WHERE reference = 'tools:2.0'", [row!.id]);
    const plan = await cache.prune({ dryRun: true });
    expect(plan.removed.manifests.map((m) => m.digest)).toContain(tools!.digest);
    const real = await cache.prune({ plan });
    expect(real.removed.manifests.map((m) => m.digest)).toContain(tools!.digest);
    expect({ ...withoutFs(real), dryRun: true }).toEqual(withoutFs(plan));
  });
});
