// A wrong path must never look like an empty, healthy cache (issue 13 §1). Each case runs on an msb-made home
// through the library and the CLI, and shows the typed error and that nothing changed: every file of the home
// (path, size, mtime, sha256) and every row are the same before and after.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, cp, lstat, mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";

import {
  CacheDirError,
  DatabaseError,
  HomeNotFoundError,
  ImageCache,
  PermissionDeniedError,
} from "../../lib/index";
import { cli, ensureCliBuilt } from "../support/cli";
import { REPO_ROOT, run } from "../support/msb";
import { SAMPLE_REFERENCES, sampleCacheEach } from "../support/sample-cache";

let home: string;
let cache: ImageCache;
sampleCacheEach((h, c) => {
  home = h;
  cache = c;
});
beforeAll(ensureCliBuilt, 120_000);

// ------------------------------------------------------------------------------------------ snapshots

/**
 * Every entry under the home: files with size, mtime and sha256, directories with mtime. SQLite's
 * -wal/-shm (a reader may create them, and its read marks change -shm) and db/'s own mtime are left out;
 * the database's content is compared as rows.
 */
async function files(root: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(dir: string): Promise<void> {
    for (const name of (await readdir(dir)).sort()) {
      const p = join(dir, name);
      const rel = relative(root, p);
      if (rel === "db/msb.db-wal" || rel === "db/msb.db-shm") continue;
      const s = await lstat(p);
      if (s.isDirectory()) {
        out.push(`${rel}/ ${rel === "db" ? "" : s.mtimeMs}`);
        await walk(p);
      } else {
        const hash = s.isFile() ? createHash("sha256").update(await readFile(p)).digest("hex") : "";
        out.push(`${rel} ${s.size} ${s.mtimeMs} ${hash}`);
      }
    }
  }
  await walk(root);
  return out;
}

// Opened read-only (mode=ro): never checkpoints, so it changes no file.
const DUMP = String.raw`
import json, sqlite3, sys
con = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
out = {}
for t in ["image_ref", "manifest", "config", "layer", "manifest_layer", "sandbox", "sandbox_rootfs"]:
    out[t] = [list(r) for r in con.execute("SELECT * FROM " + t + " ORDER BY rowid")]
print(json.dumps(out))
`;

async function rows(h = home): Promise<unknown> {
  const r = await run("python3", ["-c", DUMP, join(h, "db", "msb.db")], process.env);
  if (r.code !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

async function snapshot(h = home): Promise<{ files: string[]; rows: unknown }> {
  return { files: await files(h), rows: await rows(h) };
}

/** Runs `body` and checks that the home's files and rows are exactly as before. */
async function unchanged(body: () => Promise<void>, h = home): Promise<void> {
  const before = await snapshot(h);
  expect((before.rows as { image_ref: unknown[] }).image_ref.length).toBe(SAMPLE_REFERENCES.length);
  await body();
  expect(await snapshot(h)).toEqual(before);
}

// ------------------------------------------------------------------------------------------ calls

type Call = [name: string, run: (c: ImageCache) => Promise<unknown>];
const READS: Call[] = [
  ["list", (c) => c.list()],
  ["get", (c) => c.get("plain")],
  ["inspect", (c) => c.inspect("plain")],
];
const WRITES: Call[] = [
  ["remove", (c) => c.remove("plain")],
  ["prune", (c) => c.prune()],
  ["prune dryRun", (c) => c.prune({ dryRun: true })],
  ["verify repair", (c) => c.verify({ repair: true, graceMs: 0 })],
  ["diskUsage", (c) => c.diskUsage()],
];
const ALL: Call[] = [...READS, ...WRITES, ["verify", (c) => c.verify()]];

async function rejections(c: ImageCache, calls: Call[]): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [name, call] of calls) out[name] = await call(c).then(() => "resolved", (e: unknown) => e);
  return out;
}

const CLI_COMMANDS: string[][] = [["ls"], ["inspect", "plain"], ["rm", "plain"], ["prune", "--yes"], ["prune", "--dry-run"], ["df"], ["verify"], ["verify", "--repair"]];
const CLI_WRITES: string[][] = [["rm", "plain"], ["prune", "--yes"], ["prune", "--dry-run"], ["df"], ["verify", "--repair", "--grace", "0s"]];

// ------------------------------------------------------------------------------------------ homes

describe("a home given explicitly that does not exist or is not a directory", () => {
  const savedEnv = { MSB_HOME: process.env.MSB_HOME, MSB_CONFIG_PATH: process.env.MSB_CONFIG_PATH };
  afterEach(() => {
    for (const [k, v] of Object.entries(savedEnv)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  const expectHomeNotFound = (errors: Record<string, unknown>, path: string, what: RegExp) => {
    for (const [name, e] of Object.entries(errors)) {
      expect(e, name).toBeInstanceOf(HomeNotFoundError);
      expect(e, name).toMatchObject({ code: "homeNotFound", path });
      expect((e as Error).message, name).toContain(path);
      expect((e as Error).message, name).toMatch(what);
    }
  };

  it("missing (home option, MSB_HOME, config.json's home): every call rejects with HomeNotFoundError; nothing is created", async () => {
    const missing = join(home, "does", "not", "exist");
    await unchanged(async () => {
      const byOption = new ImageCache({ home: missing });
      expectHomeNotFound(await rejections(byOption, ALL), missing, /does not exist/);
      await byOption.close();

      delete process.env.MSB_CONFIG_PATH;
      process.env.MSB_HOME = missing;
      const byEnv = new ImageCache();
      const e = (await byEnv.list().catch((x: unknown) => x)) as Error;
      expectHomeNotFound({ list: e }, missing, /from MSB_HOME/);
      await byEnv.close();

      // config.json's `home` (read from MSB_CONFIG_PATH when no home is given) names a home too.
      delete process.env.MSB_HOME;
      const config = join(home, "moved-config.json");
      await writeFile(config, JSON.stringify({ home: missing }));
      process.env.MSB_CONFIG_PATH = config;
      const byConfig = new ImageCache();
      const c = (await byConfig.list().catch((x: unknown) => x)) as Error;
      expectHomeNotFound({ list: c }, missing, new RegExp(`"home" in ${config}`));
      await byConfig.close();
      await rm(config);
    });
    expect(existsSync(join(home, "does"))).toBe(false);
  });

  it("a file (an image archive given as the home): HomeNotFoundError 'is not a directory'; the file is untouched", async () => {
    const tar = join(home, "sample.tar"); // the docker-save archive msb loaded
    await unchanged(async () => {
      const c = new ImageCache({ home: tar });
      expectHomeNotFound(await rejections(c, ALL), tar, /is not a directory/);
      await c.close();
    });
  });

  it("CLI: --home and MSB_HOME that are missing or a file print 'error: …' naming the path and exit 1, for every command", async () => {
    const missing = join(home, "nope");
    const tar = join(home, "sample.tar");
    await unchanged(async () => {
      for (const args of CLI_COMMANDS) {
        for (const [path, what] of [[missing, "does not exist"], [tar, "is not a directory"]] as const) {
          const viaFlag = await cli(home, [...args, "--home", path]);
          expect({ args, code: viaFlag.code, stdout: viaFlag.stdout }).toEqual({ args, code: 1, stdout: "" });
          expect(viaFlag.stderr).toMatch(new RegExp(`^error: the microsandbox home ${path} .*${what}`, "m"));
          const viaEnv = await cli(path, args); // cli() sets MSB_HOME
          expect({ args, code: viaEnv.code }).toEqual({ args, code: 1 });
          expect(viaEnv.stderr).toMatch(new RegExp(`^error: the microsandbox home ${path} \\(from MSB_HOME\\) ${what}`, "m"));
        }
      }
    });
    expect(existsSync(missing)).toBe(false);
  });

  it("only the implicit default ~/.microsandbox may be absent: no images, exit 0", async () => {
    const user = await mkdtemp(join(tmpdir(), "msb-user-"));
    try {
      const r = await cli(home, ["ls"], { env: { MSB_HOME: undefined, HOME: user } });
      expect(r).toMatchObject({ code: 0 });
      expect(r.stderr).toContain("No images found.");
      expect(existsSync(join(user, ".microsandbox"))).toBe(false);
      // ... but a default home that is a file is not absent.
      await writeFile(join(user, ".microsandbox"), "");
      const f = await cli(home, ["ls"], { env: { MSB_HOME: undefined, HOME: user } });
      expect(f.code).toBe(1);
      expect(f.stderr).toMatch(/^error: the microsandbox home .*\.microsandbox \(the default home\) is not a directory/m);
    } finally {
      await rm(user, { recursive: true, force: true });
    }
  });
});

// ------------------------------------------------------------------------------------------ cache dirs

describe("a cache directory that is missing, not a directory or not msb's, while the database lists images", () => {
  const expectCacheDirError = (errors: Record<string, unknown>, path: string, problem: string) => {
    for (const [name, e] of Object.entries(errors)) {
      expect(e, name).toBeInstanceOf(CacheDirError);
      expect(e, name).toMatchObject({ code: "cacheDirInvalid", path, problem });
      expect((e as Error).message, name).toContain(path);
    }
  };

  /** Reads answer; writes, a dry run, verify's repair and diskUsage refuse; verify reports it. */
  async function library(c: ImageCache, cacheDir: string, problem: string): Promise<void> {
    expect((await c.list()).map((i) => i.reference).sort()).toEqual([...SAMPLE_REFERENCES].sort());
    expect((await c.get("plain")).reference).toBe("plain");
    expect((await c.inspect("plain")).layers).toHaveLength(1);
    expectCacheDirError(await rejections(c, WRITES), cacheDir, problem);
    const v = await c.verify({ graceMs: 0 });
    expect(v.ok).toBe(false);
    expect(v.findings).toHaveLength(1);
    expect(v.findings[0]).toMatchObject({ kind: "cache-dir-invalid", path: cacheDir, repairable: false, repaired: false });
    expect(v.findings[0]!.message).toContain(cacheDir);
  }

  async function commandLine(cacheDir: string, what: RegExp): Promise<void> {
    const ls = await cli(home, ["ls", "--format", "json"]);
    expect(ls.code).toBe(0);
    expect(JSON.parse(ls.stdout)).toHaveLength(SAMPLE_REFERENCES.length);
    for (const args of CLI_WRITES) {
      const r = await cli(home, args);
      expect({ args, code: r.code }).toEqual({ args, code: 1 });
      expect(r.stderr).toMatch(new RegExp(`^error: the cache directory ${cacheDir} ${what.source}`, "m"));
    }
    const v = await cli(home, ["verify", "--format", "json", "--grace", "0s"]);
    expect(v.code).toBe(1);
    const report = JSON.parse(v.stdout) as { ok: boolean; findings: { kind: string; path: string }[] };
    expect(report.ok).toBe(false);
    expect(report.findings).toMatchObject([{ kind: "cache-dir-invalid", path: cacheDir }]);
    const table = await cli(home, ["verify"]);
    expect(table.code).toBe(1);
    expect(table.stdout).toContain("cache-dir-invalid");
  }

  it("missing (moved away): reads answer, every write refuses with CacheDirError 'missing'; library and CLI", async () => {
    const cacheDir = join(home, "cache");
    await rename(cacheDir, join(home, "cache.moved"));
    await unchanged(async () => {
      await library(cache, cacheDir, "missing");
      await commandLine(cacheDir, /does not exist/);
    });
  });

  it("a prune refused this way still lets its process exit (its onProgress channel is released however Run ends)", async () => {
    await rename(join(home, "cache"), join(home, "cache.moved"));
    const script = `
      const { ImageCache } = require(${JSON.stringify(join(REPO_ROOT, "dist", "index.js"))});
      (async () => {
        const c = new ImageCache({ home: ${JSON.stringify(home)} });
        const e = await c.prune({ onProgress: () => {} }).catch((err) => err);
        await c.close();
        process.stdout.write(String(e && e.code));
      })();`;
    const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const exit = await new Promise<number | string>((resolve) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        resolve("still running 20 s after its prune was refused");
      }, 20_000);
      child.on("exit", (code) => {
        clearTimeout(timer);
        resolve(code ?? "killed");
      });
    });
    expect({ out, exit }).toEqual({ out: "cacheDirInvalid", exit: 0 });
  }, 40_000);

  it("a file where the directory should be: CacheDirError 'not-a-directory'; library and CLI", async () => {
    const cacheDir = join(home, "cache");
    await rename(cacheDir, join(home, "cache.moved"));
    await writeFile(cacheDir, "not a directory\n");
    await unchanged(async () => {
      await library(cache, cacheDir, "not-a-directory");
      await commandLine(cacheDir, /is not a directory/);
    });
  });

  it("a wrong cacheDir option: missing, or a directory that is not msb's (an empty one, the home itself)", async () => {
    const empty = join(home, "empty");
    await mkdir(empty);
    await unchanged(async () => {
      for (const [dir, problem] of [[join(home, "no-such-cache"), "missing"], [empty, "not-msb-layout"], [home, "not-msb-layout"]] as const) {
        const c = new ImageCache({ home, cacheDir: dir });
        await library(c, dir, problem);
        await c.close();
      }
    });
  });

  it("config.json's paths.cache pointing to a missing directory: library and CLI", async () => {
    const elsewhere = join(home, "elsewhere", "cache");
    await writeFile(join(home, "config.json"), JSON.stringify({ paths: { cache: elsewhere } }));
    await unchanged(async () => {
      const c = new ImageCache({ home });
      await library(c, elsewhere, "missing");
      await c.close();
      await commandLine(elsewhere, /does not exist/);
    });
  });

  it("a database without image rows and no cache directory is a fresh home, not an error", async () => {
    await run("python3", ["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('PRAGMA foreign_keys=ON'); c.execute('DELETE FROM manifest'); c.execute('DELETE FROM layer'); c.commit()", join(home, "db", "msb.db")], process.env);
    await rm(join(home, "cache"), { recursive: true });
    expect(await cache.list()).toEqual([]);
    expect((await cache.prune()).imageRefsRemoved).toBe(0);
    expect(await cache.verify({ graceMs: 0 })).toMatchObject({ ok: true, findings: [] });
    expect((await cache.diskUsage()).totalBytes).toBe(0);
  });
});

// ------------------------------------------------------------------------------------------ permissions

const asRoot = process.getuid?.() === 0;
const NOBODY = 65534;

// What a child needs to load the built library, copied where every user can read it (hostile.test.ts does
// the same: the checkout may be out of nobody's reach).
async function stageLibrary(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "msb-lib-"));
  for (const p of ["package.json", "dist", join("build", "Release", "msb_image_cache.node"), join("node_modules", "node-gyp-build")]) {
    await cp(join(REPO_ROOT, p), join(dir, p), { recursive: true });
  }
  await run("chmod", ["-R", "a+rX", dir], process.env);
  return dir;
}

const CHILD = String.raw`
const [, entry, home, names] = process.argv;
const { ImageCache } = require(entry);
const calls = {
  list: (c) => c.list().then((x) => x.length),
  diskUsage: (c) => c.diskUsage().then((d) => d.images.length),
  verify: (c) => c.verify().then((r) => r.ok),
  dryRun: (c) => c.prune({ dryRun: true }).then((r) => r.imageRefsRemoved),
  prune: (c) => c.prune().then((r) => r.imageRefsRemoved),
};
(async () => {
  const c = new ImageCache({ home });
  const out = {};
  for (const name of JSON.parse(names)) {
    try {
      out[name] = { ok: true, value: await calls[name](c) };
    } catch (e) {
      out[name] = { ok: false, name: e.name, code: e.code, path: e.path, message: e.message };
    }
  }
  await c.close();
  console.log(JSON.stringify(out));
})();
`;

interface ChildResult {
  ok: boolean;
  value?: unknown;
  name?: string;
  code?: string;
  path?: string;
  message?: string;
}

function asNobody(cmd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, TZ: "UTC", NO_COLOR: "1", HOME: "/nonexistent" };
    // Under scripts/sanitize.sh the addon needs the ASan runtime preloaded and the sanitizer options kept.
    for (const name of ["LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"]) {
      if (process.env[name] !== undefined) env[name] = process.env[name];
    }
    const child = spawn(cmd, args, { uid: NOBODY, gid: NOBODY, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe.skipIf(!asRoot)("permission denied (calls run as nobody; file modes do not stop root)", () => {
  let lib: string;
  beforeAll(async () => {
    lib = await stageLibrary();
    return () => rm(lib, { recursive: true, force: true });
  });

  async function library(names: string[]): Promise<Record<string, ChildResult>> {
    const r = await asNobody(process.execPath, ["-e", CHILD, join(lib, "dist", "index.js"), home, JSON.stringify(names)]);
    if (r.code !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout) as Record<string, ChildResult>;
  }
  const commandLine = (args: string[]) => asNobody(process.execPath, [join(lib, "dist", "cli", "main.js"), ...args, "--home", home]);

  const expectDenied = (r: ChildResult | undefined, path: string) => {
    expect(r).toMatchObject({ ok: false, name: PermissionDeniedError.name, code: "permissionDenied", path });
    expect(r!.message).toMatch(/^permission denied: /);
    expect(r!.message).toContain(path);
    expect(r!.message).not.toContain("unable to open database file");
  };

  it("a database directory nobody may enter: PermissionDeniedError naming it (not SQLite's 'unable to open database file')", async () => {
    await chmod(home, 0o755);
    await chmod(join(home, "db"), 0o700);
    await unchanged(async () => {
      const r = await library(["list", "diskUsage", "verify", "dryRun", "prune"]);
      for (const name of ["list", "diskUsage", "verify", "dryRun", "prune"]) expectDenied(r[name], join(home, "db"));
      const ls = await commandLine(["ls"]);
      expect(ls.code).toBe(1);
      expect(ls.stderr).toMatch(new RegExp(`^error: permission denied: .*${join(home, "db")}`, "m"));
    });
  });

  it("a config.json nobody may read: PermissionDeniedError naming it", async () => {
    await chmod(home, 0o755);
    const config = join(home, "config.json");
    await writeFile(config, "{}", { mode: 0o600 });
    await unchanged(async () => {
      expectDenied((await library(["list"])).list, config);
      const ls = await commandLine(["ls"]);
      expect(ls.code).toBe(1);
      expect(ls.stderr).toMatch(new RegExp(`^error: permission denied: cannot read the microsandbox config file ${config}`, "m"));
    });
  });

  it("a cache directory nobody may read: reads answer, diskUsage and verify say whose permission", async () => {
    await chmod(home, 0o755);
    await chmod(join(home, "cache"), 0o700);
    await unchanged(async () => {
      const r = await library(["list", "diskUsage", "verify"]);
      expect(r.list).toMatchObject({ ok: true, value: SAMPLE_REFERENCES.length });
      expectDenied(r.diskUsage, join(home, "cache"));
      expectDenied(r.verify, join(home, "cache"));
    });
  });

  it("a read-only user's prune dry run: refused, and the error says why (a dry run is the real run rolled back)", async () => {
    await chmod(home, 0o755);
    await unchanged(async () => {
      const r = await library(["list", "dryRun"]);
      expect(r.list).toMatchObject({ ok: true, value: SAMPLE_REFERENCES.length });
      expect(r.dryRun).toMatchObject({ ok: false, name: DatabaseError.name, code: "databaseReadOnly" });
      expect(r.dryRun!.message).toMatch(/^permission denied: this process may not write /);
      expect(r.dryRun!.message).toContain("a dry run needs write access too");
      const cliRun = await commandLine(["prune", "--dry-run"]);
      expect(cliRun.code).toBe(1);
      expect(cliRun.stderr).toContain("a dry run needs write access too");
    });
  });
});
