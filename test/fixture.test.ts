// Checks the scale fixture builder (test/support/fixture.ts) against the REAL msb 0.6.18:
// - its database has exactly the schema and migration rows a home made by `msb load` has (and msb does not
//   migrate or rewrite it);
// - `msb image ls/inspect --format json` report exactly the fixture's images;
// - every EROFS file passes msb's validity test and fsck.erofs (npm test installs it), VMDKs point into the home;
// - `msb image prune --yes` removes everything but the pinned image, file by file.
// msb comes from interop/ (scripts/install-msb.sh installs it); MSB_BIN overrides the path.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildFixture, digestStem, type FixtureSummary } from "./support/fixture";

const MSB =
  process.env.MSB_BIN ??
  path.resolve(__dirname, "../interop/node_modules/@superradcompany/microsandbox-linux-x64-gnu/bin/msb");
const PYTHON = process.env.MSB_FIXTURE_PYTHON || "python3";

function msb(home: string, args: string[]): string {
  return execFileSync(MSB, args, {
    env: { ...process.env, MSB_HOME: home, NO_COLOR: "1" },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** Read-only query through python3's sqlite3 (never checkpoints or changes the file). */
function query(db: string, sql: string): unknown[][] {
  const code =
    "import json,sqlite3,sys\n" +
    "c=sqlite3.connect('file:'+sys.argv[1]+'?mode=ro',uri=True)\n" +
    "print(json.dumps([list(r) for r in c.execute(sys.argv[2])]))";
  return JSON.parse(execFileSync(PYTHON, ["-c", code, db, sql], { encoding: "utf8" })) as unknown[][];
}

// --- a tiny docker-save archive, to get a home made by the real msb for comparison ---
function tarEntry(name: string, data: Buffer): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, "utf8");
  h.write("0000644\0", 100);
  h.write("0000000\0", 108);
  h.write("0000000\0", 116);
  h.write(data.length.toString(8).padStart(11, "0") + "\0", 124);
  h.write("00000000000\0", 136);
  h.write("        ", 148);
  h.write("0", 156);
  h.write("ustar\0" + "00", 257);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148);
  return Buffer.concat([h, data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
}
const tarOf = (entries: Array<[string, Buffer]>): Buffer =>
  Buffer.concat([...entries.map(([n, d]) => tarEntry(n, d)), Buffer.alloc(1024)]);
const sha = (b: Buffer | string): string => createHash("sha256").update(b).digest("hex");

function dockerSave(): Buffer {
  const layer = tarOf([["hello.txt", Buffer.from("hello\n")]]);
  const config = Buffer.from(JSON.stringify({
    architecture: "amd64", os: "linux", config: { Env: ["A=1"], Cmd: ["/bin/sh"] },
    rootfs: { type: "layers", diff_ids: [`sha256:${sha(layer)}`] },
  }));
  const manifest = Buffer.from(JSON.stringify([
    { Config: `${sha(config)}.json`, RepoTags: ["ref-img:1"], Layers: [`${sha(layer)}/layer.tar`] },
  ]));
  return tarOf([[`${sha(config)}.json`, config], [`${sha(layer)}/layer.tar`, layer], ["manifest.json", manifest]]);
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p); else out.push(path.relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}
const listDirs = (dir: string): string[] => {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) { out.push(path.relative(dir, path.join(d, e.name))); walk(path.join(d, e.name)); }
    }
  };
  walk(dir);
  return out.sort();
};

/** msb's EROFS validity test (msb-cache-format.md §4.1). */
function checkErofs(file: string): { blocks: number; extraDevices: number; buf: Buffer } {
  const st = fs.statSync(file);
  expect(st.isFile()).toBe(true);
  expect(st.size).toBeGreaterThan(0);
  expect(st.size % 4096).toBe(0);
  const buf = Buffer.alloc(8192);
  const fd = fs.openSync(file, "r");
  fs.readSync(fd, buf, 0, 8192, 0);
  fs.closeSync(fd);
  expect(buf.readUInt32LE(1024)).toBe(0xe0f5e1e2);
  expect(buf[1024 + 0x0c]).toBe(12);
  const blocks = buf.readUInt32LE(1024 + 0x24);
  expect(blocks * 4096).toBe(st.size);
  const root = buf.readUInt32LE(1024 + 0x28) * 4096 + buf.readUInt16LE(1024 + 0x0e) * 32;
  expect(buf.readUInt16LE(root + 4) & 0o170000).toBe(0o040000);
  return { blocks, extraDevices: buf.readUInt16LE(1024 + 0x56), buf };
}

describe("scale fixture vs the real msb 0.6.18", () => {
  let tmp: string;
  let refHome: string;
  let home: string;
  let fx: FixtureSummary;

  beforeAll(async () => {
    if (!fs.existsSync(MSB)) throw new Error(`msb not found at ${MSB}: run scripts/install-msb.sh or set MSB_BIN`);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "msb-fixture-test-"));
    refHome = path.join(tmp, "ref");
    const tar = path.join(tmp, "save.tar");
    fs.writeFileSync(tar, dockerSave());
    msb(refHome, ["load", "-i", tar]);
    home = path.join(tmp, "fx");
    fx = await buildFixture(home, { images: 30, sharedBases: 4, layersPerImage: 3, seed: 7, aliases: 3, dangling: 2, pinned: 1 });
  }, 60_000);

  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("has exactly msb's schema and migration rows, and msb leaves them alone", () => {
    const schema = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name";
    const ref = query(path.join(refHome, "db/msb.db"), schema);
    expect(ref.length).toBeGreaterThan(40);
    expect(query(fx.dbPath, schema)).toEqual(ref);
    const mig = "SELECT version FROM seaql_migrations ORDER BY rowid";
    expect(query(fx.dbPath, mig)).toEqual(query(path.join(refHome, "db/msb.db"), mig));
    expect(query(fx.dbPath, "PRAGMA journal_mode")).toEqual([["wal"]]);
    msb(home, ["image", "ls"]);
    expect(query(fx.dbPath, schema)).toEqual(ref);
    expect(query(fx.dbPath, "SELECT count(*) FROM seaql_migrations")).toEqual([[25]]);
  });

  it("lays out the home like msb (directories, lock files, modes, JSON shape)", () => {
    expect(listDirs(home)).toEqual(listDirs(refHome));
    const kinds = (files: string[]): string[] =>
      [...new Set(files.map((f) => f.replace(/sha256_[0-9a-f]{64}/, "<d>").replace(/[0-9a-f]{64}\.json$/, "<k>.json")))].sort();
    const ignore = (f: string): boolean => f.startsWith("db/msb.db-"); // -wal/-shm come and go
    expect(kinds(listFiles(home).filter((f) => !ignore(f)))).toEqual(kinds(listFiles(refHome).filter((f) => !ignore(f))));
    for (const h of [home, refHome]) {
      for (const f of listFiles(path.join(h, "cache"))) {
        const mode = fs.statSync(path.join(h, "cache", f)).mode & 0o777;
        expect([f, mode]).toEqual([f, f.endsWith(".lock") ? 0o600 : 0o644]);
        if (f.endsWith(".lock")) expect(fs.statSync(path.join(h, "cache", f)).size).toBe(0);
      }
    }
    const shape = (file: string): unknown => {
      const j = JSON.parse(fs.readFileSync(file, "utf8"));
      return [Object.keys(j), Object.keys(j.config), Object.keys(j.layers[0]), Object.keys(JSON.parse(j.raw_manifest_json))];
    };
    const refJson = listFiles(path.join(refHome, "cache/manifests"))[0]!;
    const [k0, k1, k2] = shape(path.join(refHome, "cache/manifests", refJson)) as string[][];
    const [f0, f1, f2, f3] = shape(fx.refs[0]!.jsonPath) as string[][];
    expect([f0, f1, f2]).toEqual([k0, k1, k2]);
    expect(f3).toEqual(["schemaVersion", "mediaType", "config", "layers"]);
  });

  it("msb image ls lists exactly the fixture's references, digests, sizes and layer counts", () => {
    const ls = JSON.parse(msb(home, ["image", "ls", "--format", "json"])) as Array<Record<string, unknown>>;
    expect(ls.length).toBe(33);
    expect(ls.map((e) => e.reference)).toEqual(fx.refs.map((r) => r.reference)); // newest first, as msb orders
    for (const [i, r] of fx.refs.entries()) {
      const e = ls[i]!;
      expect(e).toMatchObject({
        reference: r.reference, digest: r.manifestDigest, size_bytes: r.sizeBytes, layer_count: r.layerCount,
        architecture: r.architecture, os: r.os,
      });
      expect(Date.parse(e.created_at as string)).toBe(Date.parse(r.createdAt.replace(" ", "T") + "Z"));
    }
    // JSON files are keyed by sha256(normalized reference) and hold the manifest's digest
    for (const r of fx.refs) {
      expect(path.basename(r.jsonPath)).toBe(`${sha(r.normalized)}.json`);
      expect(JSON.parse(fs.readFileSync(r.jsonPath, "utf8")).manifest_digest).toBe(r.manifestDigest);
    }
    expect(fx.refs.some((r) => r.alias && r.reference === r.normalized)).toBe(true); // two refs, one JSON
  });

  it("msb image inspect agrees with the fixture", () => {
    for (const r of [fx.refs[0]!, fx.refs[7]!, fx.refs[fx.refs.length - 1]!]) {
      const d = JSON.parse(msb(home, ["image", "inspect", r.reference, "--format", "json"]));
      const m = fx.manifests.find((x) => x.digest === r.manifestDigest)!;
      expect(d.reference).toBe(r.reference);
      expect(d.digest).toBe(r.manifestDigest);
      expect(d.config.digest).toBe(m.configDigest);
      expect(d.layers.map((l: { diff_id: string }) => l.diff_id)).toEqual(m.diffIds);
      expect(d.layers.map((l: { position: number }) => l.position)).toEqual([0, 1, 2]);
      expect(d.layers.every((l: { erofs_size_bytes: unknown }) => l.erofs_size_bytes === null)).toBe(true);
    }
  });

  it("writes valid EROFS layers and fsmeta, and VMDKs into this home", () => {
    for (const l of fx.layers) {
      const e = checkErofs(l.erofsPath);
      expect(e.extraDevices).toBe(0);
      expect(e.blocks * 4096).toBe(l.erofsBytes);
    }
    for (const m of fx.manifests) {
      const e = checkErofs(m.fsmetaPath);
      expect(e.extraDevices).toBe(m.layerCount);
      let mapped = e.blocks;
      m.diffIds.forEach((d, i) => {
        const layer = fx.layers.find((l) => l.diffId === d)!;
        const slot = e.buf.readUInt16LE(1024 + 0x58) * 128 + i * 128;
        expect(e.buf.readUInt32LE(slot + 0x40) * 4096).toBe(layer.erofsBytes);
        expect(e.buf.readUInt32LE(slot + 0x44)).toBe(mapped);
        mapped += layer.erofsBytes / 4096;
      });
      const vmdk = fs.readFileSync(m.vmdkPath, "utf8");
      const extents = [...vmdk.matchAll(/^RW (\d+) FLAT "(.+)" 0$/gm)].map((x) => [Number(x[1]), x[2]]);
      const files = [m.fsmetaPath, ...m.diffIds.map((d) => path.join(fx.cacheDir, "layers", `${digestStem(d)}.erofs`))];
      expect(extents).toEqual(files.map((f) => [fs.statSync(f).size / 512, f]));
      const total = extents.reduce((n, x) => n + (x[0] as number), 0);
      expect(vmdk).toContain(`ddb.geometry.cylinders = "${Math.ceil(total / 1008)}"`);
    }
    for (const l of fx.layers.slice(0, 5)) execFileSync("fsck.erofs", [l.erofsPath], { stdio: "ignore" });
    const m = fx.manifests[0]!;
    const devs = m.diffIds.map((d) => `--device=${path.join(fx.cacheDir, "layers", `${digestStem(d)}.erofs`)}`);
    execFileSync("fsck.erofs", [...devs, m.fsmetaPath], { stdio: "ignore" });
  });

  it("msb image prune --yes removes every unpinned image and its files", () => {
    const pinned = fx.manifests.filter((m) => m.pinnedBySandboxId !== null);
    expect(pinned.length).toBe(1);
    const keepRefs = fx.refs.filter((r) => r.manifestDigest === pinned[0]!.digest);
    const keepLayers = new Set(pinned[0]!.diffIds);
    const report = JSON.parse(msb(home, ["image", "prune", "--yes", "--format", "json"]));
    expect(report).toMatchObject({
      image_refs_removed: fx.counts.imageRefs - keepRefs.length,
      manifests_removed: fx.counts.manifests - 1,
      layers_removed: fx.counts.layers - keepLayers.size,
      fsmeta_removed: fx.counts.manifests - 1,
      vmdk_removed: fx.counts.manifests - 1,
    });
    const ls = JSON.parse(msb(home, ["image", "ls", "--format", "json"])) as Array<{ reference: string }>;
    expect(ls.map((e) => e.reference).sort()).toEqual(keepRefs.map((r) => r.reference).sort());
    expect(listFiles(path.join(fx.cacheDir, "layers")).length).toBe(2 * keepLayers.size);
    expect(listFiles(path.join(fx.cacheDir, "fsmeta"))).toEqual(
      [`${digestStem(pinned[0]!.digest)}.erofs`, `${digestStem(pinned[0]!.digest)}.erofs.lock`]);
    expect(listFiles(path.join(fx.cacheDir, "vmdk")).length).toBe(1);
  });
});
