// remove() and prune() on msb-made caches, against what `msb image prune|rm` and the official
// addon do on identical copies, with pins made the way msb makes them.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { lstat, readFile, symlink, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import {
  AmbiguousReferenceError,
  ImageCache,
  ImageInUseError,
  ImageNotFoundError,
  type ImagePruneReport,
} from "../../lib/index";
import { binding } from "../../lib/native";
import {
  copyHome,
  listFiles,
  makeHome,
  msbImage,
  msbImageJson,
  official,
  pinImage,
  pinSnapshot,
  sql,
  sqlScript,
} from "../support/msb";
import { sampleCacheEach } from "../support/sample-cache";

const stem = (digest: string) => digest.replace(":", "_");
const metadataFile = (home: string, ref: string) => join(home, "cache", "manifests", binding.formats.metadataFileName(ref)!);

interface MsbPruneJson {
  bytes_reclaimed: number | null;
  fsmeta_removed: number;
  image_refs_removed: number;
  layers_removed: number;
  manifests_removed: number;
  vmdk_removed: number;
}

function msbShape(r: ImagePruneReport): MsbPruneJson {
  return {
    bytes_reclaimed: r.bytesReclaimed,
    fsmeta_removed: r.fsmetaRemoved,
    image_refs_removed: r.imageRefsRemoved,
    layers_removed: r.layersRemoved,
    manifests_removed: r.manifestsRemoved,
    vmdk_removed: r.vmdkRemoved,
  };
}

async function digestOf(home: string, ref: string): Promise<string> {
  const [row] = await sql<{ digest: string }>(
    home,
    "SELECT m.digest FROM image_ref r JOIN manifest m ON m.id = r.manifest_id WHERE r.reference = ?",
    [ref],
  );
  return row!.digest;
}

/** Every file msb needs for a cache hit of `ref` (format spec §3), checked on disk. */
async function expectComplete(home: string, ref: string): Promise<void> {
  const [m] = await sql<{ id: number; digest: string }>(
    home,
    "SELECT m.id, m.digest FROM image_ref r JOIN manifest m ON m.id = r.manifest_id WHERE r.reference = ?",
    [ref],
  );
  expect(m, `image ${ref}`).toBeDefined();
  const layers = await sql<{ diff_id: string }>(
    home,
    "SELECT l.diff_id FROM manifest_layer ml JOIN layer l ON l.id = ml.layer_id WHERE ml.manifest_id = ?",
    [m!.id],
  );
  const cache = join(home, "cache");
  for (const l of layers) {
    const info = binding.formats.inspectErofs(await readFile(join(cache, "layers", stem(l.diff_id) + ".erofs")));
    expect(info.valid, `layer ${l.diff_id} of ${ref}`).toBe(true);
  }
  const fsmeta = binding.formats.inspectErofs(await readFile(join(cache, "fsmeta", stem(m!.digest) + ".erofs")));
  expect(fsmeta.valid, `fsmeta of ${ref}`).toBe(true);
  expect(existsSync(join(cache, "vmdk", stem(m!.digest) + ".vmdk")), `vmdk of ${ref}`).toBe(true);
}

/** The image tables, ids included (compared between copies made from the same home), and what foreign_key_check finds. */
async function imageRows(h: string): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const t of ["image_ref", "manifest", "config", "layer", "manifest_layer"]) out[t] = await sql(h, `SELECT * FROM ${t} ORDER BY id`);
  out.dangling = await sql(h, "PRAGMA foreign_key_check");
  return out;
}

let home: string;
let cache: ImageCache;
sampleCacheEach((h, c) => {
  home = h;
  cache = c;
});

describe("prune()", () => {
  it("reports what msb image prune reports on an identical copy, and msb agrees afterwards", async () => {
    const twin = await copyHome(home);
    const ours = await cache.prune();
    const theirs = await msbImageJson<MsbPruneJson>(twin, ["prune", "--yes"]);
    expect(msbShape(ours)).toEqual(theirs);
    // Nothing pinned: the image tables are emptied whole (DELETE without WHERE), every one of them.
    expect(await imageRows(home)).toEqual(await imageRows(twin));
    expect(ours.imageRefsRemoved).toBe(7);
    expect(ours.skipped).toEqual([]);
    expect(ours.errors).toEqual([]);
    expect(await msbImageJson(home, ["ls"])).toEqual([]);
    expect(await cache.list()).toEqual([]);
    // The same artifact files are gone in both; msb also deletes the lock files, we keep them.
    const artifacts = (files: { path: string }[]) => files.map((f) => f.path).filter((p) => !p.endsWith(".lock"));
    expect(artifacts(await listFiles(join(home, "cache")))).toEqual(artifacts(await listFiles(join(twin, "cache"))));
  });

  it("keeps sandbox- and snapshot-pinned images complete, like msb", async () => {
    await pinImage(home, "base:1", { name: "keeps-base" });
    await pinSnapshot(home, await digestOf(home, "tools:2.0"), { name: "snap-tools" });
    const twin = await copyHome(home);
    const ours = await cache.prune();
    const theirs = await msbImageJson<MsbPruneJson>(twin, ["prune", "--yes"]);
    expect(msbShape(ours)).toEqual(theirs);
    const left = (await cache.list()).map((h) => h.reference).sort();
    expect(left).toEqual(["base:1", "tools:2.0"]);
    const ls = await msbImageJson<{ reference: string; digest: string }[]>(home, ["ls"]);
    expect(ls.map((r) => r.reference).sort()).toEqual(left);
    for (const ref of left) await expectComplete(home, ref);
    expect((await msbImage(home, ["inspect", "base:1"])).code).toBe(0);
  });

  it("leaves the image tables row for row as msb image prune leaves them when pins keep some, no row pointing at nothing", async () => {
    // A partial prune: the manifests' child rows (deleted by hand with the keys off) and the layers no
    // remaining manifest uses, found by set, not per row.
    await pinImage(home, "app:1", { name: "keeps-app" });
    await pinSnapshot(home, await digestOf(home, "base:1"), { name: "snap-base" });
    const twin = await copyHome(home);
    const before = await imageRows(home);
    const ours = await cache.prune();
    await msbImageJson<MsbPruneJson>(twin, ["prune", "--yes"]);
    const after = await imageRows(home);
    expect(after).toEqual(await imageRows(twin));
    expect(after.dangling).toEqual([]);
    expect(ours.manifestsRemoved).toBeGreaterThan(0);
    expect(after.manifest_layer!.length).toBeGreaterThan(0);
    expect(after.manifest_layer!.length).toBeLessThan(before.manifest_layer!.length);
    expect(after.config!.length).toBeLessThan(before.config!.length);
  });

  it("keeps a layer row that names a manifest no longer there, and its layer, as msb image prune does", async () => {
    // Such a row (left by a crash with the keys off) keeps the tables from being emptied whole.
    const [layer] = await sql<{ id: number; diff_id: string }>(home, "SELECT id, diff_id FROM layer ORDER BY id LIMIT 1");
    await sqlScript(home, `PRAGMA foreign_keys = OFF; INSERT INTO manifest_layer (manifest_id, layer_id, position) VALUES (999999, ${layer!.id}, 0);`);
    const twin = await copyHome(home);
    const ours = await cache.prune();
    await msbImageJson<MsbPruneJson>(twin, ["prune", "--yes"]);
    const after = await imageRows(home);
    expect(after).toEqual(await imageRows(twin));
    expect(after.manifest_layer).toEqual([expect.objectContaining({ manifest_id: 999999, layer_id: layer!.id })]);
    expect(after.layer).toEqual([expect.objectContaining({ id: layer!.id })]);
    expect(ours.imageRefsRemoved).toBe(7);
    expect(existsSync(join(home, "cache", "layers", stem(layer!.diff_id) + ".erofs"))).toBe(true);
  });

  it("keeps an image named only by a sandbox's config JSON (msb's prune does not)", async () => {
    const digest = await digestOf(home, "plain");
    await sql(home, "INSERT INTO sandbox(name, config, status, created_at, updated_at) VALUES ('booting', ?, 'Running', '2026-01-01 00:00:00', '2026-01-01 00:00:00')", [
      JSON.stringify({ image: "plain", manifest_digest: digest }),
    ]);
    const twin = await copyHome(home);
    const ours = await cache.prune();
    await msbImageJson<MsbPruneJson>(twin, ["prune", "--yes"]);
    expect((await cache.list()).map((h) => h.reference)).toEqual(["plain"]);
    await expectComplete(home, "plain");
    expect(await msbImageJson<unknown[]>(twin, ["ls"])).toEqual([]); // msb lost it
    expect(ours.imageRefsRemoved).toBe(6);
  });

  it("on a home with no database lists nothing, reports zero and creates nothing", async () => {
    const empty = await makeHome();
    const c = new ImageCache({ home: empty });
    try {
      expect(await c.list()).toEqual([]);
      await expect(c.get("python:3.12")).rejects.toBeInstanceOf(ImageNotFoundError);
      await expect(c.inspect("python:3.12")).rejects.toBeInstanceOf(ImageNotFoundError);
      await expect(c.remove("python:3.12")).rejects.toBeInstanceOf(ImageNotFoundError);
      const r = await c.prune();
      expect(msbShape(r)).toEqual({
        bytes_reclaimed: null,
        fsmeta_removed: 0,
        image_refs_removed: 0,
        layers_removed: 0,
        manifests_removed: 0,
        vmdk_removed: 0,
      });
      expect(await listFiles(empty)).toEqual([]);
    } finally {
      await c.close();
    }
  });

  it("removes a symlinked artifact's link, never its target", async () => {
    const outside = await makeHome();
    const target = join(outside, "precious.erofs");
    await writeFile(target, "not yours");
    const digest = await digestOf(home, "plain");
    const fsmeta = join(home, "cache", "fsmeta", stem(digest) + ".erofs");
    await rm(fsmeta);
    await symlink(target, fsmeta);
    await cache.prune();
    expect(await readFile(target, "utf8")).toBe("not yours");
    await expect(lstat(fsmeta)).rejects.toThrow(/ENOENT/);
  });

  it("skips a file whose msb lock another process holds, and says so", async () => {
    const [layer] = await sql<{ diff_id: string }>(
      home,
      "SELECT l.diff_id FROM image_ref r JOIN manifest_layer ml ON ml.manifest_id = r.manifest_id JOIN layer l ON l.id = ml.layer_id WHERE r.reference = 'plain'",
    );
    const file = join(home, "cache", "layers", stem(layer!.diff_id) + ".erofs");
    const holder = spawn("python3", [
      "-c",
      "import fcntl,os,sys\nfd=os.open(sys.argv[1],os.O_RDWR|os.O_CREAT,0o600)\nfcntl.flock(fd,fcntl.LOCK_EX)\nprint('held',flush=True)\nsys.stdin.read()",
      file + ".lock",
    ]);
    await new Promise<void>((resolve) => holder.stdout.once("data", () => resolve()));
    try {
      const r = await cache.prune();
      expect(r.skipped).toContainEqual({ kind: "layer", id: layer!.diff_id, reason: "locked" });
      expect(existsSync(file)).toBe(true);
      expect(r.layersRemoved).toBe(6); // the row went; the file waits for a later sweep
    } finally {
      holder.stdin.end();
    }
  });
});

describe("remove()", () => {
  it("refuses a sandbox-pinned image without force, naming the sandbox, and changes nothing", async () => {
    await pinImage(home, "base:1", { name: "my-sandbox" });
    const before = await listFiles(join(home, "cache"));
    const err = await cache.remove("base:1").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageInUseError);
    expect(err).toMatchObject({ code: "imageInUse", sandboxes: ["my-sandbox"], snapshots: [] });
    expect(await listFiles(join(home, "cache"))).toEqual(before);
    expect((await cache.list()).map((h) => h.reference)).toContain("base:1");
    // the official SDK agrees it is in use
    await expect(official(home).sdk.remove("base:1")).rejects.toMatchObject({ code: "imageInUse" });
  });

  it("refuses a snapshot-pinned image without force (msb does not)", async () => {
    await pinSnapshot(home, await digestOf(home, "tools:2.0"), { name: "before-upgrade" });
    await expect(cache.remove("tools:2.0")).rejects.toMatchObject({
      code: "imageInUse",
      sandboxes: [],
      snapshots: ["before-upgrade"],
    });
  });

  it("with force drops the reference but keeps a pinned manifest's rows and files until unpinned", async () => {
    const pin = await pinImage(home, "plain", { name: "runner" });
    const digest = await digestOf(home, "plain");
    const twin = await copyHome(home);
    await expect(official(twin).sdk.remove("plain", { force: true })).rejects.toThrow(/FOREIGN KEY/);

    const r = await cache.remove("plain", { force: true });
    expect(r).toMatchObject({ reference: "plain", manifestDigest: digest, manifestRemoved: false, layersRemoved: 0 });
    expect(r.kept).toContainEqual({ kind: "manifest", id: digest, reason: "pinned" });
    await expect(cache.get("plain")).rejects.toBeInstanceOf(ImageNotFoundError);
    expect(existsSync(join(home, "cache", "vmdk", stem(digest) + ".vmdk"))).toBe(true);
    expect(existsSync(join(home, "cache", "fsmeta", stem(digest) + ".erofs"))).toBe(true);
    expect(existsSync(metadataFile(home, "plain"))).toBe(false);

    // Still pinned: prune keeps the dangling manifest; once unpinned, prune takes it.
    await cache.prune();
    expect(await sql(home, "SELECT id FROM manifest WHERE digest = ?", [digest])).toHaveLength(1);
    await sql(home, "DELETE FROM sandbox WHERE id = ?", [pin.sandboxId]);
    const later = await cache.prune();
    expect(later.manifestsRemoved).toBe(1);
    expect(existsSync(join(home, "cache", "vmdk", stem(digest) + ".vmdk"))).toBe(false);
  });

  it("keeps a manifest other references use, and its layers", async () => {
    const digest = await digestOf(home, "app:latest");
    const r = await cache.remove("app:latest");
    expect(r).toMatchObject({ manifestRemoved: false, imageRefsRemoved: 1, layersRemoved: 0, fsmetaRemoved: 0, vmdkRemoved: 0 });
    expect(r.kept).toContainEqual({ kind: "manifest", id: digest, reason: "referenced" });
    expect(existsSync(metadataFile(home, "app:latest"))).toBe(false);
    await expectComplete(home, "app:1");
    await expectComplete(home, "docker.io/library/app:2");
  });

  it("takes the last reference's manifest and unshared layers, keeping shared ones", async () => {
    const twin = await copyHome(home);
    const r = await cache.remove("base:1");
    expect(r).toMatchObject({ manifestRemoved: true, layersRemoved: 0, fsmetaRemoved: 1, vmdkRemoved: 1 });
    expect(r.kept.filter((k) => k.kind === "layer")).toHaveLength(1); // the base layer app and team still use
    await expectComplete(home, "app:1");
    await expectComplete(home, "localhost:5000/team/app:1");
    // msb removes the same rows and files
    expect((await msbImage(twin, ["rm", "base:1"])).code).toBe(0);
    const artifacts = (files: { path: string }[]) => files.map((f) => f.path).filter((p) => !p.endsWith(".lock"));
    expect(artifacts(await listFiles(join(home, "cache")))).toEqual(artifacts(await listFiles(join(twin, "cache"))));
  });

  it.each(["base:1", "localhost:5000/team/app:1", "plain", "app:latest"])(
    "leaves the image tables row for row as msb image rm leaves them (%s), no row pointing at nothing",
    async (ref) => {
      const twin = await copyHome(home);
      const before = await imageRows(home);
      await cache.remove(ref);
      expect((await msbImage(twin, ["rm", ref])).code).toBe(0);
      const ours = await imageRows(home);
      expect(ours).toEqual(await imageRows(twin));
      expect(ours.dangling).toEqual([]);
      expect(ours.image_ref).toHaveLength(before.image_ref!.length - 1);
    },
  );

  it("leaves the deleting to SQLite's keys when the database has a key msb does not declare", async () => {
    // A table a later msb might add, whose rows keep a manifest: its RESTRICT key must refuse plain's delete.
    await sqlScript(
      home,
      `CREATE TABLE extra_hold (id INTEGER PRIMARY KEY, manifest_id INTEGER REFERENCES manifest (id) ON DELETE RESTRICT);
       INSERT INTO extra_hold (manifest_id) SELECT manifest_id FROM image_ref WHERE reference = 'plain';`,
    );
    const fresh = new ImageCache({ home }); // opens its connections on this schema
    try {
      await expect(fresh.remove("plain")).rejects.toThrow(/FOREIGN KEY/);
      expect(await sql(home, "PRAGMA foreign_key_check")).toEqual([]);
      expect(await sql(home, "SELECT 1 FROM image_ref WHERE reference = 'plain'")).toHaveLength(1);
    } finally {
      await fresh.close();
    }
  });

  it("deletes a reference's metadata JSON only when no other reference normalizes to it", async () => {
    const other = await makeHome();
    const { writeDockerSave } = await import("../support/docker-save");
    await writeDockerSave(join(other, "c.tar"), [
      { repoTags: ["c:1", "docker.io/library/c:1"], layers: [{ files: [{ path: "c", content: "c" }] }] },
    ]);
    const { msbLoad } = await import("../support/msb");
    await msbLoad(other, join(other, "c.tar"));
    const c = new ImageCache({ home: other });
    try {
      const json = metadataFile(other, "c:1");
      expect(json).toBe(metadataFile(other, "docker.io/library/c:1"));
      expect(existsSync(json)).toBe(true);
      const first = await c.remove("c:1");
      expect(first.kept).toContainEqual({ kind: "metadata", id: "docker.io/library/c:1", reason: "referenced" });
      expect(existsSync(json)).toBe(true);
      await expectComplete(other, "docker.io/library/c:1");
      const second = await c.remove("docker.io/library/c:1");
      expect(second.manifestRemoved).toBe(true);
      expect(existsSync(json)).toBe(false);
    } finally {
      await c.close();
    }
  });

  it("accepts a bare boolean as force, as the seed API does", async () => {
    await pinImage(home, "plain");
    await expect(cache.remove("plain", false)).rejects.toBeInstanceOf(ImageInUseError);
    await expect(cache.remove("plain", true)).resolves.toMatchObject({ reference: "plain" });
  });

  it("works from a handle", async () => {
    const h = await cache.get("tools:2.0");
    const r = await h.remove();
    expect(r).toMatchObject({ reference: "tools:2.0", manifestRemoved: true, layersRemoved: 1 });
    await expect(h.inspect()).rejects.toBeInstanceOf(ImageNotFoundError);
  });
});

describe("reference look-up", () => {
  it("finds a stored reference by its normalized form", async () => {
    expect((await cache.get("docker.io/library/plain:latest")).reference).toBe("plain");
    expect((await cache.get("plain:latest")).reference).toBe("plain");
    expect((await cache.get("index.docker.io/library/tools:2.0")).reference).toBe("tools:2.0");
  });

  it("finds an image by manifest digest, and lists the candidates when several match", async () => {
    const plain = await digestOf(home, "plain");
    expect((await cache.get(plain)).reference).toBe("plain");
    const app = await digestOf(home, "app:1");
    const err = await cache.get(app).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AmbiguousReferenceError);
    expect((err as AmbiguousReferenceError).candidates).toEqual(["app:1", "app:latest", "docker.io/library/app:2"]);
    await expect(cache.remove(app)).rejects.toBeInstanceOf(AmbiguousReferenceError);
    expect(await cache.list()).toHaveLength(7);
  });

  it("reports not found with the reference", async () => {
    await expect(cache.get("nope:1")).rejects.toMatchObject({ code: "imageNotFound", reference: "nope:1", message: "image not found: nope:1" });
  });
});
