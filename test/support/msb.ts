/**
 * Helpers for tests that compare this library with the real microsandbox runtime (msb 0.6.18 CLI and the
 * official Node addon), installed in interop/ by scripts/install-msb.sh (`npm test` runs it first).
 *
 * Facts these helpers rely on (checked against 0.6.18):
 * - `msb` honours MSB_HOME verbatim; the first command creates <home>/db/msb.db (+ -wal, -shm,
 *   .migration.lock) and runs all migrations. Human output ("✓ Loaded …", "No images found.") goes to
 *   STDERR; tables and `--format json` go to STDOUT.
 * - The official addon resolves its home at its FIRST call (not at require time) and keeps that database
 *   pool for the process lifetime; later MSB_HOME changes are ignored. So `official(home)` runs each batch
 *   of calls in a fresh `node` child process with MSB_HOME=home.
 * - The raw addon functions all return Promises; bad argument types throw synchronously. Errors are plain
 *   `Error`s with message "[Variant] text" and code "GenericFailure" (argument errors: "StringExpected",
 *   "BooleanExpected"); the official TS wrapper (`microsandbox` package) maps "[ImageNotFound] …" to
 *   ImageNotFoundError (code "imageNotFound") etc. `official(home).sdk` reproduces that wrapper.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { cp, mkdtemp, mkdir, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";

// ---------------------------------------------------------------------------------------------- paths

export const MSB_VERSION = "0.6.18";
export const REPO_ROOT = resolve(__dirname, "..", "..");
export const INTEROP_DIR = join(REPO_ROOT, "interop");
export const MSB_PACKAGE_DIR = join(INTEROP_DIR, "node_modules", "@superradcompany", "microsandbox-linux-x64-gnu");
export const MSB_BIN = join(MSB_PACKAGE_DIR, "bin", "msb");
export const OFFICIAL_ADDON = join(MSB_PACKAGE_DIR, "microsandbox.linux-x64-gnu.node");
const RUNNER = join(__dirname, "official-runner.cjs");

/** True when the real runtime is installed and usable here (linux x64 glibc). */
export function msbAvailable(): boolean {
  return process.platform === "linux" && process.arch === "x64" && existsSync(MSB_BIN) && existsSync(OFFICIAL_ADDON);
}

// ---------------------------------------------------------------------------------------------- homes

const createdHomes = new Set<string>();
let homesIn = tmpdir();

/** Where makeHome makes homes from now on in this test file (test/support/homes-on-tmpfs.ts). */
export function putHomesIn(dir: string): void {
  homesIn = dir;
}

/** A fresh, empty temp dir to use as MSB_HOME (short path under os.tmpdir(), or where putHomesIn said). */
export async function makeHome(prefix = "msbh-"): Promise<string> {
  const home = await mkdtemp(join(homesIn, prefix));
  createdHomes.add(home);
  return home;
}

export async function removeHome(home: string): Promise<void> {
  createdHomes.delete(home);
  await rm(home, { recursive: true, force: true });
}

/** Remove every home made by makeHome()/copyHome() in this process (use in afterAll). */
export async function cleanupHomes(): Promise<void> {
  await Promise.all([...createdHomes].map((h) => removeHome(h)));
}

/**
 * Copy a whole home (db/msb.db together with msb.db-wal and msb.db-shm, cache/, config.json, …) to a new
 * temp dir (or `dest`). Only safe while no process has the source database open for writing — true
 * between msb CLI runs / official() batches. VMDK descriptors in the copy still point into the source home.
 */
export async function copyHome(src: string, dest?: string): Promise<string> {
  const to = dest ?? (await makeHome("msbc-"));
  if (dest) {
    await mkdir(dest, { recursive: true });
    createdHomes.add(dest);
  }
  await cp(src, to, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true, force: true });
  return to;
}

export interface FileEntry {
  path: string; // relative to the listed root, "/" separators
  size: number;
  mode: number;
}

/** A hash of the paths and contents of every file under dir (locks and SQLite's -wal/-shm left out). */
export async function contentFingerprint(dir: string): Promise<string> {
  const h = createHash("sha256");
  for (const f of await listFiles(dir)) {
    if (/-(wal|shm)$/.test(f.path) || f.path.endsWith(".lock")) continue;
    h.update(f.path + "\0").update(await readFile(join(dir, f.path)));
  }
  return h.digest("hex");
}

/** Holds SQLite's write lock on the home's database from another process until releaseWriteLock(). */
export async function holdWriteLock(home: string): Promise<ChildProcess> {
  const child = spawn("python3", [
    "-c",
    "import sqlite3,sys\nc=sqlite3.connect(sys.argv[1],isolation_level=None)\nc.execute('BEGIN IMMEDIATE')\nprint('held',flush=True)\nsys.stdin.read()",
    join(home, "db", "msb.db"),
  ]);
  await new Promise<void>((resolve) => child.stdout!.once("data", () => resolve()));
  return child;
}

/** Ends a holdWriteLock() child and waits until it has exited (its lock is gone). */
export async function releaseWriteLock(holder: ChildProcess): Promise<void> {
  if (holder.exitCode !== null) return;
  const gone = new Promise<void>((r) => holder.once("exit", () => r()));
  holder.stdin!.end();
  await gone;
}

/** Recursive sorted listing of the regular files under dir (e.g. `${home}/cache`). */
export async function listFiles(dir: string): Promise<FileEntry[]> {
  const out: FileEntry[] = [];
  async function walk(d: string) {
    let names: string[];
    try {
      names = await readdir(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(d, n);
      const s = await stat(p).catch(() => null);
      if (!s) continue;
      if (s.isDirectory()) await walk(p);
      else out.push({ path: relative(dir, p).split("\\").join("/"), size: s.size, mode: s.mode & 0o7777 });
    }
  }
  await walk(dir);
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

// ---------------------------------------------------------------------------------------------- processes

export interface RunResult {
  stdout: string;
  stderr: string;
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunOptions {
  /** Extra environment (merged over a cleaned process.env; MSB_HOME is always set to `home`). */
  env?: Record<string, string | undefined>;
  input?: string | Buffer;
  timeoutMs?: number;
  cwd?: string;
}

/** The environment msb/official children get: no stray MSB_* from the developer's shell, TZ=UTC by default. */
export function msbEnv(home: string, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith("MSB_") || k === "NODE_OPTIONS") continue;
    env[k] = v;
  }
  env.TZ = "UTC";
  env.NO_COLOR = "1";
  env.MSB_HOME = home;
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { env, cwd: opts.cwd, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs) timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs);
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    child.on("error", (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      resolvePromise({ stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8"), code, signal });
    });
    child.stdin.on("error", () => {});
    child.stdin.end(opts.input ?? "");
  });
}

/** Run `msb <args>` with MSB_HOME=home (stdin closed/empty, so it is never a TTY). */
export function msb(home: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return run(MSB_BIN, args, msbEnv(home, opts.env), { timeoutMs: 60_000, ...opts });
}

/** Run `msb image <args>`. */
export function msbImage(home: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return msb(home, ["image", ...args], opts);
}

/** Run `msb image <args> --format json` and parse stdout; throws (with stderr) on a non-zero exit. */
export async function msbImageJson<T = unknown>(home: string, args: string[], opts: RunOptions = {}): Promise<T> {
  const r = await msbImage(home, [...args, "--format", "json"], opts);
  if (r.code !== 0) throw new Error(`msb image ${args.join(" ")} --format json exited ${r.code}: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as T;
}

/** Parse a RunResult's stdout as JSON. */
export function parseJson<T = unknown>(r: RunResult): T {
  return JSON.parse(r.stdout) as T;
}

/** `msb load -i tarPath` (optionally `-t tag`) into home; throws with msb's stderr when it fails. */
export async function msbLoad(home: string, tarPath: string, opts: { tag?: string } & RunOptions = {}): Promise<RunResult> {
  const args = ["load", "-i", tarPath];
  if (opts.tag !== undefined) args.push("-t", opts.tag);
  const r = await msb(home, args, opts);
  if (r.code !== 0) throw new Error(`msb load -i ${tarPath} exited ${r.code}: ${r.stderr.trim()}`);
  return r;
}

/**
 * Hold msb's kind of lock on `path` (flock LOCK_EX, created 0600 when missing) in another process
 * until the returned function is called (it resolves once the lock is released).
 */
export async function holdFlock(path: string): Promise<() => Promise<void>> {
  const holder = spawn("python3", [
    "-c",
    "import fcntl,os,sys\nfd=os.open(sys.argv[1],os.O_RDWR|os.O_CREAT,0o600)\nfcntl.flock(fd,fcntl.LOCK_EX)\nprint('held',flush=True)\nsys.stdin.read()",
    path,
  ]);
  await new Promise<void>((resolve, reject) => {
    holder.stdout.once("data", () => resolve());
    holder.once("error", reject);
  });
  return () =>
    new Promise<void>((resolve) => {
      holder.once("exit", () => resolve());
      holder.stdin.end();
    });
}

// ---------------------------------------------------------------------------------------------- SQL (python3)

const PY_SQL = String.raw`
import json, sqlite3, sys
req = json.loads(sys.stdin.read())
con = sqlite3.connect(req["db"], timeout=5, isolation_level=None)
con.execute("PRAGMA foreign_keys=ON")
con.execute("PRAGMA busy_timeout=5000")
def conv(v):
    if isinstance(v, bytes): return {"$blob": v.hex()}
    return v
out = []
try:
    if req.get("script") is not None:
        con.executescript(req["script"])
    else:
        con.execute("BEGIN IMMEDIATE")
        for st in req["statements"]:
            cur = con.execute(st["sql"], st.get("params", []))
            cols = [d[0] for d in cur.description] if cur.description else []
            rows = [dict(zip(cols, [conv(x) for x in r])) for r in cur.fetchall()]
            out.append({"rows": rows, "lastrowid": cur.lastrowid, "changes": con.total_changes})
        con.execute("COMMIT")
except sqlite3.Error as e:
    try: con.execute("ROLLBACK")
    except Exception: pass
    print(json.dumps({"error": str(e), "kind": type(e).__name__, "code": getattr(e, "sqlite_errorcode", None)}))
    sys.exit(0)
print(json.dumps({"results": out}))
`;

export const dbPath = (home: string) => join(home, "db", "msb.db");

export interface SqlStatement {
  sql: string;
  params?: Array<string | number | null>;
}

/**
 * Run statements in ONE `BEGIN IMMEDIATE` transaction on <home>/db/msb.db (foreign_keys=ON) via python3's
 * sqlite3 (python3 is on every machine that can run node-gyp). Returns rows per statement. Note: when this
 * is the last connection to close, SQLite checkpoints and deletes msb.db-wal / -shm.
 */
export async function sqlTx(home: string, statements: SqlStatement[]): Promise<Array<{ rows: Record<string, unknown>[]; lastrowid: number | null }>> {
  const r = await run("python3", ["-c", PY_SQL], process.env, { input: JSON.stringify({ db: dbPath(home), statements }) });
  if (r.code !== 0) throw new Error(`python3 sqlite failed (${r.code}): ${r.stderr}`);
  const res = JSON.parse(r.stdout);
  if (res.error) {
    const e = new Error(`sqlite: ${res.error}`) as Error & { sqliteCode?: number };
    e.sqliteCode = res.code ?? undefined;
    throw e;
  }
  return res.results;
}

/** One statement; returns its rows. */
export async function sql<T = Record<string, unknown>>(home: string, text: string, params: Array<string | number | null> = []): Promise<T[]> {
  const [r] = await sqlTx(home, [{ sql: text, params }]);
  return r!.rows as T[];
}

/** Several ;-separated statements (sqlite3 executescript; no rows). */
export async function sqlScript(home: string, script: string): Promise<void> {
  const r = await run("python3", ["-c", PY_SQL], process.env, { input: JSON.stringify({ db: dbPath(home), script }) });
  if (r.code !== 0) throw new Error(`python3 sqlite failed (${r.code}): ${r.stderr}`);
  const res = JSON.parse(r.stdout);
  if (res.error) throw new Error(`sqlite: ${res.error}`);
}

/** msb's stored timestamp text: UTC "YYYY-MM-DD HH:MM:SS.fffffffff" (9 fraction digits, as msb writes). */
export function msbTimestamp(d: Date = new Date()): string {
  const iso = d.toISOString(); // 2026-11-28T03:23:23.240Z
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}000000`;
}

/**
 * Pin an image to a (fake, stopped) sandbox the way the format spec §2.1 describes: a `sandbox` row plus a
 * `sandbox_rootfs` row naming the manifest. `target` is a reference (image_ref.reference) or a manifest
 * digest. Returns the new ids.
 */
export async function pinImage(
  home: string,
  target: string,
  opts: { name?: string; status?: string; mode?: string } = {},
): Promise<{ sandboxId: number; manifestId: number; name: string }> {
  const byDigest = /^sha(256|512):/.test(target);
  const [m] = await sql<{ id: number }>(
    home,
    byDigest ? "SELECT id FROM manifest WHERE digest = ?" : "SELECT manifest_id AS id FROM image_ref WHERE reference = ?",
    [target],
  );
  if (!m) throw new Error(`pinImage: no image ${target} in ${home}`);
  const name = opts.name ?? `pin-${Math.random().toString(36).slice(2, 10)}`;
  const now = msbTimestamp();
  const [s] = await sqlTx(home, [
    { sql: "INSERT INTO sandbox(name, config, status, created_at, updated_at) VALUES (?, '{}', ?, ?, ?)", params: [name, opts.status ?? "Stopped", now, now] },
    {
      sql: "INSERT INTO sandbox_rootfs(sandbox_id, manifest_id, mode, upper_fstype, created_at) VALUES (last_insert_rowid(), ?, ?, 'ext4', ?)",
      params: [m.id, opts.mode ?? "erofs", now],
    },
  ]);
  return { sandboxId: s!.lastrowid!, manifestId: m.id, name };
}

/** Pin a manifest digest through `snapshot_index` (format spec §2.3 item 2). */
export async function pinSnapshot(home: string, manifestDigest: string, opts: { digest?: string; name?: string; imageRef?: string } = {}): Promise<string> {
  const digest = opts.digest ?? "sha256:" + Math.random().toString(16).slice(2).padEnd(64, "0").slice(0, 64);
  const now = msbTimestamp();
  await sql(
    home,
    `INSERT INTO snapshot_index(digest, name, scope, state_kind, image_ref, image_manifest_digest, artifact_path, created_at, indexed_at)
     VALUES (?, ?, 'local', 'disk', ?, ?, ?, ?, ?)`,
    [digest, opts.name ?? null, opts.imageRef ?? "pinned", manifestDigest, `/nonexistent/${digest.replace(":", "_")}`, now, now],
  );
  return digest;
}

// ---------------------------------------------------------------------------------------------- official addon

/** Non-enumerable marker on decoded objects: the class name the addon's value had (e.g. "ImageHandle"). */
export const OFFICIAL_CLASS: unique symbol = Symbol("officialClass");

type Tagged = null | boolean | number | string | { $: string; [k: string]: unknown };

/** An error thrown by the official addon, rebuilt in this process. */
export class OfficialError extends Error {
  /** napi code, e.g. "GenericFailure", "StringExpected". */
  code: unknown;
  /** Constructor name in the child (always "Error" for the raw addon). */
  className: string;
  /** The "[Variant]" prefix of the message, e.g. "ImageNotFound", or null. */
  variant: string | null;
  /** The message without the "[Variant] " prefix (what the official TS wrapper puts in its error). */
  text: string;
  /** All own properties except message/stack, decoded, in order. */
  props: Record<string, unknown>;
  childStack: string | undefined;
  constructor(message: string, className: string, props: Record<string, unknown>, childStack?: string) {
    super(message);
    this.name = "OfficialError";
    this.className = className;
    this.props = props;
    this.code = props.code;
    this.childStack = childStack;
    const m = /^\[(\w+)\] ([\s\S]*)$/.exec(message);
    this.variant = m ? m[1]! : null;
    this.text = m ? m[2]! : message;
  }
}

export function decode(v: Tagged): unknown {
  if (v === null || typeof v !== "object") return v;
  switch (v.$) {
    case "undefined":
      return undefined;
    case "number":
      return v.v === "-0" ? -0 : Number(v.v);
    case "bigint":
      return BigInt(v.v as string);
    case "date":
      return v.v === null ? new Date(NaN) : new Date(v.v as string);
    case "array":
      return (v.v as Tagged[]).map(decode);
    case "buffer":
      return Buffer.from(v.v as string, "base64");
    case "error": {
      const props: Record<string, unknown> = {};
      for (const [k, x] of v.props as Array<[string, Tagged]>) props[k] = decode(x);
      return new OfficialError(v.message as string, v.class as string, props, v.stack as string | undefined);
    }
    case "object": {
      const o: Record<string, unknown> = {};
      for (const [k, x] of v.entries as Array<[string, Tagged]>) o[k] = decode(x);
      if (v.class) Object.defineProperty(o, OFFICIAL_CLASS, { value: v.class, enumerable: false });
      return o;
    }
    default:
      return { [`$${v.$}`]: v.v ?? v.name ?? true };
  }
}

export interface OfficialCall {
  fn: string;
  args?: unknown[];
}

export interface OfficialOutcome {
  fn: string;
  /** false when the function returned a Promise (all image* functions do, for valid arguments). */
  sync: boolean;
  ok: boolean;
  value?: unknown;
  error?: OfficialError;
}

/** Run calls in order in ONE child process whose addon uses `home`. Never rejects for addon errors. */
export async function officialBatch(home: string, calls: OfficialCall[], opts: RunOptions = {}): Promise<OfficialOutcome[]> {
  const r = await run(process.execPath, [RUNNER, OFFICIAL_ADDON, JSON.stringify(calls)], msbEnv(home, opts.env), {
    timeoutMs: 60_000,
    ...opts,
  });
  const line = r.stdout.trim().split("\n").pop() ?? "";
  let parsed: { results?: Array<{ fn: string; sync: boolean; ok: boolean; value?: Tagged; error?: Tagged }>; loadError?: Tagged };
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new Error(`official runner failed (code ${r.code}): ${r.stderr.trim() || r.stdout}`);
  }
  if (parsed.loadError) throw decode(parsed.loadError) as Error;
  return parsed.results!.map((x) => ({
    fn: x.fn,
    sync: x.sync,
    ok: x.ok,
    ...(x.ok ? { value: decode(x.value as Tagged) } : { error: decode(x.error as Tagged) as OfficialError }),
  }));
}

async function one(home: string, fn: string, args: unknown[]): Promise<unknown> {
  const [o] = await officialBatch(home, [{ fn, args }]);
  if (!o!.ok) throw o!.error;
  return o!.value;
}

// Raw shapes (napi, as the addon resolves them; absent optional fields are MISSING keys, not undefined).
export interface RawImageInfo {
  reference: string;
  layerCount: number;
  manifestDigest?: string;
  architecture?: string;
  os?: string;
  sizeBytes?: number;
  /** ms since epoch */
  createdAt?: number;
  lastUsedAt?: number;
}
/** imageGet resolves to a napi `ImageHandle` class instance (getters); decoded to a plain object whose
 *  keys are in getter order and whose absent values are null. */
export interface RawImageHandle {
  reference: string;
  sizeBytes: number | null;
  manifestDigest: string | null;
  architecture: string | null;
  os: string | null;
  layerCount: number;
  lastUsedAt: number | null;
  createdAt: number | null;
}
export interface RawImageConfig {
  digest: string;
  env: string[];
  cmd?: string[];
  entrypoint?: string[];
  workingDir?: string;
  user?: string;
  labelsJson?: string;
  stopSignal?: string;
}
export interface RawImageLayer {
  diffId: string;
  blobDigest: string;
  position: number;
  mediaType?: string;
  compressedSizeBytes?: number;
  erofsSizeBytes?: number;
}
export interface RawImageDetail extends RawImageInfo {
  layers: RawImageLayer[];
  config?: RawImageConfig;
}
export interface RawPruneReport {
  imageRefsRemoved: number;
  manifestsRemoved: number;
  layersRemoved: number;
  fsmetaRemoved: number;
  vmdkRemoved: number;
  bytesReclaimed?: number;
}

// What the official TypeScript wrapper (npm `microsandbox@0.6.18`, dist/image.js) returns.
export interface SdkImageHandle {
  reference: string;
  sizeBytes: number | null;
  manifestDigest: string | null;
  architecture: string | null;
  os: string | null;
  layerCount: number;
  lastUsedAt: Date | null;
  createdAt: Date | null;
}
export interface SdkImageDetail {
  handle: SdkImageHandle;
  config: {
    digest: string;
    env: string[];
    cmd: string[] | null;
    entrypoint: string[] | null;
    workingDir: string | null;
    user: string | null;
    labels: Record<string, unknown> | null;
    stopSignal: string | null;
  } | null;
  layers: Array<{
    diffId: string;
    blobDigest: string;
    mediaType: string | null;
    compressedSizeBytes: number | null;
    erofsSizeBytes: number | null;
    position: number;
  }>;
}
export interface SdkPruneReport {
  imageRefsRemoved: number;
  manifestsRemoved: number;
  layersRemoved: number;
  fsmetaRemoved: number;
  vmdkRemoved: number;
  bytesReclaimed: number | null;
}

/** The official TS wrapper's error (its MicrosandboxError subclasses), reproduced. */
export class SdkError extends Error {
  code: string;
  constructor(name: string, code: string, message: string, cause: unknown) {
    super(message, { cause });
    this.name = name;
    this.code = code;
  }
}

const SDK_ERRORS: Record<string, [string, string]> = {
  ImageNotFound: ["ImageNotFoundError", "imageNotFound"],
  ImageInUse: ["ImageInUseError", "imageInUse"],
  Database: ["DatabaseError", "database"],
  Io: ["IoError", "io"],
  Image: ["ImageError", "image"],
  Json: ["JsonError", "json"],
  InvalidConfig: ["InvalidConfigError", "invalidConfig"],
  Runtime: ["RuntimeError", "runtime"],
  Custom: ["CustomError", "custom"],
};

/** mapNapiError from the official wrapper (dist/internal/error-mapping.js), for the image-related variants. */
export function sdkError(e: unknown): unknown {
  if (!(e instanceof OfficialError) || !e.variant) return e;
  const m = SDK_ERRORS[e.variant];
  return m ? new SdkError(m[0], m[1], e.text, e) : e;
}

const numOrNull = (v: unknown) => (typeof v === "number" ? v : null);
const strOrNull = (v: unknown) => (typeof v === "string" ? v : null);
const msToDate = (v: unknown) => (typeof v === "number" ? new Date(v) : null);

export function sdkHandle(raw: RawImageInfo | RawImageHandle): SdkImageHandle {
  // Same property order as the official `ImageHandle` class fields.
  return {
    reference: raw.reference,
    sizeBytes: numOrNull(raw.sizeBytes),
    manifestDigest: strOrNull(raw.manifestDigest),
    architecture: strOrNull(raw.architecture),
    os: strOrNull(raw.os),
    layerCount: raw.layerCount,
    lastUsedAt: msToDate(raw.lastUsedAt),
    createdAt: msToDate(raw.createdAt),
  };
}

export function sdkDetail(d: RawImageDetail): SdkImageDetail {
  let config: SdkImageDetail["config"] = null;
  if (d.config) {
    const c = d.config;
    let labels: Record<string, unknown> | null = null;
    if (typeof c.labelsJson === "string") {
      try {
        labels = JSON.parse(c.labelsJson);
      } catch {
        labels = null;
      }
    }
    config = {
      digest: c.digest,
      env: c.env,
      cmd: c.cmd ?? null,
      entrypoint: c.entrypoint ?? null,
      workingDir: strOrNull(c.workingDir),
      user: strOrNull(c.user),
      labels,
      stopSignal: strOrNull(c.stopSignal),
    };
  }
  return {
    handle: sdkHandle(d),
    config,
    layers: d.layers.map((l) => ({
      diffId: l.diffId,
      blobDigest: l.blobDigest,
      mediaType: strOrNull(l.mediaType),
      compressedSizeBytes: numOrNull(l.compressedSizeBytes),
      erofsSizeBytes: numOrNull(l.erofsSizeBytes),
      position: l.position,
    })),
  };
}

export function sdkPrune(r: RawPruneReport): SdkPruneReport {
  return {
    imageRefsRemoved: r.imageRefsRemoved,
    manifestsRemoved: r.manifestsRemoved,
    layersRemoved: r.layersRemoved,
    fsmetaRemoved: r.fsmetaRemoved,
    vmdkRemoved: r.vmdkRemoved,
    bytesReclaimed: numOrNull(r.bytesReclaimed),
  };
}

async function sdkWrap<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    throw sdkError(e);
  }
}

export interface Official {
  home: string;
  /** Raw addon calls (each in its own child process). Reject with OfficialError. */
  imageList(): Promise<RawImageInfo[]>;
  imageGet(reference: string): Promise<RawImageHandle>;
  imageInspect(reference: string): Promise<RawImageDetail>;
  imageRemove(reference: string, force?: boolean): Promise<undefined>;
  imagePrune(): Promise<RawPruneReport>;
  imageLoad(inputPath: string, tag?: string): Promise<RawImageInfo[]>;
  /** Several raw calls in one child process (one home resolution, one db pool). */
  batch(calls: OfficialCall[]): Promise<OfficialOutcome[]>;
  /** What the official `microsandbox` TS package's `Image` static methods return / throw. */
  sdk: {
    list(): Promise<SdkImageHandle[]>;
    get(reference: string): Promise<SdkImageHandle>;
    inspect(reference: string): Promise<SdkImageDetail>;
    remove(reference: string, opts?: { force?: boolean }): Promise<void>;
    prune(): Promise<SdkPruneReport>;
  };
}

/** The official addon bound to `home` (MSB_HOME=home in a child process per call). */
export function official(home: string): Official {
  return {
    home,
    imageList: () => one(home, "imageList", []) as Promise<RawImageInfo[]>,
    imageGet: (ref) => one(home, "imageGet", [ref]) as Promise<RawImageHandle>,
    imageInspect: (ref) => one(home, "imageInspect", [ref]) as Promise<RawImageDetail>,
    imageRemove: (ref, force) => one(home, "imageRemove", force === undefined ? [ref] : [ref, force]) as Promise<undefined>,
    imagePrune: () => one(home, "imagePrune", []) as Promise<RawPruneReport>,
    imageLoad: (p, tag) => one(home, "imageLoad", tag === undefined ? [p] : [p, tag]) as Promise<RawImageInfo[]>,
    batch: (calls) => officialBatch(home, calls),
    sdk: {
      list: () => sdkWrap((one(home, "imageList", []) as Promise<RawImageInfo[]>).then((l) => l.map(sdkHandle))),
      get: (ref) => sdkWrap((one(home, "imageGet", [ref]) as Promise<RawImageHandle>).then(sdkHandle)),
      inspect: (ref) => sdkWrap((one(home, "imageInspect", [ref]) as Promise<RawImageDetail>).then(sdkDetail)),
      remove: async (ref, opts = {}) => {
        await sdkWrap(one(home, "imageRemove", [ref, opts.force]));
      },
      prune: () => sdkWrap((one(home, "imagePrune", []) as Promise<RawPruneReport>).then(sdkPrune)),
    },
  };
}

/** "key: type" dump of an object's own keys in order (Date/null/undefined/array distinguished). */
export function typeDump(o: unknown): string[] {
  if (o === null || typeof o !== "object") return [typeOf(o)];
  return Object.keys(o).map((k) => `${k}: ${typeOf((o as Record<string, unknown>)[k])}`);
}

export function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (v instanceof Date) return "Date";
  if (Array.isArray(v)) return "array";
  return typeof v;
}
