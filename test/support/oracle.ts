/**
 * An independent oracle for "does msb still have everything it needs?", written for the crash, race and
 * hostile-input tests. It deliberately shares NO code with the library (nothing from lib/ or the addon):
 * its own EROFS check, VMDK reader, reference normalizer and digest → file-name rule, all written from the
 * format spec (../shared/spec/msb-cache-format.md §3, §4), and SQL through python3's sqlite3 module.
 *
 * Cache hit (spec §3): for a reference, `manifests/<hex(sha256(normalized reference))>.json` parses; every
 * `layers/<diff>.erofs` it lists and `fsmeta/<manifest>.erofs` are valid EROFS (§4.1: a regular file, length
 * > 0 and a multiple of the block size, magic 0xE0F5E1E2 at 1024, the root inode a directory); the VMDK
 * `vmdk/<manifest>.vmdk` exists. On top of msb's rule this also checks what a boot needs: the database rows
 * agree with the JSON, and the VMDK's extents name this manifest's fsmeta and then its layers, in order.
 */
import { createHash } from "node:crypto";
import { lstat, open, readdir, readFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

import { run } from "./msb";

// ------------------------------------------------------------------------------------------- names

/** Digest → file-name stem, as msb does: every byte outside [A-Za-z0-9+.=_-] becomes `_` (spec §3). */
export function oracleStem(digest: string): string {
  return digest.replace(/[^A-Za-z0-9+.=_-]/g, "_");
}

/** Docker normalization (spec §3.1), written independently of the library's reference.cc. */
export function oracleNormalize(ref: string): string {
  let rest = ref;
  let digest = "";
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at);
    rest = rest.slice(0, at);
  }
  let registry = "docker.io";
  const slash = rest.indexOf("/");
  if (slash > 0) {
    const first = rest.slice(0, slash);
    if (first.includes(".") || first.includes(":") || first === "localhost") {
      registry = first === "index.docker.io" ? "docker.io" : first;
      rest = rest.slice(slash + 1);
    }
  }
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  let repo = rest;
  let tag = "";
  if (colon > lastSlash) {
    repo = rest.slice(0, colon);
    tag = rest.slice(colon + 1);
  }
  if (!tag && !digest) tag = "latest";
  if (registry === "docker.io" && !repo.includes("/")) repo = `library/${repo}`;
  return `${registry}/${repo}${tag ? ":" + tag : ""}${digest}`;
}

export function metadataFileName(ref: string): string {
  return createHash("sha256").update(oracleNormalize(ref)).digest("hex") + ".json";
}

// ------------------------------------------------------------------------------------------- EROFS

const EROFS_MAGIC = 0xe0f5e1e2;

/** msb's validity test for a layer or fsmeta file (spec §4.1). null when valid, else why not. */
export async function erofsProblem(path: string): Promise<string | null> {
  const st = await lstat(path).catch((e: NodeJS.ErrnoException) => e);
  if (st instanceof Error) return st.code === "ENOENT" ? "missing" : `lstat: ${st.code}`;
  if (!st.isFile()) return "not a regular file";
  if (st.size === 0) return "empty";
  const fh = await open(path, "r");
  try {
    const sb = Buffer.alloc(128);
    await fh.read(sb, 0, 128, 1024);
    if (sb.readUInt32LE(0) !== EROFS_MAGIC) return "bad magic";
    const blkszbits = sb.readUInt8(0x0c);
    if (blkszbits < 9 || blkszbits > 16) return `bad blkszbits ${blkszbits}`;
    const block = 1 << blkszbits;
    if (st.size % block !== 0) return `length ${st.size} not a multiple of ${block}`;
    const rootNid = sb.readUInt16LE(0x0e);
    const metaBlkaddr = sb.readUInt32LE(0x28);
    const inodeAt = metaBlkaddr * block + rootNid * 32;
    if (inodeAt + 8 > st.size) return "root inode beyond the end";
    const inode = Buffer.alloc(8);
    await fh.read(inode, 0, 8, inodeAt);
    if ((inode.readUInt16LE(4) & 0o170000) !== 0o040000) return "root inode is not a directory";
    return null;
  } finally {
    await fh.close();
  }
}

// ------------------------------------------------------------------------------------------- VMDK

/** The extent file names of a VMDK descriptor, in order (split extents of one file collapse to one). */
export function vmdkExtentFiles(text: string): string[] | null {
  if (!text.startsWith("# Disk DescriptorFile")) return null;
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const m = /^RW \d+ FLAT "(.*)" \d+$/.exec(line.trim());
    if (!m) continue;
    if (out[out.length - 1] !== m[1]) out.push(m[1]!);
  }
  return out;
}

// ------------------------------------------------------------------------------------------- SQL

const PY = String.raw`
import json, sqlite3, sys
req = json.loads(sys.stdin.read())
uri = "file:" + req["db"] + ("?mode=ro" if req.get("ro") else "")
con = sqlite3.connect(uri, uri=True, timeout=10, isolation_level=None)
out = {}
for name, q in req["queries"].items():
    cur = con.execute(q)
    out[name] = [list(r) for r in cur.fetchall()]
print(json.dumps(out))
`;

let python: Promise<string> | undefined;

/** The real interpreter behind `python3` (a pyenv shim costs ~1 s per start); MSB_TEST_PYTHON overrides. */
export function pythonExe(): Promise<string> {
  python ??= (async () => {
    if (process.env.MSB_TEST_PYTHON) return process.env.MSB_TEST_PYTHON;
    const r = await run("python3", ["-c", "import sys; print(sys.executable)"], process.env);
    return r.code === 0 && r.stdout.trim() ? r.stdout.trim() : "python3";
  })();
  return python;
}

/**
 * Puts the real interpreter's directory first on PATH (and sets MSB_FIXTURE_PYTHON), so every `python3` this
 * test process starts — the helpers in msb.ts, the fixture builder — skips the pyenv shim.
 */
export async function useRealPython(): Promise<void> {
  const exe = await pythonExe();
  if (exe === "python3") return;
  process.env.PATH = `${dirname(exe)}:${process.env.PATH ?? ""}`;
  process.env.MSB_FIXTURE_PYTHON ??= exe;
}

/** Run read-only queries with python3's sqlite3; each returns its rows as arrays. */
export async function pyQuery(dbFile: string, queries: Record<string, string>): Promise<Record<string, unknown[][]>> {
  const r = await run(await pythonExe(), ["-c", PY], process.env, { input: JSON.stringify({ db: dbFile, queries, ro: true }) });
  if (r.code !== 0) throw new Error(`python3 sqlite failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** `PRAGMA integrity_check` and `PRAGMA foreign_key_check`; [] when both are clean. */
export async function integrityProblems(dbFile: string): Promise<string[]> {
  return integrityFrom(await pyQuery(dbFile, { integrity: "PRAGMA integrity_check", fk: "PRAGMA foreign_key_check" }));
}

function integrityFrom(r: Record<string, unknown[][]>): string[] {
  const problems: string[] = [];
  const integrity = r.integrity!.map((row) => String(row[0]));
  if (integrity.length !== 1 || integrity[0] !== "ok") problems.push(...integrity.map((x) => `integrity: ${x}`));
  for (const row of r.fk!) problems.push(`foreign key: ${JSON.stringify(row)}`);
  return problems;
}

export interface DbState {
  /** reference → manifest digest */
  refs: Map<string, string>;
  /** manifest digest → diff_ids bottom first */
  manifests: Map<string, string[]>;
  layers: Set<string>;
  /** manifest digests pinned by sandbox_rootfs or snapshot_index */
  pinned: Set<string>;
  /** integrityProblems(), read in the same python run */
  integrity: string[];
}

export async function dbState(home: string): Promise<DbState> {
  const r = await pyQuery(join(home, "db", "msb.db"), {
    integrity: "PRAGMA integrity_check",
    fk: "PRAGMA foreign_key_check",
    refs: "SELECT r.reference, m.digest FROM image_ref r JOIN manifest m ON m.id = r.manifest_id",
    manifests: "SELECT digest FROM manifest",
    ml: "SELECT m.digest, l.diff_id FROM manifest_layer ml JOIN manifest m ON m.id = ml.manifest_id JOIN layer l ON l.id = ml.layer_id ORDER BY m.digest, ml.position",
    layers: "SELECT diff_id FROM layer",
    pinned:
      "SELECT m.digest FROM sandbox_rootfs s JOIN manifest m ON m.id = s.manifest_id " +
      "UNION SELECT image_manifest_digest FROM snapshot_index",
  });
  const manifests = new Map<string, string[]>();
  for (const [d] of r.manifests!) manifests.set(String(d), []);
  for (const [d, l] of r.ml!) manifests.get(String(d))!.push(String(l));
  return {
    refs: new Map(r.refs!.map(([ref, d]) => [String(ref), String(d)])),
    manifests,
    layers: new Set(r.layers!.map(([d]) => String(d))),
    pinned: new Set(r.pinned!.map(([d]) => String(d))),
    integrity: integrityFrom(r),
  };
}

// ------------------------------------------------------------------------------------------- cache hit

/**
 * Everything wrong with `reference` as a cache hit (spec §3) — [] when msb has all it needs.
 * `expectDigest`/`expectLayers` (from the database or `msb image ls`) must agree with the JSON.
 */
export async function cacheHitProblems(
  cacheDir: string,
  reference: string,
  expect: { digest?: string; layers?: string[] } = {},
  checkErofs: (path: string) => Promise<string | null> = erofsProblem,
): Promise<string[]> {
  const problems: string[] = [];
  const jsonPath = join(cacheDir, "manifests", metadataFileName(reference));
  let meta: { manifest_digest?: unknown; layers?: Array<{ diff_id?: unknown }> };
  try {
    meta = JSON.parse(await readFile(jsonPath, "utf8"));
  } catch (e) {
    return [`${reference}: manifests/${basename(jsonPath)} ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "missing" : "unparseable"}`];
  }
  const digest = typeof meta.manifest_digest === "string" ? meta.manifest_digest : null;
  const layers = Array.isArray(meta.layers) ? meta.layers.map((l) => (typeof l?.diff_id === "string" ? l.diff_id : "")) : null;
  if (!digest || !layers || layers.some((l) => !l)) return [`${reference}: metadata JSON lacks manifest_digest or layers[].diff_id`];
  if (expect.digest && expect.digest !== digest) problems.push(`${reference}: JSON names ${digest}, database ${expect.digest}`);
  if (expect.layers && expect.layers.join(",") !== layers.join(",")) problems.push(`${reference}: JSON layers differ from the rows`);
  const fsmeta = join(cacheDir, "fsmeta", oracleStem(digest) + ".erofs");
  const fsmetaWhy = await checkErofs(fsmeta);
  if (fsmetaWhy) problems.push(`${reference}: fsmeta/${basename(fsmeta)} ${fsmetaWhy}`);
  for (const l of layers) {
    const why = await checkErofs(join(cacheDir, "layers", oracleStem(l) + ".erofs"));
    if (why) problems.push(`${reference}: layer ${l} ${why}`);
  }
  const vmdkPath = join(cacheDir, "vmdk", oracleStem(digest) + ".vmdk");
  let text: string;
  try {
    text = await readFile(vmdkPath, "utf8");
  } catch {
    problems.push(`${reference}: vmdk/${basename(vmdkPath)} missing`);
    return problems;
  }
  // Paths may point into another home (a copied cache), so compare file names only.
  const extents = vmdkExtentFiles(text);
  const want = [`${oracleStem(digest)}.erofs`, ...layers.map((l) => `${oracleStem(l)}.erofs`)];
  if (!extents || extents.map((p) => basename(p)).join(",") !== want.join(",")) {
    problems.push(`${reference}: VMDK extents ${JSON.stringify(extents?.map((p) => basename(p)))} do not match fsmeta + layers`);
  }
  return problems;
}

// ------------------------------------------------------------------------------------------- orphans

export interface CacheFiles {
  /** "layers/x.erofs", "fsmeta/…", "vmdk/…", "manifests/…" — artifact files (no .lock) */
  artifacts: string[];
  locks: string[];
  /** anything under tmp/ */
  tmp: string[];
}

export async function cacheFiles(cacheDir: string): Promise<CacheFiles> {
  const out: CacheFiles = { artifacts: [], locks: [], tmp: [] };
  for (const dir of ["layers", "fsmeta", "vmdk", "manifests"]) {
    const names = await readdir(join(cacheDir, dir)).catch(() => [] as string[]);
    for (const n of names) (n.endsWith(".lock") ? out.locks : out.artifacts).push(`${dir}/${n}`);
  }
  out.tmp = (await readdir(join(cacheDir, "tmp")).catch(() => [] as string[])).map((n) => `tmp/${n}`);
  for (const k of ["artifacts", "locks", "tmp"] as const) out[k].sort();
  return out;
}

/** Artifact files (not .lock) that no row names: what a crash between commit and unlink leaves. */
export async function orphanArtifacts(home: string, state?: DbState): Promise<string[]> {
  const s = state ?? (await dbState(home));
  const named = new Set<string>();
  for (const d of s.manifests.keys()) {
    named.add(`fsmeta/${oracleStem(d)}.erofs`);
    named.add(`vmdk/${oracleStem(d)}.vmdk`);
  }
  for (const l of s.layers) named.add(`layers/${oracleStem(l)}.erofs`);
  for (const r of s.refs.keys()) named.add(`manifests/${metadataFileName(r)}`);
  const files = await cacheFiles(join(home, "cache"));
  return files.artifacts.filter((f) => !named.has(f) && !f.endsWith(".tar.gz"));
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function pool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Every reference the rows list, checked as a cache hit; problems of all, [] when all pass. */
export async function allListedComplete(home: string, references: Iterable<string>, state?: DbState): Promise<string[]> {
  const s = state ?? (await dbState(home));
  const erofs = new Map<string, Promise<string | null>>(); // a shared layer is read once per call
  const check = (p: string) => {
    let r = erofs.get(p);
    if (!r) erofs.set(p, (r = erofsProblem(p)));
    return r;
  };
  const results = await pool([...references], 16, async (ref) => {
    const digest = s.refs.get(ref);
    if (!digest) return [`${ref}: listed but has no image_ref row`];
    return cacheHitProblems(join(home, "cache"), ref, { digest, layers: s.manifests.get(digest) }, check);
  });
  return results.flat();
}
