// verify({ repair }) on msb-made caches with planted faults: each fault kind found with its path,
// digest and references; repair fixes only what it may, and msb still uses every image after it.
import { existsSync } from "node:fs";
import { mkdir, readFile, readdir, rm, symlink, truncate, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { ImageCache, type VerifyFinding, type VerifyReport } from "../../lib/index";
import { copyHome, holdFlock, listFiles, msbImage, msbImageJson, pinSnapshot, sql } from "../support/msb";
import { SAMPLE_REFERENCES, sampleCacheEach } from "../support/sample-cache";

let home: string;
let cache: ImageCache;
sampleCacheEach((h, c) => {
  home = h;
  cache = c;
});

const cacheDir = () => join(home, "cache");
const stem = (digest: string) => digest.replace(":", "_");
const kinds = (r: VerifyReport) => r.findings.map((f) => f.kind).sort();
const find = (r: VerifyReport, kind: string, pathEnd?: string): VerifyFinding | undefined =>
  r.findings.find((f) => f.kind === kind && (pathEnd === undefined || (f.path ?? "").endsWith(pathEnd)));

async function imageOf(reference: string): Promise<{ manifest: string; layers: string[] }> {
  const rows = await sql<{ digest: string; diff_id: string }>(
    home,
    `SELECT m.digest, l.diff_id FROM image_ref r JOIN manifest m ON m.id = r.manifest_id
     JOIN manifest_layer ml ON ml.manifest_id = m.id JOIN layer l ON l.id = ml.layer_id
     WHERE r.reference = ? ORDER BY ml.position`,
    [reference],
  );
  return { manifest: rows[0]!.digest, layers: rows.map((r) => r.diff_id) };
}

/** Deletes an image's rows as a prune killed after its commit leaves it: every file stays. */
async function dropRows(reference: string): Promise<void> {
  const { manifest } = await imageOf(reference);
  await sql(home, "DELETE FROM image_ref WHERE reference = ?", [reference]);
  await sql(home, "DELETE FROM manifest WHERE digest = ? AND NOT EXISTS (SELECT 1 FROM image_ref r WHERE r.manifest_id = manifest.id)", [manifest]);
  await sql(home, "DELETE FROM layer WHERE NOT EXISTS (SELECT 1 FROM manifest_layer ml WHERE ml.layer_id = layer.id)");
}

/** Every image msb lists passes its cache-hit rules well enough for `msb image inspect`. */
async function msbStillUsesEverything(h = home): Promise<string[]> {
  const listed = await msbImageJson<{ reference: string }[]>(h, ["ls"]);
  for (const { reference } of listed) {
    const r = await msbImage(h, ["inspect", reference]);
    expect(r.code, `msb image inspect ${reference}: ${r.stderr}`).toBe(0);
  }
  return listed.map((i) => i.reference).sort();
}

describe("a healthy cache", () => {
  it("has no findings and counts what it checked", async () => {
    const r = await cache.verify({ graceMs: 0 });
    expect(r.findings).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.dryRun).toBe(true);
    const [counts] = await sql<{ refs: number; manifests: number; layers: number }>(
      home,
      "SELECT (SELECT COUNT(*) FROM image_ref) AS refs, (SELECT COUNT(*) FROM manifest) AS manifests, (SELECT COUNT(*) FROM layer) AS layers",
    );
    expect(r.checked).toMatchObject({ references: counts!.refs, manifests: counts!.manifests, layers: counts!.layers });
    expect(r.checked.files).toBe((await listFiles(cacheDir())).length);
  });

  it("repair on a healthy cache changes nothing", async () => {
    const before = await listFiles(cacheDir());
    const r = await cache.verify({ repair: true, graceMs: 0 });
    expect(r).toMatchObject({ ok: true, findings: [], repaired: { removed: 0, rewritten: 0, bytesReclaimed: 0 } });
    expect(await listFiles(cacheDir())).toEqual(before);
  });
});

describe("a healthy cache verifies clean, always", () => {
  // msb's lock files of artifacts that are gone are not faults (safety.md): after any mix of msb load, our
  // prune and remove and msb image rm on a quiet cache, verify with no grace at all has nothing to say.
  it("after msb load / our remove / msb image rm / our prune / msb load again / our filtered prune / msb image rm", async () => {
    const clean = async (step: string) => {
      const r = await cache.verify({ graceMs: 0 });
      expect({ step, ok: r.ok, findings: r.findings }).toEqual({ step, ok: true, findings: [] });
      return r;
    };
    const lockFiles = async () => (await listFiles(cacheDir())).map((f) => f.path).filter((p) => p.endsWith(".lock"));
    const gone = async () => {
      // Lock files whose artifact is gone: what the old rule reported as orphan-lock.
      const files = new Set((await listFiles(cacheDir())).map((f) => f.path));
      return (await lockFiles()).filter((p) => {
        if (p.startsWith("layers/")) return !files.has(p.slice(0, -5));
        if (p.startsWith("fsmeta/")) return !files.has(p.slice(0, -5)) && !files.has("vmdk/" + p.slice(7, -11) + ".vmdk");
        if (p.startsWith("manifests/")) return !files.has(p.slice(0, -5) + ".json");
        return false;
      });
    };
    await clean("msb load");
    expect((await cache.remove("plain")).manifestRemoved).toBe(true);
    await clean("our remove");
    expect((await msbImage(home, ["rm", "tools:2.0"])).code).toBe(0);
    await clean("msb image rm");
    expect((await cache.prune()).imageRefsRemoved).toBe(SAMPLE_REFERENCES.length - 2);
    expect(await cache.list()).toEqual([]);
    await clean("our prune");
    expect((await gone()).length).toBeGreaterThanOrEqual(5); // the gone artifacts' locks are there, and fine
    const { msbLoad } = await import("../support/msb");
    await msbLoad(home, join(home, "sample.tar"));
    await clean("msb load again");
    const r = await cache.prune({ filter: { reference: "app:*" } });
    expect(r.imageRefsRemoved).toBe(2);
    await clean("our filtered prune");
    expect((await msbImage(home, ["rm", "base:1"])).code).toBe(0);
    await clean("msb image rm again");
    expect(await msbStillUsesEverything()).toEqual(["docker.io/library/app:2", "localhost:5000/team/app:1", "plain", "tools:2.0"].sort());
    await clean("after msb inspected everything");
  });
});

describe("broken images", () => {
  it("finds a missing layer, an invalid fsmeta and the VMDKs that no longer match; repair deletes none of it", async () => {
    const plain = await imageOf("plain");
    const tools = await imageOf("tools:2.0");
    const layerPath = join(cacheDir(), "layers", stem(plain.layers[0]!) + ".erofs");
    await rm(layerPath);
    const fsmetaPath = join(cacheDir(), "fsmeta", stem(tools.manifest) + ".erofs");
    await truncate(fsmetaPath, 4096);

    const r = await cache.verify({ repair: true, graceMs: 0 });
    expect(find(r, "missing-file", stem(plain.layers[0]!) + ".erofs")).toMatchObject({
      path: layerPath,
      digest: plain.layers[0],
      references: ["plain"],
      repairable: false,
      repaired: false,
    });
    expect(find(r, "vmdk-mismatch", stem(plain.manifest) + ".vmdk")?.message).toMatch(/missing/);
    expect(find(r, "invalid-erofs", stem(tools.manifest) + ".erofs")).toMatchObject({ path: fsmetaPath, references: ["tools:2.0"] });
    expect(find(r, "vmdk-mismatch", stem(tools.manifest) + ".vmdk")?.message).toMatch(/sectors/);
    expect(r.ok).toBe(false);
    expect(r.repaired.removed).toBe(0);
    expect(existsSync(fsmetaPath)).toBe(true);
    expect(existsSync(join(cacheDir(), "vmdk", stem(plain.manifest) + ".vmdk"))).toBe(true);
  });

  it("finds a reference whose metadata JSON is missing or not JSON", async () => {
    const json = (await readdir(join(cacheDir(), "manifests"))).filter((f) => f.endsWith(".json"));
    await writeFile(join(cacheDir(), "manifests", json[0]!), "{not json");
    await rm(join(cacheDir(), "manifests", json[1]!));
    const r = await cache.verify({ graceMs: 0 });
    const found = r.findings.filter((f) => f.kind === "invalid-metadata");
    expect(found.map((f) => f.path!.split("/").pop()).sort()).toEqual([json[0], json[1]].sort());
    for (const f of found) expect(f.references.length).toBeGreaterThan(0);
  });

  it("reports dangling manifests and snapshots whose manifest is gone, and still counts the cache ok", async () => {
    const base = await imageOf("base:1");
    await sql(home, "DELETE FROM image_ref WHERE reference = 'base:1'");
    const ghost = "sha256:" + "ab".repeat(32);
    await pinSnapshot(home, ghost, { name: "snap-ghost" });
    const r = await cache.verify({ graceMs: 0 });
    expect(find(r, "dangling-manifest")).toMatchObject({ digest: base.manifest, references: [] });
    expect(find(r, "snapshot-without-manifest")).toMatchObject({ digest: ghost });
    expect(find(r, "snapshot-without-manifest")!.message).toContain("snap-ghost");
    expect(r.ok).toBe(false); // the snapshot is a fault; the dangling manifest alone would not be
  });
});

describe("orphans (what a prune killed between its commit and its unlinks leaves)", () => {
  it("are found with their paths, removed by repair (msb's lock files stay), and msb keeps every other image", async () => {
    const plain = await imageOf("plain");
    const before = await msbStillUsesEverything();
    await dropRows("plain");
    const r = await cache.verify({ graceMs: 0 });
    const orphanPaths = r.findings.filter((f) => f.kind === "orphan-file").map((f) => f.path!.slice(cacheDir().length + 1));
    expect(orphanPaths).toEqual(
      expect.arrayContaining([
        `layers/${stem(plain.layers[0]!)}.erofs`,
        `fsmeta/${stem(plain.manifest)}.erofs`,
        `vmdk/${stem(plain.manifest)}.vmdk`,
      ]),
    );
    expect(orphanPaths.filter((p) => p.startsWith("manifests/"))).toHaveLength(1);
    expect(orphanPaths).toHaveLength(4);
    expect(r.findings.every((f) => f.kind !== "orphan-file" || (f.repairable && !f.repaired))).toBe(true);

    const repaired = await cache.verify({ repair: true, graceMs: 0 });
    expect(repaired.findings.filter((f) => f.kind === "orphan-file").every((f) => f.repaired)).toBe(true);
    expect(repaired.findings.filter((f) => f.kind !== "orphan-file")).toEqual([]);
    expect(repaired.ok).toBe(true);
    const files = (await listFiles(cacheDir())).map((f) => f.path);
    for (const p of orphanPaths) expect(files).not.toContain(p);
    const left = files.filter((p) => p.includes(stem(plain.manifest)) || p.includes(stem(plain.layers[0]!)));
    expect(left.every((p) => p.endsWith(".lock"))).toBe(true); // msb's flock files: not faults, never unlinked
    expect(repaired.repaired.bytesReclaimed).toBe(r.findings.filter((f) => f.kind === "orphan-file").reduce((s, f) => s + f.bytes, 0));

    expect(await msbStillUsesEverything()).toEqual(before.filter((x) => x !== "plain"));
    const again = await cache.verify({ graceMs: 0 });
    expect(again.findings).toEqual([]);
  });

  it("files a pin names stay though their rows are gone (a stopped sandbox's config, a snapshot)", async () => {
    const plain = await imageOf("plain");
    const tools = await imageOf("tools:2.0");
    await sql(home, "INSERT INTO sandbox(name, config, status, created_at, updated_at) VALUES ('sb-config', ?, 'Stopped', '2026-01-01 00:00:00', '2026-01-01 00:00:00')", [
      JSON.stringify({ image: "plain", manifest_digest: plain.manifest }),
    ]);
    await pinSnapshot(home, tools.manifest, { name: "snap-tools" });
    await dropRows("plain");
    await sql(home, "DELETE FROM image_ref WHERE reference = 'tools:2.0'");
    await sql(home, "DELETE FROM manifest WHERE digest = ?", [tools.manifest]);
    await sql(home, "DELETE FROM layer WHERE NOT EXISTS (SELECT 1 FROM manifest_layer ml WHERE ml.layer_id = layer.id)");
    const r = await cache.verify({ repair: true, graceMs: 0 });
    const gone = r.findings.filter((f) => f.kind === "orphan-file").map((f) => f.path!.split("/").slice(-2).join("/"));
    expect(gone.every((p) => p.startsWith("manifests/"))).toBe(true); // only the two metadata files
    expect(gone).toHaveLength(2);
    for (const { manifest, layers } of [plain, tools]) {
      expect(existsSync(join(cacheDir(), "fsmeta", stem(manifest) + ".erofs"))).toBe(true);
      expect(existsSync(join(cacheDir(), "vmdk", stem(manifest) + ".vmdk"))).toBe(true);
      for (const l of layers) expect(existsSync(join(cacheDir(), "layers", stem(l) + ".erofs"))).toBe(true);
    }
    expect(find(r, "snapshot-without-manifest")).toMatchObject({ digest: tools.manifest });
  });

  it("within the grace period are too new to judge: nothing is removed", async () => {
    await dropRows("plain");
    const before = await listFiles(cacheDir());
    const r = await cache.verify({ repair: true }); // default grace: one hour; msb just wrote these
    expect(r.findings.filter((f) => f.kind === "orphan-file")).toEqual([]);
    // The metadata file is too new to call an orphan, and while it is, the files it names are named.
    expect(r.skipped.filter((s) => s.reason === "too-new").map((s) => s.id.split("/")[0])).toEqual(["manifests"]);
    expect(await listFiles(cacheDir())).toEqual(before);
    // Control: with no grace the same files are orphans (so the grace, not a blind spot, kept them).
    const control = await cache.verify({ graceMs: 0 });
    expect(control.findings.filter((f) => f.kind === "orphan-file")).toHaveLength(4);
  });

  it("a layer a new metadata file names is not an orphan (a pull writes files before rows)", async () => {
    // verify() judges age by ctime (utimes cannot make a file old), so: drop the rows, wait out a short
    // grace, then write a fresh JSON naming the image's files under another key (a pull in progress).
    const GRACE = 1000;
    const plain = await imageOf("plain");
    await dropRows("plain");
    const json = (await readdir(join(cacheDir(), "manifests"))).filter((f) => f.endsWith(".json"));
    const plainJson = (await Promise.all(json.map(async (f) => [f, await readFile(join(cacheDir(), "manifests", f), "utf8")] as const))).find(
      ([, t]) => t.includes(plain.manifest),
    )!;
    expect(plainJson[1]).toContain("manifest_digest");
    await new Promise((r) => setTimeout(r, GRACE + 200)); // every file now older than the grace
    const fresh = join(cacheDir(), "manifests", "f".repeat(64) + ".json");
    await writeFile(fresh, plainJson[1]);
    const r = await cache.verify({ graceMs: GRACE });
    expect(r.findings.filter((f) => f.kind === "orphan-file").map((f) => f.path)).toEqual([join(cacheDir(), "manifests", plainJson[0])]);
    // Control: without the fresh JSON, the files it named are orphans (with the old JSON).
    await rm(fresh);
    const control = await cache.verify({ graceMs: GRACE });
    const orphans = control.findings.filter((f) => f.kind === "orphan-file").map((f) => f.path!.slice(cacheDir().length + 1));
    expect(orphans.sort()).toEqual(
      [`layers/${stem(plain.layers[0]!)}.erofs`, `fsmeta/${stem(plain.manifest)}.erofs`, `vmdk/${stem(plain.manifest)}.vmdk`, `manifests/${plainJson[0]}`].sort(),
    );
  });

  it("a symlinked orphan loses its link, never its target outside the cache", async () => {
    const plain = await imageOf("plain");
    await dropRows("plain");
    const outside = join(home, "outside-target.erofs");
    const vmdk = join(cacheDir(), "vmdk", stem(plain.manifest) + ".vmdk");
    await writeFile(outside, await readFile(vmdk));
    await rm(vmdk);
    await symlink(outside, vmdk);
    const r = await cache.verify({ repair: true, graceMs: 0 });
    expect(find(r, "orphan-file", ".vmdk")?.repaired).toBe(true);
    expect(existsSync(vmdk)).toBe(false);
    expect(existsSync(outside)).toBe(true);
  });

  it("an artifact whose lock another process holds is skipped as locked", async () => {
    const plain = await imageOf("plain");
    await dropRows("plain");
    const release = await holdFlock(join(cacheDir(), "fsmeta", stem(plain.manifest) + ".erofs.lock"));
    try {
      const r = await cache.verify({ repair: true, graceMs: 0 });
      expect(r.skipped).toContainEqual({ kind: "manifest", id: plain.manifest, reason: "locked" });
      expect(existsSync(join(cacheDir(), "fsmeta", stem(plain.manifest) + ".erofs"))).toBe(true);
      expect(find(r, "orphan-file", stem(plain.manifest) + ".erofs")?.repaired).toBe(false);
      expect(r.ok).toBe(false);
    } finally {
      await release();
    }
  });
});

describe("stale tmp entries (lock files are never findings)", () => {
  it("are found, and repair removes only those no process holds; lock files of gone artifacts stay", async () => {
    const tmp = join(cacheDir(), "tmp");
    const a = "sha256_" + "1".repeat(64), b = "sha256_" + "2".repeat(64), c = "sha256_" + "3".repeat(64);
    await mkdir(join(tmp, `${a}.work`), { recursive: true });
    await writeFile(join(tmp, `${a}.work`, "fsmeta.erofs"), Buffer.alloc(8192));
    await writeFile(join(tmp, `${b}.part`), Buffer.alloc(1000));
    await writeFile(join(tmp, `${b}.download.lock`), "");
    await writeFile(join(tmp, "load-0-2147483646-0.blob"), Buffer.alloc(300)); // a pid that cannot be running
    await mkdir(join(tmp, `${c}.work`));
    await writeFile(join(cacheDir(), "layers", `${c}.erofs.lock`), "");
    const release = await holdFlock(join(cacheDir(), "fsmeta", `${c}.erofs.lock`)); // someone is making c's fsmeta
    try {
      const r = await cache.verify({ graceMs: 0 });
      const stale = r.findings.filter((f) => f.kind === "stale-tmp").map((f) => f.path!.split("/").pop()).sort();
      expect(stale).toEqual([`${a}.work`, `${b}.part`, "load-0-2147483646-0.blob"].sort());
      expect(r.skipped).toContainEqual({ kind: "tmp", id: `tmp/${c}.work`, reason: "locked" });
      expect(r.findings.filter((f) => f.path?.endsWith(".lock"))).toEqual([]);

      const fixed = await cache.verify({ repair: true, graceMs: 0 });
      expect(fixed.findings.filter((f) => f.kind === "stale-tmp").every((f) => f.repaired)).toBe(true);
      expect(fixed.findings.every((f) => f.kind === "stale-tmp")).toBe(true);
      expect((await readdir(tmp)).sort()).toEqual([`${b}.download.lock`, `${c}.work`]);
      expect(existsSync(join(cacheDir(), "layers", `${c}.erofs.lock`))).toBe(true); // lock files stay
      expect(existsSync(join(cacheDir(), "fsmeta", `${c}.erofs.lock`))).toBe(true); // held: never removed
      expect(fixed.repaired.bytesReclaimed).toBe(8192 + 1000 + 300);
    } finally {
      await release();
    }
  });
});

describe("a copied home", () => {
  it("has VMDKs that point into the old one; repair rewrites them and msb boots from the copy's files", async () => {
    const copy = await copyHome(home);
    const copied = new ImageCache({ home: copy });
    try {
      const manifests = await sql<{ digest: string }>(copy, "SELECT digest FROM manifest");
      const r = await copied.verify({ graceMs: 0 });
      expect(r.findings.map((f) => f.kind)).toEqual(manifests.map(() => "vmdk-foreign-path"));
      for (const f of r.findings) expect(f).toMatchObject({ repairable: true, repaired: false });

      const fixed = await copied.verify({ repair: true, graceMs: 0 });
      expect(fixed.repaired.rewritten).toBe(manifests.length);
      expect(fixed.ok).toBe(true);
      for (const { digest } of manifests) {
        const text = await readFile(join(copy, "cache", "vmdk", stem(digest) + ".vmdk"), "utf8");
        expect(text).toContain(`"${join(copy, "cache")}/`);
        expect(text).not.toContain(`"${join(home, "cache")}/`);
      }
      expect((await copied.verify({ graceMs: 0 })).findings).toEqual([]);
      expect(await msbStillUsesEverything(copy)).toEqual([...SAMPLE_REFERENCES].sort());
      // The original home is untouched.
      expect((await cache.verify({ graceMs: 0 })).findings).toEqual([]);
    } finally {
      await copied.close();
    }
  });

  it("a foreign VMDK whose file here has another size is a mismatch, never rewritten", async () => {
    const copy = await copyHome(home);
    const copied = new ImageCache({ home: copy });
    try {
      const [{ digest }] = (await sql<{ digest: string }>(copy, "SELECT m.digest FROM image_ref r JOIN manifest m ON m.id = r.manifest_id WHERE r.reference = 'plain'")) as [{ digest: string }];
      const fsmeta = join(copy, "cache", "fsmeta", stem(digest) + ".erofs");
      await truncate(fsmeta, (await readFile(fsmeta)).length + 4096);
      const before = await readFile(join(copy, "cache", "vmdk", stem(digest) + ".vmdk"), "utf8");
      const r = await copied.verify({ repair: true, graceMs: 0 });
      expect(find(r, "vmdk-mismatch", stem(digest) + ".vmdk")).toMatchObject({ repairable: false, repaired: false });
      expect(await readFile(join(copy, "cache", "vmdk", stem(digest) + ".vmdk"), "utf8")).toBe(before);
    } finally {
      await copied.close();
    }
  });
});

describe("options and abort", () => {
  it("rejects bad options before any work", async () => {
    await expect(cache.verify({ repair: "yes" } as never)).rejects.toThrow(TypeError);
    await expect(cache.verify({ graceMs: -1 })).rejects.toThrow(RangeError);
    await expect(cache.verify({ bogus: 1 } as never)).rejects.toThrow(/bogus/);
  });

  it("reports progress phases in order and rejects an aborted check with AbortError, changing nothing", async () => {
    const phases: string[] = [];
    await cache.verify({ onProgress: (e) => phases.push(e.phase) });
    expect(phases[0]).toBe("scan");
    expect(phases).toContain("check");
    await dropRows("plain");
    const before = await listFiles(cacheDir());
    await expect(cache.verify({ repair: true, graceMs: 0, signal: AbortSignal.abort() })).rejects.toMatchObject({ name: "AbortError" });
    expect(await listFiles(cacheDir())).toEqual(before);
  });
});

describe("prune reclaims tmp/ and flat/", () => {
  it("removes stale tmp entries (tmpRemoved) and a dry run predicts it", async () => {
    const tmp = join(cacheDir(), "tmp");
    const a = "sha256_" + "4".repeat(64);
    await mkdir(join(tmp, `${a}.work`), { recursive: true });
    await writeFile(join(tmp, `${a}.work`, "rootfs.vmdk"), "x".repeat(100));
    await writeFile(join(tmp, `${a}.spool`), Buffer.alloc(500));
    const fresh = await cache.prune({ dryRun: true }); // default grace: just written, so kept
    expect(fresh.tmpRemoved).toBe(0);
    const plan = await cache.prune({ dryRun: true, graceMs: 0 });
    expect(plan.tmpRemoved).toBe(2);
    const real = await cache.prune({ graceMs: 0 });
    expect({ ...real, dryRun: true, space: null }).toEqual({ ...plan, space: null }); // space: fs free is measured after a real run
    expect(real.removed.files.map((f) => f.path).sort()).toEqual([`tmp/${a}.spool`, `tmp/${a}.work`]);
    expect(await readdir(tmp)).toEqual([]);
  });

  it("removes flat refs of removed manifests and blobs no ref names, keeping a pinned image's", async () => {
    const plain = await imageOf("plain");
    const base = await imageOf("base:1");
    const { pinImage } = await import("../support/msb");
    await pinImage(home, "base:1");
    const flat = join(cacheDir(), "flat");
    const blobA = "sha256:" + "a".repeat(64), blobB = "sha256:" + "b".repeat(64);
    const ref = (artifact: string, derivation: string) =>
      JSON.stringify({ schema: 1, derivation_digest: derivation, artifact_digest: artifact, virtual_size_bytes: 4096 });
    await writeFile(join(flat, "refs", stem(plain.manifest) + ".json"), ref(blobA, "sha256:" + "d".repeat(64)));
    await writeFile(join(flat, "refs", stem(base.manifest) + ".json"), ref(blobB, "sha256:" + "e".repeat(64)));
    await writeFile(join(flat, "blobs", stem(blobA) + ".raw"), Buffer.alloc(4096));
    await writeFile(join(flat, "blobs", stem(blobB) + ".raw"), Buffer.alloc(4096));

    // While a flat artifact is being made (a flat lock held), no blob goes.
    const release = await holdFlock(join(flat, "locks", stem("sha256:" + "c".repeat(64)) + ".lock"));
    let plan;
    try {
      plan = await cache.prune({ dryRun: true, graceMs: 0 });
      expect(plan.skipped).toContainEqual({ kind: "flat-blob", id: "flat/blobs", reason: "locked" });
      expect(plan.flatRemoved).toBe(1);
    } finally {
      await release();
    }
    plan = await cache.prune({ dryRun: true, graceMs: 0 });
    expect(plan.flatRemoved).toBe(2);
    const real = await cache.prune({ graceMs: 0 });
    expect({ ...real, dryRun: true, space: null }).toEqual({ ...plan, space: null }); // space: fs free is measured after a real run
    expect((await readdir(join(flat, "refs"))).sort()).toEqual([stem(base.manifest) + ".json"]);
    expect(await readdir(join(flat, "blobs"))).toEqual([stem(blobB) + ".raw"]);
  });
});

describe("prune's sweep: an unreadable flat ref", () => {
  it("stops the blob sweep and is reported as the ref itself (kind flat-ref, reason unreadable)", async () => {
    const base = await imageOf("base:1");
    const { pinImage } = await import("../support/msb");
    await pinImage(home, "base:1"); // its ref stays
    const flat = join(cacheDir(), "flat");
    const blob = "sha256:" + "a".repeat(64);
    await writeFile(join(flat, "refs", stem(base.manifest) + ".json"), "{ not json");
    await writeFile(join(flat, "blobs", stem(blob) + ".raw"), Buffer.alloc(4096));
    for (const r of [await cache.prune({ dryRun: true, graceMs: 0 }), await cache.prune({ graceMs: 0 })]) {
      expect(r.skipped).toContainEqual({ kind: "flat-ref", id: `flat/refs/${stem(base.manifest)}.json`, reason: "unreadable" });
      expect(r.removed.files.filter((f) => f.kind === "flat-blob")).toEqual([]);
    }
    expect(existsSync(join(flat, "blobs", stem(blob) + ".raw"))).toBe(true);
  });
});

describe("prune's sweep with the default grace", () => {
  it("takes a removed manifest's flat ref at once but leaves a fresh unnamed blob; diskUsage predicts the bytes", async () => {
    const plain = await imageOf("plain");
    const flat = join(cacheDir(), "flat");
    const blob = "sha256:" + "a".repeat(64);
    const ref = JSON.stringify({ schema: 1, derivation_digest: "sha256:" + "d".repeat(64), artifact_digest: blob });
    await writeFile(join(flat, "refs", stem(plain.manifest) + ".json"), ref);
    await writeFile(join(flat, "blobs", stem(blob) + ".raw"), Buffer.alloc(4096));
    const usage = await cache.diskUsage();
    const r = await cache.prune();
    expect(r.flatRemoved).toBe(1);
    expect(r.removed.files).toEqual([{ kind: "flat-ref", path: `flat/refs/${stem(plain.manifest)}.json`, bytes: ref.length }]);
    expect(r.bytesReclaimed).toBe(usage.reclaimableBytes);
    expect(existsSync(join(flat, "blobs", stem(blob) + ".raw"))).toBe(true);
  });
});
