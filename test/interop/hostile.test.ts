// Hostile input and faults, on msb-made caches: symlinks planted in the cache, digests and references crafted
// to traverse, a VMDK naming files elsewhere, a database that cannot be written (by the file system, or by
// the user), damaged database files, schemas missing what pins need, and msb's install lease. Each test plants
// canaries outside the cache where a careless implementation would delete, and checks them afterwards.
// (Complements errors.test.ts and prune-remove.test.ts, which cover the simpler cases.)
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, chown, cp, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rename, rm, symlink, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";

import { DatabaseError, ImageCache, MaintenanceError, SchemaError } from "../../lib/index";
import { copyHome, makeHome, msbImage, pinImage, REPO_ROOT, run, sql, sqlScript, type SqlStatement } from "../support/msb";
import { cacheHitProblems, metadataFileName, oracleStem, orphanArtifacts, pythonExe, useRealPython } from "../support/oracle";
import { sampleCacheEach } from "../support/sample-cache";

let home: string;
let cache: ImageCache;
sampleCacheEach((h, c) => {
  home = h;
  cache = c;
});

const cacheDir = () => join(home, "cache");
const immutable: string[] = []; // chattr +i paths to release after each test
afterEach(async () => {
  while (immutable.length) await run("chattr", ["-i", immutable.pop()!], process.env);
});

/** Every entry under `dir` (never following symlinks): path, type, size, content hash, link target. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(d: string) {
    for (const n of (await readdir(d).catch(() => [] as string[])).sort()) {
      const p = join(d, n);
      const st = await lstat(p);
      const rel = relative(dir, p);
      if (st.isSymbolicLink()) out.push(`${rel} -> ${await readlink(p)}`);
      else if (st.isDirectory()) {
        out.push(`${rel}/`);
        await walk(p);
      } else out.push(`${rel} ${st.size} ${createHash("sha256").update(await readFile(p)).digest("hex").slice(0, 16)}`);
    }
  }
  await walk(dir);
  return out;
}

/** The cache and the database file, as a fingerprint (SQLite's -wal/-shm excluded: opening may create them). */
async function fingerprint(h = home): Promise<string[]> {
  return [...(await tree(join(h, "cache"))), ...(await tree(join(h, "db"))).filter((l) => !/-(wal|shm)\b/.test(l))];
}

async function digestOf(ref: string, h = home): Promise<string> {
  const [row] = await sql<{ digest: string }>(h, "SELECT m.digest FROM image_ref r JOIN manifest m ON m.id = r.manifest_id WHERE r.reference = ?", [ref]);
  return row!.digest;
}

async function layersOf(ref: string, h = home): Promise<string[]> {
  const rows = await sql<{ diff_id: string }>(
    h,
    "SELECT l.diff_id FROM image_ref r JOIN manifest_layer ml ON ml.manifest_id = r.manifest_id JOIN layer l ON l.id = ml.layer_id WHERE r.reference = ? ORDER BY ml.position",
    [ref],
  );
  return rows.map((r) => r.diff_id);
}

/** A canary tree outside the cache: files and a directory with files. */
async function plantCanaries(): Promise<string> {
  const outside = await makeHome("msbcanary-");
  await writeFile(join(outside, "file.txt"), "precious file\n");
  await writeFile(join(outside, "meta.json"), JSON.stringify({ manifest_digest: "not yours" }));
  await mkdir(join(outside, "dir"));
  await writeFile(join(outside, "dir", "a"), "a\n");
  await writeFile(join(outside, "dir", "b"), "b\n");
  await mkdir(join(outside, "dir2"));
  await writeFile(join(outside, "dir2", "c"), "c\n");
  return outside;
}

async function chattrImmutable(path: string): Promise<void> {
  const r = await run("chattr", ["+i", path], process.env);
  if (r.code !== 0) {
    throw new Error(`chattr +i ${path} failed (${r.stderr.trim()}): this test needs a file system with the immutable attribute and CAP_LINUX_IMMUTABLE`);
  }
  immutable.push(path);
}

const gone = async (p: string) => (await lstat(p).catch(() => null)) === null;

describe("symlinks planted in the cache", () => {
  it("prune and remove unlink a link to a file or directory outside, never its target", async () => {
    const outside = await plantCanaries();
    const before = await tree(outside);
    // plain: fsmeta → a directory, VMDK → a file, its layer → another directory, its JSON → a file.
    const plain = oracleStem(await digestOf("plain"));
    const [solo] = await layersOf("plain");
    const links = {
      fsmeta: [join(cacheDir(), "fsmeta", `${plain}.erofs`), join(outside, "dir")],
      vmdk: [join(cacheDir(), "vmdk", `${plain}.vmdk`), join(outside, "file.txt")],
      layer: [join(cacheDir(), "layers", `${oracleStem(solo!)}.erofs`), join(outside, "dir2")],
      json: [join(cacheDir(), "manifests", metadataFileName("plain")), join(outside, "meta.json")],
    };
    // tools:2.0 goes through remove(): its layer and VMDK become links.
    const tools = oracleStem(await digestOf("tools:2.0"));
    const [toolsLayer] = await layersOf("tools:2.0");
    const removeLinks = [
      [join(cacheDir(), "layers", `${oracleStem(toolsLayer!)}.erofs`), join(outside, "dir", "a")],
      [join(cacheDir(), "vmdk", `${tools}.vmdk`), join(outside, "dir")],
    ];
    for (const [link, target] of [...Object.values(links), ...removeLinks]) {
      await rm(link!);
      await symlink(target!, link!);
    }

    const removed = await cache.remove("tools:2.0");
    expect(removed.errors).toEqual([]);
    for (const [link] of removeLinks) expect(await gone(link!), link).toBe(true);
    const pruned = await cache.prune();
    expect(pruned.errors).toEqual([]);
    for (const [link] of Object.values(links)) expect(await gone(link!), link).toBe(true);
    expect(await tree(outside)).toEqual(before);
    expect(await cache.list()).toEqual([]);
  });

  it("a cache subdirectory replaced by a link to a directory outside: nothing in it is deleted", async () => {
    // layers/ moves outside (with the exact file names prune would delete) and a link takes its place.
    const outside = await makeHome("msbcanary-");
    await rename(join(cacheDir(), "layers"), join(outside, "layers"));
    await symlink(join(outside, "layers"), join(cacheDir(), "layers"));
    const before = await tree(outside);
    const r = await cache.prune();
    expect(r.imageRefsRemoved).toBe(7);
    expect(r.layerFilesRemoved).toBe(0);
    expect(r.errors.length).toBeGreaterThan(0);
    for (const e of r.errors) expect(e.message).toMatch(/is a symlink or not a directory, refusing to delete through it/);
    await cache.verify({ repair: true, graceMs: 0 });
    expect(await tree(outside)).toEqual(before);
  });

  it("a lock file replaced by a link to a file outside: the file stays, its artifact is skipped", async () => {
    const outside = await plantCanaries();
    const before = await tree(outside);
    const [solo] = await layersOf("plain");
    const lock = join(cacheDir(), "layers", `${oracleStem(solo!)}.erofs.lock`);
    await rm(lock);
    await symlink(join(outside, "file.txt"), lock);
    const r = await cache.prune();
    expect(r.errors).toContainEqual({ kind: "layer", id: solo, message: expect.stringMatching(/cannot open lock/) });
    expect(existsSync(join(cacheDir(), "layers", `${oracleStem(solo!)}.erofs`))).toBe(true);
    await cache.verify({ repair: true, graceMs: 0 });
    expect(await tree(outside)).toEqual(before);
  });
});

describe("digests and references in the database crafted to traverse or with odd characters", () => {
  it("never become paths: canaries where a naive join would land survive prune, remove and verify's repair", async () => {
    const hex = (s: string) => createHash("sha256").update(s).digest("hex");
    const crafted = [
      "sha256:../../../../canary-up",
      "../../../canary-rel",
      "/etc/../../canary-abs",
      "sha256:" + "A".repeat(64),
      "sha256:" + hex("x") + "/../../../canary-tail",
      "sha256:" + hex("y").slice(0, 63) + "\n",
      "sha256:" + hex("z") + "\u0000/../../../canary-nul",
      "sha256: " + hex("w"),
      "sha512:" + hex("v"),
    ];
    // Canaries wherever `<dir>/<digest with ':' → '_'><ext>` would resolve to outside that directory, inside the
    // home (and, for the uppercase digest, a file with exactly that name inside the cache).
    const canaries: string[] = [];
    for (const d of crafted) {
      for (const [dir, ext] of [["fsmeta", ".erofs"], ["vmdk", ".vmdk"], ["layers", ".erofs"]] as const) {
        const base = join(cacheDir(), dir);
        const naive = resolve(base, d.replace(":", "_").replace(/\u0000/g, "") + ext);
        if (!naive.startsWith(home + "/") || naive.includes("\n")) continue;
        await mkdir(dirname(naive), { recursive: true });
        await writeFile(naive, `canary for ${JSON.stringify(d)}\n`);
        canaries.push(naive);
      }
    }
    expect(canaries.length).toBeGreaterThan(10);
    const outsideBefore = await Promise.all(canaries.map((c) => readFile(c, "utf8")));
    const now = "2026-01-01 00:00:00";
    const statements: SqlStatement[] = crafted.flatMap((d, i): SqlStatement[] => [
      { sql: "INSERT INTO manifest(digest, architecture, os, layer_count, total_size_bytes, created_at) VALUES (?, 'amd64', 'linux', 1, 1, ?)", params: [d, now] },
      { sql: "INSERT INTO image_ref(reference, manifest_id, created_at, updated_at) VALUES (?, last_insert_rowid(), ?, ?)", params: [`evil-${i}:1`, now, now] },
      { sql: "INSERT INTO layer(diff_id, blob_digest, created_at) VALUES (?, ?, ?)", params: [d, d, now] },
      {
        sql: "INSERT INTO manifest_layer(manifest_id, layer_id, position) VALUES ((SELECT id FROM manifest WHERE digest = ?), last_insert_rowid(), 0)",
        params: [d],
      },
    ]);
    // References that are not references at all, on a real image.
    const plainId = (await sql<{ id: number }>(home, "SELECT manifest_id AS id FROM image_ref WHERE reference = 'plain'"))[0]!.id;
    for (const ref of ["../../../../canary-ref", "evil\nref", "ÜNÏCODE:1", " ", "x".repeat(5000)]) {
      statements.push({ sql: "INSERT INTO image_ref(reference, manifest_id, created_at, updated_at) VALUES (?, ?, ?, ?)", params: [ref, plainId, now, now] });
    }
    const { sqlTx } = await import("../support/msb");
    await sqlTx(home, statements);

    // Reads show them; nothing breaks.
    const listed = (await cache.list()).map((h) => h.reference);
    expect(listed).toContain("evil\nref");
    expect(listed).toContain("evil-0:1");
    await cache.diskUsage();

    const removed = await cache.remove("evil-0:1");
    expect(removed.errors).toContainEqual({ kind: "manifest", id: crafted[0], message: "not a valid digest; never used as a file name" });
    const r = await cache.prune();
    expect(r.imageRefsRemoved).toBe(7 + crafted.length - 1 + 5);
    for (const d of crafted.slice(1)) {
      expect(r.errors).toContainEqual({ kind: "manifest", id: d, message: "not a valid digest; never used as a file name" });
      expect(r.errors).toContainEqual({ kind: "layer", id: d, message: "not a valid digest; never used as a file name" });
    }
    await cache.verify({ repair: true, graceMs: 0 });
    expect(await Promise.all(canaries.map((c) => readFile(c, "utf8")))).toEqual(outsideBefore);
    expect(await cache.list()).toEqual([]);
  });
});

describe("a VMDK that names files outside the cache", () => {
  it("is never a list of things to delete: prune, remove, diskUsage and verify leave those files alone", async () => {
    const outside = await plantCanaries();
    const before = await tree(outside);
    await pinImage(home, "tools:2.0", { name: "keeps-tools" });
    const [toolsLayer] = await layersOf("tools:2.0");
    const toolsLayerFile = join(cacheDir(), "layers", `${oracleStem(toolsLayer!)}.erofs`);
    // plain's descriptor: a file outside, a directory outside, a relative path up, and a kept image's layer.
    const extents = [join(outside, "file.txt"), join(outside, "dir"), "../../../../dir2/c", toolsLayerFile];
    const plainVmdk = join(cacheDir(), "vmdk", `${oracleStem(await digestOf("plain"))}.vmdk`);
    await writeFile(
      plainVmdk,
      '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="twoGbMaxExtentFlat"\n\n# Extent description\n' +
        extents.map((p) => `RW 8 FLAT "${p}" 0`).join("\n") +
        '\n\n# The Disk Data Base\n#DDB\nddb.virtualHWVersion = "4"\n',
    );
    const usage = await cache.diskUsage();
    expect(usage.images.find((i) => i.reference === "plain")!.virtualBytes).toBe(4 * 8 * 512);
    const v = await cache.verify({ repair: true, graceMs: 0 });
    expect(v.findings.find((f) => f.kind === "vmdk-mismatch" && f.path === plainVmdk)).toMatchObject({ repaired: false });
    await cache.remove("plain");
    await cache.prune();
    expect(await gone(plainVmdk)).toBe(true);
    expect(await tree(outside)).toEqual(before);
    expect(await cacheHitProblems(cacheDir(), "tools:2.0")).toEqual([]);
  });
});

describe("a database that cannot be written", () => {
  it("made immutable (chattr +i, which stops root too): reads work, writes fail with databaseReadOnly, nothing changes", async () => {
    const db = join(home, "db", "msb.db");
    for (const f of [db, `${db}-wal`, `${db}-shm`]) if (existsSync(f)) await chattrImmutable(f);
    const before = await fingerprint();
    const c = new ImageCache({ home });
    try {
      expect(await c.list()).toHaveLength(7);
      expect((await c.inspect("plain")).layers).toHaveLength(1);
      expect((await c.diskUsage()).images).toHaveLength(7);
      expect((await c.verify()).checked.references).toBe(7);
      for (const call of [() => c.prune(), () => c.remove("plain"), () => c.prune({ dryRun: true })]) {
        const err = await call().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(DatabaseError);
        expect(err).toMatchObject({ code: "databaseReadOnly" });
      }
    } finally {
      await c.close();
    }
    expect(await fingerprint()).toEqual(before);
  });

  it("readable but not writable by the user, after msb's last connection removed -wal/-shm: reads work, writes fail", async () => {
    // msb's last connection checkpoints and deletes -wal/-shm; a reader who may not create -shm in db/
    // must still be able to read (SQLite cannot open a WAL database read-only without it otherwise).
    await sql(home, "SELECT 1");
    expect(existsSync(join(home, "db", "msb.db-wal"))).toBe(false);
    await chmod(home, 0o755);
    await chmod(join(home, "db", "msb.db"), 0o444);
    await chmod(join(home, "db"), 0o555);
    const nobody = 65534;
    const asRoot = process.getuid?.() === 0;
    // As root, the calls run in a child as nobody (file modes do not stop root); otherwise as this user.
    if (asRoot) await run("chown", ["-R", `${nobody}:${nobody}`, join(home, "cache")], process.env);
    // nobody must reach the library wherever this checkout lives (a clone under /root, or in a mode-0700
    // temporary directory, is out of its reach): as root, the child runs a copy staged in a readable directory.
    const lib = asRoot ? await stageLibrary() : REPO_ROOT;
    const before = await fingerprint();
    const out = await new Promise<string>((resolveOut, reject) => {
      const child = spawn(process.execPath, [join(lib, "test", "support", "calls-child.cjs"), join(lib, "dist", "index.js"), home, "plain"], {
        ...(asRoot ? { uid: nobody, gid: nobody } : {}),
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      child.on("error", reject);
      child.on("close", (code) => (code === 0 ? resolveOut(stdout) : reject(new Error(stderr))));
    });
    const results = Object.fromEntries(out.trim().split("\n").map((l) => JSON.parse(l)).map((r) => [r.call, r]));
    expect(results.list).toMatchObject({ ok: true });
    expect(results.list.value).toHaveLength(7);
    expect(results.get).toMatchObject({ ok: true, value: await digestOf("plain") });
    expect(results.inspect).toMatchObject({ ok: true, value: 1 });
    expect(results.diskUsage).toMatchObject({ ok: true, value: 7 });
    expect(results.verify).toMatchObject({ ok: true, value: 7 });
    expect(results.prune).toMatchObject({ ok: false, code: "databaseReadOnly" });
    expect(results.remove).toMatchObject({ ok: false, code: "databaseReadOnly" });
    expect(await fingerprint()).toEqual(before);
    await chmod(join(home, "db"), 0o755);
    if (lib !== REPO_ROOT) await rm(lib, { recursive: true, force: true });
  });

  it("a cache directory that refuses unlinks: the rows go, the files stay and are reported; verify repairs them later", async () => {
    await chattrImmutable(join(cacheDir(), "layers"));
    const r = await cache.prune();
    expect(r.imageRefsRemoved).toBe(7);
    expect(r.layerFilesRemoved).toBe(0);
    expect(r.errors.filter((e) => e.kind === "layer").length).toBe(r.layersRemoved);
    for (const e of r.errors) expect(e.message).toMatch(/Operation not permitted/);
    expect(await cache.list()).toEqual([]);
    // Files without rows, never rows without files.
    expect((await orphanArtifacts(home)).every((f) => f.startsWith("layers/"))).toBe(true);
    await run("chattr", ["-i", immutable.pop()!], process.env);
    const v = await cache.verify({ repair: true, graceMs: 0 });
    expect(v.ok).toBe(true);
    expect(await orphanArtifacts(home)).toEqual([]);
  });
});

// What calls-child.cjs needs to load the built library, copied into a directory every user can read.
async function stageLibrary(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "msb-lib-"));
  for (const p of ["package.json", "dist", join("build", "Release", "msb_image_cache.node"), join("node_modules", "node-gyp-build"), join("test", "support", "calls-child.cjs")]) {
    await cp(join(REPO_ROOT, p), join(dir, p), { recursive: true });
  }
  await run("chmod", ["-R", "a+rX", dir], process.env);
  return dir;
}

describe("a damaged database file", () => {
  const calls = (c: ImageCache) => ({
    list: () => c.list(),
    get: () => c.get("plain"),
    inspect: () => c.inspect("plain"),
    diskUsage: () => c.diskUsage(),
    verify: () => c.verify(),
    repair: () => c.verify({ repair: true, graceMs: 0 }),
    prune: () => c.prune(),
    remove: () => c.remove("plain"),
  });

  for (const [what, damage, code] of [
    ["truncated to half", "half", "databaseCorrupt"],
    ["empty (0 bytes)", "empty", "schemaUnsupported"],
    ["a directory", "directory", "databaseCorrupt"],
  ] as const) {
    it(`${what}: every call rejects with ${code}, nothing is created or deleted`, async () => {
      const db = join(home, "db", "msb.db");
      await sql(home, "SELECT 1"); // checkpointed: msb.db holds everything, -wal/-shm are gone
      if (damage === "half") await truncate(db, Math.floor((await lstat(db)).size / 2));
      if (damage === "empty") await truncate(db, 0);
      if (damage === "directory") {
        await rm(db);
        await mkdir(db);
      }
      const before = await fingerprint();
      const c = new ImageCache({ home });
      try {
        for (const [name, call] of Object.entries(calls(c))) {
          const err = await call().catch((e: unknown) => e);
          expect(err, name).toMatchObject({ code });
          expect(err, name).toBeInstanceOf(code === "schemaUnsupported" ? SchemaError : DatabaseError);
        }
      } finally {
        await c.close();
      }
      expect(await fingerprint()).toEqual(before);
      if (damage === "empty") expect((await lstat(db)).size).toBe(0); // never created or migrated
    });
  }
});

describe("a schema missing what pins need", () => {
  for (const [what, script, missing] of [
    ["snapshot_index without image_manifest_digest", "DROP INDEX idx_snapshot_index_image; ALTER TABLE snapshot_index DROP COLUMN image_manifest_digest", "snapshot_index.image_manifest_digest"],
    ["no sandbox_rootfs table", "DROP TABLE sandbox_rootfs", "sandbox_rootfs"],
    ["sandbox without active_config", "ALTER TABLE sandbox DROP COLUMN active_config", "sandbox.active_config"],
    ["maintenance_lease without lease_expires_at", "ALTER TABLE maintenance_lease DROP COLUMN lease_expires_at", "maintenance_lease.lease_expires_at"],
  ] as const) {
    it(`${what}: prune, remove and verify refuse with schemaUnsupported rather than miss a pin; nothing changes`, async () => {
      await sqlScript(home, script);
      const before = await fingerprint();
      const c = new ImageCache({ home });
      try {
        for (const call of [() => c.prune(), () => c.remove("plain"), () => c.verify({ repair: true, graceMs: 0 }), () => c.list()]) {
          const err = await call().catch((e: unknown) => e);
          expect(err).toBeInstanceOf(SchemaError);
          expect((err as SchemaError).missing).toContain(missing);
        }
      } finally {
        await c.close();
      }
      expect(await fingerprint()).toEqual(before);
    });
  }
});

describe("msb's install_exclusive lease", () => {
  const setLease = (h: string, expires: string, pid: number | null = 1) =>
    sql(h, "UPDATE maintenance_lease SET lease_expires_at = ?, holder_pid = ? WHERE name = 'install_exclusive'", [expires, pid]);

  it("held: prune, remove and verify's repair refuse with maintenanceInProgress, as msb does; reads work; nothing changes", async () => {
    await setLease(home, "2999-01-01 00:00:00");
    const twin = await copyHome(home);
    const before = await fingerprint();
    for (const call of [() => cache.prune(), () => cache.remove("plain"), () => cache.verify({ repair: true, graceMs: 0 })]) {
      // (that it waits a held lease out before refusing is shown, without the clock, by the next test)
      const err = await call().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MaintenanceError);
      expect(err).toMatchObject({ code: "maintenanceInProgress" });
    }
    expect(await cache.list()).toHaveLength(7);
    expect((await cache.verify()).checked.references).toBe(7);
    expect(await fingerprint()).toEqual(before);
    // msb refuses the same writes on an identical copy
    for (const args of [["prune", "--yes"], ["rm", "plain"]]) {
      const r = await msbImage(twin, args);
      expect(r.code, args.join(" ")).not.toBe(0);
      expect(r.stderr).toMatch(/install operation in progress/);
    }
  });

  it("held for a moment, as every msb command holds it at its start: the prune waits and goes ahead", async () => {
    await useRealPython();
    // Another process takes the lease and releases it when told on its stdin (msb's own pattern). It is told
    // on the prune's first progress event (rows 0/1), which the prune reports before it checks the lease:
    // synchronised on events and a pipe, not on the clock.
    const py = String.raw`
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("UPDATE maintenance_lease SET lease_expires_at='2999-01-01 00:00:00', holder_pid=1 WHERE name='install_exclusive'")
print("held", flush=True)
sys.stdin.readline()
c.execute("UPDATE maintenance_lease SET lease_expires_at=strftime('%Y-%m-%d %H:%M:%f','now'), holder_pid=NULL WHERE name='install_exclusive'")
print("released", flush=True)
`;
    const holder = spawn(await pythonExe(), ["-c", py, join(home, "db", "msb.db")]);
    const lines: string[] = [];
    holder.stdout.on("data", (d: Buffer) => lines.push(...d.toString().split("\n").filter(Boolean)));
    await new Promise<void>((r) => holder.stdout.once("data", () => r()));
    const events: string[] = [];
    const r = await cache.prune({
      onProgress: (e) => {
        events.push(`${e.phase} ${e.done}/${e.total}${lines.includes("released") ? "" : " (lease held)"}`);
        if (events.length === 1) holder.stdin.write("go\n");
      },
    });
    expect(r.imageRefsRemoved).toBe(7);
    expect(events[0]).toBe("rows 0/1 (lease held)");
    expect(lines).toEqual(["held", "released"]); // the lease went only when told, and the prune then went ahead
  });

  it("an unreadable expiry counts as held (msb cannot read it either); an expired lease does not", async () => {
    await setLease(home, "not a time");
    await expect(cache.remove("plain")).rejects.toMatchObject({ code: "maintenanceInProgress" });
    await setLease(home, "2020-01-01 00:00:00.000000000", null);
    expect((await cache.remove("plain")).imageRefsRemoved).toBe(1);
  });
});
