// Files msb is still writing. msb writes an image's layers, fsmeta + VMDK and metadata JSON first and its rows
// last, holding no lock in between; a prune that asks only the rows could take, inside that window, a file the
// new image reuses from one it prunes (the race test found exactly that: test/interop/race.test.ts). Here the
// window is frozen: a twin home gets the new image from the real `msb load`, and the files that load wrote are
// copied into the home being pruned — files without rows, as msb leaves them just before its commit. After
// the prune, the new image must still be a cache hit (checked by the independent oracle): when msb commits
// its rows, it has everything.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { copyFile, mkdtemp, readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { describe, expect, it } from "vitest";

import { ImageCache } from "../../lib/index";
import { writeDockerSave } from "../support/docker-save";
import { REPO_ROOT, copyHome, msbImage, msbLoad, run, sql, sqlTx } from "../support/msb";
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

  it("keeps the files of an image a load re-tags an existing reference to (a recent metadata file whose reference has rows)", async () => {
    // base:1 keeps its rows (to its old image) while msb re-tags it to tools:2.0's image, whose files are all
    // there already: the load rewrites only base:1's metadata file. Removing tools:2.0 (that image's last
    // reference) must keep its files: only the metadata file's recent change says they are wanted.
    const tools = SAMPLE_IMAGES.find((i) => i.repoTags.includes("tools:2.0"))!;
    const tar = join(home, "retag-existing.tar");
    await writeDockerSave(tar, [{ ...tools, repoTags: ["base:1"] }]);
    const digest = await digestOf(home, "tools:2.0");
    const layers = await layersOf(home, "tools:2.0");
    const copied = await freezeLoad(tar);
    expect(copied).toEqual([`manifests/${metadataFileName("base:1")}`]);
    expect(await digestOf(home, "base:1")).not.toBe(digest); // its rows still name the old image

    const r = await cache.remove("tools:2.0");
    expect(r.manifestsRemoved).toBe(1);
    expect(r.layersRemoved).toBeGreaterThan(0);
    expect(r.skipped).toContainEqual({ kind: "manifest", id: digest, reason: "in-use-by-files" });
    let ownLayers = 0;
    for (const layer of layers) {
      if (!r.removed.layers.some((l) => l.diffId === layer)) continue; // shared with another image: not this run's
      ownLayers++;
      expect(r.skipped).toContainEqual({ kind: "layer", id: layer, reason: "in-use-by-files" });
    }
    expect(ownLayers).toBeGreaterThan(0);
    expect(await cacheHitProblems(join(home, "cache"), "base:1")).toEqual([]);
  });

  it("keeps a reference's metadata file that names the image's digest in upper case (a digest is exact lower-case text)", async () => {
    // Another case is another name: msb never equates them. The guard parses digests into bytes for speed;
    // a parse that let upper-case digits through would read sha256:FFFF… as sha256:ffff…, take the file for
    // the removed image's own and delete it.
    const lower = `sha256:${"f".repeat(64)}`;
    const old = await digestOf(home, "plain");
    await sql(home, "UPDATE manifest SET digest = ? WHERE digest = ?", [lower, old]);
    await rename(join(home, "cache", "vmdk", `${old.replace(":", "_")}.vmdk`), join(home, "cache", "vmdk", `sha256_${"f".repeat(64)}.vmdk`));
    const own = join(home, "cache", "manifests", metadataFileName("plain"));
    await writeFile(own, (await readFile(own, "utf8")).replaceAll(old, `sha256:${"F".repeat(64)}`));

    const r = await cache.remove("plain");
    expect(r.skipped).toContainEqual({ kind: "metadata", id: "docker.io/library/plain:latest", reason: "in-use-again" });
    expect(existsSync(own)).toBe(true);
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

  it("still sees them when many more files arrive after them (the index folds what it was told into its sorted table)", async () => {
    // The index keeps the listed files in a sorted table and the ones events told it of since in a small
    // map, folded into the table once it grows past 16 + an eighth of it (native/base/digest_table.h).
    // After the listing, a load re-tags base:1 to tools:2.0's image (a listed file changes) and adds
    // late:1 (new files), then 60 more files arrive: the fold comes after both, and must keep both.
    const tools = SAMPLE_IMAGES.find((i) => i.repoTags.includes("tools:2.0"))!;
    const plain = SAMPLE_IMAGES.find((i) => i.repoTags.includes("plain"))!;
    const tar = join(home, "fold.tar");
    await writeDockerSave(tar, [
      { ...tools, repoTags: ["base:1"] },
      { repoTags: ["late:1"], layers: [plain.layers[0]!, { files: [{ path: "late", content: "late\n" }] }] },
    ]);
    const toolsDigest = await digestOf(home, "tools:2.0");
    const [solo] = await layersOf(home, "plain");
    expect((await cache.prune({ dryRun: true })).skipped).toEqual([]); // the index is listed now
    const copied = await freezeLoad(tar);
    expect(copied).toContain(`manifests/${metadataFileName("base:1")}`);
    expect(copied).toContain(`manifests/${metadataFileName("late:1")}`);
    const hex = (i: number, salt: string) => createHash("sha256").update(`${salt}${i}`).digest("hex");
    for (let i = 0; i < 30; i++) {
      const doc = { manifest_digest: `sha256:${hex(i, "m")}`, layers: [{ diff_id: `sha256:${hex(i, "l")}` }] };
      await writeFile(join(home, "cache", "manifests", `${hex(i, "f")}.json`), JSON.stringify(doc));
      await writeFile(join(home, "cache", "vmdk", `sha256_${hex(i, "v")}.vmdk`), "# Disk DescriptorFile\n");
    }

    // Only base:1's changed metadata file (its rows still name its old image) says tools:2.0's files are wanted.
    const r = await cache.remove("tools:2.0");
    expect(r.manifestsRemoved).toBe(1);
    expect(r.skipped).toContainEqual({ kind: "manifest", id: toolsDigest, reason: "in-use-by-files" });
    expect(await cacheHitProblems(join(home, "cache"), "base:1")).toEqual([]);
    // Only late:1's new files (no rows yet) say plain's layer is wanted.
    const p = await cache.remove("plain");
    expect(p.skipped).toContainEqual({ kind: "layer", id: solo, reason: "in-use-by-files" });
    expect(await cacheHitProblems(join(home, "cache"), "late:1")).toEqual([]);
  });

  it("still sees them after most listed files are gone (the index folds its table smaller)", async () => {
    // late:1 is frozen before the listing, beside 60 rowless files; once those 60 are deleted, more than half
    // of the listed table is gone and it is folded smaller: late:1's entries must come through.
    const { solo } = await freezeLateLoad();
    const hex = (i: number, salt: string) => createHash("sha256").update(`${salt}${i}`).digest("hex");
    const decoys: string[] = [];
    for (let i = 0; i < 30; i++) {
      const doc = { manifest_digest: `sha256:${hex(i, "m")}`, layers: [{ diff_id: `sha256:${hex(i, "l")}` }] };
      decoys.push(join(home, "cache", "manifests", `${hex(i, "f")}.json`), join(home, "cache", "vmdk", `sha256_${hex(i, "v")}.vmdk`));
      await writeFile(decoys.at(-2)!, JSON.stringify(doc));
      await writeFile(decoys.at(-1)!, "# Disk DescriptorFile\n");
    }
    expect((await cache.prune({ dryRun: true })).skipped).toContainEqual({ kind: "layer", id: solo, reason: "in-use-by-files" });
    for (const d of decoys) await rm(d);

    const r = await cache.prune();
    expect(r.skipped).toContainEqual({ kind: "layer", id: solo, reason: "in-use-by-files" });
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

/** test/support/clock-ahead.c, built once with the machine's C compiler into a scratch directory. */
let clockAheadLib: string | undefined;
async function clockAhead(): Promise<string> {
  if (!clockAheadLib) {
    const dir = await mkdtemp(join(tmpdir(), "msb-clock-ahead-"));
    const lib = join(dir, "clock-ahead.so");
    const cc = await run("cc", ["-shared", "-fPIC", "-O2", "-o", lib, join(REPO_ROOT, "test", "support", "clock-ahead.c"), "-ldl"], process.env);
    if (cc.code !== 0) throw new Error(`cc clock-ahead.c failed: ${cc.stderr}`);
    clockAheadLib = lib;
  }
  return clockAheadLib;
}

/**
 * The built library in a process of its own whose wall clock runs two hours ahead (clock-ahead.c, preloaded
 * after whatever is preloaded already, e.g. the sanitizer's runtime): every file of the cache, though written
 * moments ago, changed long before its removals begin. The guard reads such a file only when no row names it
 * (a metadata file changed in the last 10 minutes is read even then), so this instance is the one whose guard
 * trusts the rows' names — and the names it keeps between removals.
 */
async function instanceAhead(h: string, aheadSec = 2 * 3600) {
  const child = spawn(process.execPath, [join(REPO_ROOT, "test", "support", "steps-child.cjs"), join(REPO_ROOT, "dist", "index.js"), h], {
    env: {
      ...process.env,
      LD_PRELOAD: [process.env.LD_PRELOAD, await clockAhead()].filter(Boolean).join(" "),
      MSB_CLOCK_AHEAD_SEC: String(aheadSec),
    },
    stdio: ["pipe", "pipe", "inherit"],
  });
  const answers = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const call = async (name: string, ...args: unknown[]) => {
    child.stdin.write(JSON.stringify({ call: name, args }) + "\n");
    const next = await answers.next();
    if (next.done) throw new Error(`steps-child exited before answering ${name}`);
    const r = JSON.parse(next.value);
    if (!r.ok) throw new Error(`${name}: ${r.code}: ${r.message}`);
    return r.value;
  };
  // The premise: the child's clock is ahead of ours as asked (native code reads the same clock_gettime).
  const expectAhead = async (sec: number) => expect(Math.abs((await call("now")) - Date.now() - sec * 1000)).toBeLessThan(60 * 1000);
  await expectAhead(aheadSec);
  return {
    call,
    /** Moves the child's clock `sec` ahead of ours from its next call on. */
    setAhead: async (sec: number) => {
      await call("setClockAhead", sec);
      await expectAhead(sec);
    },
    close: async () => {
      child.stdin.end();
      await once(child, "close");
    },
  };
}

describe("a removal whose guard trusts what the rows name (old files: an instance two hours ahead)", () => {
  const team = "localhost:5000/team/app:1";
  // Each image's VMDK and metadata file both name its layers: one is deleted so that the other alone must be read.
  const fileOf = async (ref: string, kind: "vmdk" | "metadata") =>
    kind === "vmdk" ? `vmdk/${oracleStem(await digestOf(home, ref))}.vmdk` : `manifests/${metadataFileName(ref)}`;
  const other = (kind: "vmdk" | "metadata") => (kind === "vmdk" ? "metadata" : "vmdk");

  it.each(["vmdk", "metadata"] as const)(
    "reads the %s file of an image whose rows another process deleted after the instance's last removal",
    async (kind) => {
      const [baseLayer] = await layersOf(home, "base:1");
      const digest = await digestOf(home, team);
      const unread = await fileOf(team, other(kind));
      const ahead = await instanceAhead(home);
      try {
        // The first removal reads which manifests and metadata files rows name, and keeps that.
        expect((await ahead.call("remove", "tools:2.0")).imageRefsRemoved).toBe(1);
        // Another process drops team/app's rows and leaves its files (BASE among their layers): files without rows.
        const [{ id }] = await sql<{ id: number }>(home, "SELECT id FROM manifest WHERE digest = ?", [digest]);
        await sqlTx(home, [
          { sql: "DELETE FROM image_ref WHERE manifest_id = ?", params: [id] },
          { sql: "DELETE FROM manifest_layer WHERE manifest_id = ?", params: [id] },
          { sql: "DELETE FROM config WHERE manifest_id = ?", params: [id] },
          { sql: "DELETE FROM manifest WHERE id = ?", params: [id] },
        ]);
        await rm(join(home, "cache", unread));
        const r = await ahead.call("prune");
        expect(r.skipped).toContainEqual({ kind: "layer", id: baseLayer, reason: "in-use-by-files" });
        expect(existsSync(join(home, "cache", "layers", `${oracleStem(baseLayer!)}.erofs`))).toBe(true);
      } finally {
        await ahead.close();
      }
    },
  );

  // "later": its own removals run while every file is recent (the guard then never needs, and so never hashes,
  // the references' metadata stems it keeps); only then do the files turn old.
  it.each([
    ["vmdk", "from the start"],
    ["metadata", "from the start"],
    ["metadata", "later"],
  ] as const)(
    "reads the %s file of an image it removed itself that msb is loading again (files old %s)",
    async (kind, old) => {
      const app = SAMPLE_IMAGES.find((i) => i.repoTags.includes("app:1"))!;
      const [baseLayer] = await layersOf(home, "base:1");
      const files = { vmdk: await fileOf("app:1", "vmdk"), metadata: await fileOf("app:1", "metadata") };
      const tar = join(home, "app-again.tar");
      await writeDockerSave(tar, [{ ...app, repoTags: ["app:1"] }]);
      const ahead = await instanceAhead(home, old === "later" ? 0 : 2 * 3600);
      try {
        expect((await ahead.call("remove", "tools:2.0")).imageRefsRemoved).toBe(1);
        // Its own removals take app's manifest and metadata files off the names it keeps.
        for (const ref of app.repoTags) await ahead.call("remove", ref);
        expect(existsSync(join(home, "cache", files.vmdk))).toBe(false);
        if (old === "later") await ahead.setAhead(2 * 3600);
        // msb loads app:1 again and is frozen between its files and its rows.
        const copied = await freezeLoad(tar);
        expect(copied).toEqual(expect.arrayContaining([files.vmdk, files.metadata]));
        await rm(join(home, "cache", files[other(kind)]));
        const r = await ahead.call("prune");
        expect(r.skipped).toContainEqual({ kind: "layer", id: baseLayer, reason: "in-use-by-files" });
        expect(existsSync(join(home, "cache", "layers", `${oracleStem(baseLayer!)}.erofs`))).toBe(true);
      } finally {
        await ahead.close();
      }
    },
  );
});
