// Bad input and bad state: typed errors, nothing changed.
import { createHash } from "node:crypto";
import { mkdir, readFile, readdir, readlink, rm, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  AbortError,
  CacheClosedError,
  DatabaseError,
  HomeConfigError,
  Image,
  ImageCache,
  ImageCacheError,
  ImageNotFoundError,
  InvalidReferenceError,
  MaintenanceError,
  SchemaError,
} from "../../lib/index";
import { writeDockerSave } from "../support/docker-save";
import { cleanupHomes, copyHome, holdWriteLock, listFiles, makeHome, msb, msbImage, releaseWriteLock, sql } from "../support/msb";
import { buildSampleCache } from "../support/sample-cache";

let sample: string;

beforeAll(async () => {
  sample = await makeHome();
  await buildSampleCache(sample);
});
afterAll(cleanupHomes);

// Contents of every file but SQLite's -wal/-shm companions (opening a WAL database may create them).
async function fingerprint(home: string): Promise<string> {
  const files = (await listFiles(home)).filter((f) => !/-(wal|shm)$/.test(f.path));
  const h = createHash("sha256");
  for (const f of files) h.update(f.path + "\0" + f.size + "\0").update(await readFile(join(home, f.path)));
  return h.digest("hex");
}

/** What "nothing changed" means: the cache's files (paths, sizes, contents) and the image rows. */
async function state(home: string): Promise<{ files: string; rows: unknown[] }> {
  const rows = await sql(
    home,
    "SELECT (SELECT count(*) FROM image_ref) AS refs, (SELECT count(*) FROM manifest) AS manifests, (SELECT count(*) FROM layer) AS layers, " +
      "(SELECT group_concat(reference, ',') FROM (SELECT reference FROM image_ref ORDER BY reference)) AS names",
  );
  return { files: await fingerprint(join(home, "cache")), rows };
}

describe("invalid references", () => {
  const cases: [string, unknown, RegExp][] = [
    ["empty", "", /empty/],
    ["blank", "   ", /blank/],
    ["not a string", 42, /must be a string/],
    ["over 4096 characters", "a".repeat(4097), /4097 characters/],
    ["a control character", "python:3\n", /control character \(U\+000a\)/],
    ["uppercase repository", "Python:3", /not an image reference/],
    ["bad syntax", "a//b", /not an image reference/],
  ];
  for (const [what, ref, message] of cases) {
    it(`rejects ${what} before touching the cache`, async () => {
      // A home that does not exist: any native work would reject with HomeNotFoundError instead.
      const c = new ImageCache({ home: "/nonexistent/msb-home" });
      for (const call of [() => c.get(ref as string), () => c.inspect(ref as string), () => c.remove(ref as string)]) {
        const err = await call().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(InvalidReferenceError);
        expect(err).toBeInstanceOf(ImageCacheError);
        expect(err).toMatchObject({ code: "invalidReference" });
        expect((err as Error).message).toMatch(message);
      }
    });
  }

  it("a bracketed IPv6 registry: msb load refuses it, so get/remove answer not found, as msb inspect does", async () => {
    const home = await makeHome();
    const ref = "[::1]:5000/x:1";
    const tar = join(home, "v6.tar");
    await writeDockerSave(tar, [{ repoTags: [ref], layers: [{ files: [{ path: "v6", content: "v6\n" }] }] }]);
    const load = await msb(home, ["load", "-i", tar]);
    expect(load.code).not.toBe(0);
    expect(load.stderr).toMatch(/invalid reference format/);
    const inspect = await msbImage(home, ["inspect", ref]);
    expect(inspect.stderr).toMatch(/image not found/);
    const c = new ImageCache({ home });
    for (const call of [() => c.get(ref), () => c.inspect(ref), () => c.remove(ref)]) {
      await expect(call()).rejects.toBeInstanceOf(ImageNotFoundError);
    }
    await c.close();
  });
});

describe("options", () => {
  it("rejects bad options with precise TypeError / RangeError", async () => {
    expect(() => new ImageCache({ homeDir: "/x" } as never)).toThrow(new TypeError('new ImageCache(): unknown option "homeDir" (expected "home", "cacheDir")'));
    expect(() => new ImageCache({ home: 5 } as never)).toThrow(TypeError);
    expect(() => new ImageCache({ home: "" })).toThrow(RangeError);
    expect(() => new ImageCache("/x" as never)).toThrow(/options must be an object/);
    const c = new ImageCache({ home: sample });
    await expect(c.list({ signal: 1 } as never)).rejects.toThrow(/"signal" must be an AbortSignal/);
    await expect(c.remove("a:1", { force: "yes" } as never)).rejects.toThrow(TypeError);
    await expect(c.prune({ maxSize: 1 } as never)).rejects.toThrow(/unknown option "maxSize"/);
    await expect(c.prune({ olderThan: -1 })).rejects.toThrow(RangeError);
    await expect(c.prune({ keep: [""] })).rejects.toThrow(RangeError);
    await expect(c.prune({ filter: { label: { a: 1 } } } as never)).rejects.toThrow(/filter.label\["a"\] must be a string/);
    await c.close();
  });
});

describe("lifecycle", () => {
  it("rejects calls after close() with CacheClosedError; close() is idempotent", async () => {
    const c = new ImageCache({ home: sample });
    expect(await c.list()).toHaveLength(7);
    await c.close();
    await c.close();
    await expect(c.list()).rejects.toBeInstanceOf(CacheClosedError);
    await expect(c.prune()).rejects.toMatchObject({ code: "cacheClosed" });
  });

  it("the shared Image survives close(): the connections are released and the next call reopens, resolving the home again", async () => {
    const dbFds = async (home: string) => {
      const fds = await readdir("/proc/self/fd");
      const targets = await Promise.all(fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => "")));
      return targets.filter((t) => t.startsWith(join(home, "db", "msb.db"))).length;
    };
    const other = await copyHome(sample);
    const gone = (await new ImageCache({ home: other }).list())[0]!.reference;
    expect((await msbImage(other, ["rm", gone])).code).toBe(0);
    const saved = process.env.MSB_HOME;
    try {
      process.env.MSB_HOME = sample;
      expect(await Image.list()).toHaveLength(7);
      expect(await dbFds(sample)).toBeGreaterThan(0);
      await Image.close();
      expect(await dbFds(sample)).toBe(0);
      await Image.close(); // idempotent
      expect(await Image.list()).toHaveLength(7); // reopened
      expect(await dbFds(sample)).toBeGreaterThan(0);
      await Image.close();
      process.env.MSB_HOME = other; // a reopen resolves the home again, as the first call does
      const refs = (await Image.list()).map((h) => h.reference);
      expect(refs).toHaveLength(6);
      expect(refs).not.toContain(gone);
      expect(Image).toBeInstanceOf(ImageCache);
    } finally {
      await Image.close();
      process.env.MSB_HOME = saved;
    }
  });

  it("gives async errors a stack that points at the caller", async () => {
    const c = new ImageCache({ home: sample });
    const err = (await c.get("missing:1").catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(ImageNotFoundError);
    expect(err.stack).toMatch(/^ImageNotFoundError: image not found: missing:1\n/);
    expect(err.stack).toContain("errors.test.ts");
    await c.close();
  });
});

describe("bad database state", () => {
  it("names missing columns and tables", async () => {
    const home = await copyHome(sample);
    await sql(home, "ALTER TABLE layer DROP COLUMN erofs_size_bytes");
    const c = new ImageCache({ home });
    const err = await c.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SchemaError);
    expect(err).toMatchObject({ code: "schemaUnsupported", missing: ["layer.erofs_size_bytes"] });
    expect((err as Error).message).toContain("layer.erofs_size_bytes");
    await c.close();
  });

  it("works without the optional snapshot_index table", async () => {
    const home = await copyHome(sample);
    await sql(home, "DROP TABLE snapshot_index");
    const c = new ImageCache({ home });
    expect(await c.list()).toHaveLength(7);
    expect((await c.prune()).imageRefsRemoved).toBe(7);
    await c.close();
  });

  it("reports a non-SQLite or truncated file as corrupt and writes nothing", async () => {
    for (const damage of ["garbage", "truncate"] as const) {
      const home = await copyHome(sample);
      const db = join(home, "db", "msb.db");
      await sql(home, "SELECT 1"); // the last connection to close checkpoints the WAL into msb.db
      await rm(db + "-wal", { force: true });
      await rm(db + "-shm", { force: true });
      if (damage === "garbage") await writeFile(db, Buffer.alloc(64 * 1024, 0x5a));
      else await truncate(db, 1000);
      const before = await fingerprint(home);
      const c = new ImageCache({ home });
      for (const call of [() => c.list(), () => c.get("plain"), () => c.prune(), () => c.remove("plain")]) {
        const err = await call().catch((e: unknown) => e);
        expect(err, damage).toBeInstanceOf(DatabaseError);
        expect(err).toMatchObject({ code: "databaseCorrupt" });
      }
      await c.close();
      expect(await fingerprint(home)).toBe(before);
    }
  });

  it("refuses to write while msb holds its install_exclusive lease, still reads", async () => {
    const home = await copyHome(sample);
    await sql(home, "UPDATE maintenance_lease SET lease_expires_at = '2999-01-01 00:00:00', holder_pid = 1 WHERE name = 'install_exclusive'");
    const c = new ImageCache({ home });
    expect(await c.list()).toHaveLength(7);
    const before = await state(home);
    await expect(c.prune()).rejects.toBeInstanceOf(MaintenanceError);
    await expect(c.remove("plain")).rejects.toMatchObject({ code: "maintenanceInProgress" });
    expect(await c.list()).toHaveLength(7);
    expect(await state(home)).toEqual(before);
    await c.close();
  });

  it("gives up with databaseBusy when another process holds the write lock past the timeout", async () => {
    const home = await copyHome(sample);
    const before = await state(home);
    const holder = await holdWriteLock(home);
    const c = new ImageCache({ home });
    try {
      expect(await c.list()).toHaveLength(7); // WAL: reads go on
      const err = await c.prune().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DatabaseError);
      expect(err).toMatchObject({ code: "databaseBusy" });
    } finally {
      await releaseWriteLock(holder);
      await c.close();
    }
    expect(await state(home)).toEqual(before);
    expect(await new ImageCache({ home }).list()).toHaveLength(7);
  });

  it("waits for a write lock another process releases while it waits, then prunes", async () => {
    // Synchronised on progress, not the clock: the prune reports rows 0/1 before it asks for the write
    // lock and rows 1/1 only after its transaction; the lock is released on the first event.
    const home = await copyHome(sample);
    const holder = await holdWriteLock(home);
    const c = new ImageCache({ home });
    const events: string[] = [];
    let released = false;
    try {
      const r = await c.prune({
        onProgress: (e) => {
          events.push(`${e.phase} ${e.done}/${e.total}${released ? "" : " (held)"}`);
          if (!released) {
            released = true;
            holder.stdin!.end();
          }
        },
      });
      expect(r.imageRefsRemoved).toBe(7);
      expect(events[0]).toBe("rows 0/1 (held)");
      expect(events).toContain("rows 1/1");
    } finally {
      if (!released) holder.stdin!.end();
      await c.close();
    }
  });
});

describe("abort", () => {
  it("rejects at once with AbortError for an already-aborted signal, changing nothing", async () => {
    const home = await copyHome(sample);
    const c = new ImageCache({ home });
    const signal = AbortSignal.abort(new Error("stop"));
    const before = await state(home);
    for (const call of [() => c.list({ signal }), () => c.prune({ signal }), () => c.remove("plain", { signal })]) {
      const err = await call().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AbortError);
      expect((err as Error).name).toBe("AbortError");
    }
    expect(await c.list()).toHaveLength(7);
    expect(await state(home)).toEqual(before);
    await c.close();
  });

  it("stops a prune that waits on a locked database: aborted, nothing changed", async () => {
    const home = await copyHome(sample);
    const before = await state(home);
    const holder = await holdWriteLock(home);
    const c = new ImageCache({ home });
    try {
      // Aborted on the prune's first progress event (rows 0/1: before it asks for the lock), while the
      // lock is still held: only the abort can end the wait before the busy timeout (which rejects
      // with databaseBusy, not an aborted report).
      const ac = new AbortController();
      const report = await c.prune({ signal: ac.signal, onProgress: () => ac.abort() });
      expect(report).toMatchObject({ aborted: true, imageRefsRemoved: 0, bytesReclaimed: null });
      const err = await c.remove("plain", { signal: AbortSignal.timeout(200) }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AbortError);
      expect(holder.exitCode).toBeNull(); // the lock was held throughout
    } finally {
      await releaseWriteLock(holder);
    }
    expect(await c.list()).toHaveLength(7);
    expect(await state(home)).toEqual(before);
    await c.close();
  });
});

describe("home resolution", () => {
  it("follows MSB_HOME, then config.json's home and paths.cache; an option wins", async () => {
    const saved = { ...process.env };
    try {
      process.env.MSB_HOME = sample;
      expect(await new ImageCache().list()).toHaveLength(7);

      // config.json in the default home moves the home; paths.cache moves the cache.
      const user = await makeHome();
      delete process.env.MSB_HOME;
      process.env.HOME = user;
      await mkdir(join(user, ".microsandbox"));
      await writeFile(join(user, ".microsandbox", "config.json"), JSON.stringify({ home: sample }));
      expect(await new ImageCache().list()).toHaveLength(7);

      const moved = await copyHome(sample);
      await writeFile(join(user, ".microsandbox", "config.json"), JSON.stringify({ home: moved, paths: { cache: join(sample, "cache") } }));
      const c = new ImageCache();
      const detail = await c.inspect("plain");
      expect(detail.layers[0]!.erofsSizeBytes).toBeGreaterThan(0);

      // An explicit option beats MSB_HOME.
      process.env.MSB_HOME = "/nonexistent";
      expect(await new ImageCache({ home: sample }).list()).toHaveLength(7);

      await writeFile(join(user, ".microsandbox", "config.json"), "{ not json");
      delete process.env.MSB_HOME;
      await expect(new ImageCache().list()).rejects.toBeInstanceOf(HomeConfigError);
    } finally {
      process.env = saved;
    }
  });
});
