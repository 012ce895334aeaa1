// Crash safety: prune in a child process and SIGKILL it at seeded random points — inside the row
// transaction, between COMMIT and the unlinks, in the middle of the unlinks. After every kill the database is
// intact, every image our list() and `msb image ls` show has every file msb needs (checked by an oracle that
// shares no code with the library, test/support/oracle.ts), and cleanup leaves no orphan.
//
// MSB_CRASH_RUNS (default 10), MSB_CRASH_SEED (default: random, printed), MSB_CRASH_IMAGES (fixture size,
// default 1000). Long mode: MSB_CRASH_RUNS=100 npx vitest run test/interop/crash.test.ts
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { ImageCache } from "../../lib/index";
import { buildFixture } from "../support/fixture";
import { cleanupHomes, holdWriteLock, msbImageJson, pinImage, pinSnapshot, releaseWriteLock, REPO_ROOT, run, sql } from "../support/msb";
import {
  allListedComplete,
  cacheFiles,
  dbState,
  orphanArtifacts,
  useRealPython,
  type DbState,
} from "../support/oracle";
import { writeDockerSave } from "../support/docker-save";
import { msbLoad } from "../support/msb";
import { SAMPLE_IMAGES } from "../support/sample-cache";
import { prng } from "../support/prng";

const RUNS = Number(process.env.MSB_CRASH_RUNS ?? 10);
const SEED = Number(process.env.MSB_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
const IMAGES = Number(process.env.MSB_CRASH_IMAGES ?? 400);
const ENTRY = join(REPO_ROOT, "dist", "index.js");
const CHILD = join(REPO_ROOT, "test", "support", "prune-child.cjs");

type Trigger = "ready" | "rows-begin" | "rows-commit";
interface ChildRun {
  killed: boolean;
  lines: string[];
  /** ms from the child's "ready" to each event, as the child saw them */
  marks: Record<string, number>;
  done: { skipped: unknown[]; errors: unknown[] } | null;
}

/**
 * Runs the pruning child; SIGKILLs it `delayMs` after the trigger line (never, when trigger is null). The
 * child waits for its stdin to end before it exits, which happens only once a kill has fired (or with no
 * trigger), so a kill armed by an event always lands.
 */
function pruneChild(home: string, trigger: Trigger | null, delayMs: number): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, ENTRY, home], { stdio: ["pipe", "pipe", "pipe"] });
    const res: ChildRun = { killed: false, lines: [], marks: {}, done: null };
    let buf = "";
    let stderr = "";
    let armed = false;
    let fired = false;
    let readyAt = 0;
    const arm = () => {
      if (armed) return;
      armed = true;
      setTimeout(() => {
        fired = true;
        if (child.exitCode === null && child.signalCode === null) res.killed = child.kill("SIGKILL");
      }, delayMs);
    };
    child.stdout.on("data", (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        res.lines.push(line);
        const f = line.split(" ");
        if (f[0] === "ready") {
          readyAt = Number(f[1]);
          if (trigger === "ready") arm();
        } else if (f[0] === "p") {
          const key = `${f[1]} ${f[2]}/${f[3]}`;
          res.marks[key] = Number(f[4]) - readyAt;
          if (trigger === "rows-begin" && f[1] === "rows" && f[2] === "0") arm();
          if (trigger === "rows-commit" && f[1] === "rows" && f[2] === "1") arm();
        } else if (f[0] === "done") {
          res.done = JSON.parse(line.slice(5));
          if (!armed || fired) child.stdin.end();
          else setTimeout(() => child.stdin.end(), delayMs + 1); // the kill fires first
        }
      }
    });
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    child.stdin.on("error", () => undefined); // EPIPE after a kill
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (signal === "SIGKILL" && res.killed) return resolve(res);
      if (code !== 0) return reject(new Error(`prune child exited ${code ?? signal}: ${stderr}`));
      resolve(res);
    });
  });
}

// Homes on tmpfs when there is one: thousands of small files are copied and deleted per run.
const SCRATCH = process.env.MSB_CRASH_DIR ?? (existsSync("/dev/shm") ? "/dev/shm" : tmpdir());
const scratchHomes: string[] = [];
async function scratchHome(): Promise<string> {
  const h = await mkdtemp(join(SCRATCH, "msbcrash-"));
  scratchHomes.push(h);
  return h;
}

async function copyTree(from: string, to: string): Promise<void> {
  const r = await run("cp", ["-a", `${from}/.`, to], process.env);
  if (r.code !== 0) throw new Error(`cp failed: ${r.stderr}`);
}

async function listedByUs(home: string): Promise<string[]> {
  const c = new ImageCache({ home });
  try {
    return (await c.list()).map((h) => h.reference).sort();
  } finally {
    await c.close();
  }
}

async function listedByMsb(home: string): Promise<string[]> {
  return (await msbImageJson<Array<{ reference: string }>>(home, ["ls"])).map((r) => r.reference).sort();
}

let template: string;
let initial: DbState;
let initialArtifacts: Set<string>;
let finalArtifacts: Set<string>; // what an uninterrupted prune leaves
let pinnedRefs: string[];
let windows: { txMs: number; unlinkMs: number; totalMs: number };

beforeAll(async () => {
  await useRealPython();
  console.log(`crash test: seed ${SEED} (MSB_CRASH_SEED=${SEED} to repeat), ${RUNS} runs, fixture of ${IMAGES} images`);
  template = await scratchHome();
  // A large msb-exact fixture (so the transaction and the unlinks take measurable time) plus images the real
  // msb loads into the same home, and all three kinds of pin.
  await buildFixture(template, { images: IMAGES, aliases: Math.floor(IMAGES / 10), dangling: Math.floor(IMAGES / 20), pinned: 5, seed: 11 });
  await writeDockerSave(join(template, "sample.tar"), SAMPLE_IMAGES);
  await msbLoad(template, join(template, "sample.tar"));
  await pinImage(template, "base:1", { name: "crash-pin" });
  const [tools] = await sql<{ digest: string }>(template, "SELECT m.digest FROM image_ref r JOIN manifest m ON m.id = r.manifest_id WHERE r.reference = 'tools:2.0'");
  await pinSnapshot(template, tools!.digest, { name: "crash-snap" });
  const [plain] = await sql<{ digest: string }>(template, "SELECT m.digest FROM image_ref r JOIN manifest m ON m.id = r.manifest_id WHERE r.reference = 'plain'");
  await sql(template, "INSERT INTO sandbox(name, config, status, created_at, updated_at) VALUES ('crash-booting', ?, 'Running', '2026-01-01 00:00:00', '2026-01-01 00:00:00')", [
    JSON.stringify({ manifest_digest: plain!.digest }),
  ]);
  initial = await dbState(template);
  initialArtifacts = new Set((await cacheFiles(join(template, "cache"))).artifacts);
  expect(await allListedComplete(template, initial.refs.keys(), initial)).toEqual([]);

  // Calibrate: one prune to the end, timing its phases; what it leaves is the state every crashed run
  // must converge to.
  const ref = await scratchHome();
  await copyTree(template, ref);
  const r = await pruneChild(ref, null, 0);
  expect(r.done?.errors).toEqual([]);
  const rowsBegin = r.marks["rows 0/1"]!;
  const rowsCommit = r.marks["rows 1/1"]!;
  const lastFiles = Math.max(...Object.entries(r.marks).filter(([k]) => k.startsWith("files")).map(([, v]) => v));
  windows = { txMs: rowsCommit - rowsBegin, unlinkMs: lastFiles - rowsCommit, totalMs: lastFiles };
  finalArtifacts = new Set((await cacheFiles(join(ref, "cache"))).artifacts);
  pinnedRefs = await listedByUs(ref);
  expect(pinnedRefs.length).toBeGreaterThan(0);
  expect(await orphanArtifacts(ref)).toEqual([]);
  console.log(
    `crash test: ${initial.refs.size} references, ${initialArtifacts.size} artifact files; uninterrupted prune: ` +
      `transaction ${windows.txMs.toFixed(1)} ms, unlinks ${windows.unlinkMs.toFixed(1)} ms, ${pinnedRefs.length} pinned references left`,
  );
}, 180_000);

afterAll(async () => {
  await Promise.all(scratchHomes.map((h) => rm(h, { recursive: true, force: true })));
  await cleanupHomes();
});

describe("SIGKILL during prune", () => {
  it(`leaves an intact database, complete listed images and, after cleanup, no orphan (${RUNS} runs)`, async () => {
    const rand = prng(SEED);
    const landed: Record<string, number> = {};
    const orphansBeforeCleanup: number[] = [];
    const repaired: Record<string, number> = {};
    for (let i = 0; i < RUNS; i++) {
      // Runs 0 and 1 land on each side of the commit by synchronisation, not timing: run 0 is killed on
      // "rows 0/1" while another process holds SQLite's write lock (the prune cannot have begun to
      // commit); run 1 is killed on "rows 1/1" (reported after COMMIT; the child cannot exit first).
      // The rest rotate the trigger with a random delay within the phase measured once, to explore.
      const trigger = i === 0 ? "rows-begin" : i === 1 ? "rows-commit" : (["rows-begin", "rows-commit", "ready"] as const)[i % 3];
      const span = trigger === "rows-begin" ? windows.txMs : trigger === "rows-commit" ? windows.unlinkMs : windows.totalMs * 1.1;
      const delay = i < 2 ? 0 : Math.floor(rand() * span);
      const home = await scratchHome();
      await copyTree(template, home);
      const holder = i === 0 ? await holdWriteLock(home) : null;
      const child = await pruneChild(home, trigger, delay);
      if (holder) await releaseWriteLock(holder);
      if (i < 2) expect(child.killed, `run ${i}`).toBe(true);
      const label = `run ${i} (seed ${SEED}, trigger ${trigger} +${delay} ms)`;
      // 1. The database is intact and consistent.
      const state = await dbState(home);
      expect(state.integrity, label).toEqual([]);

      // Where the kill landed, from what is on disk (the truth, not the timer).
      const files = new Set((await cacheFiles(join(home, "cache"))).artifacts);
      const removable = [...initialArtifacts].filter((f) => !finalArtifacts.has(f));
      const gone = removable.filter((f) => !files.has(f)).length;
      let where: string;
      if (state.refs.size === initial.refs.size) {
        where = "before commit";
        // All or nothing: the transaction rolled back entirely.
        expect(state.manifests.size, label).toBe(initial.manifests.size);
        expect(state.layers.size, label).toBe(initial.layers.size);
        expect(gone, label).toBe(0);
      } else if (gone === 0) where = "after commit, before unlinks";
      else if (gone < removable.length) where = "during unlinks";
      else where = child.killed ? "after unlinks" : "not killed (finished)";
      landed[where] = (landed[where] ?? 0) + 1;
      if (i === 0) expect(where, "run 0 (killed waiting for the write lock)").toBe("before commit");
      if (i === 1) expect(where, "run 1 (killed after COMMIT)").not.toBe("before commit");
      // 2. Everything listed (by us, by msb) is a cache hit; pinned images are all still there.
      const ours = await listedByUs(home);
      expect(await listedByMsb(home), label).toEqual(ours);
      expect(ours, label).toEqual([...state.refs.keys()].sort());
      expect(await allListedComplete(home, ours, state), `${label}, landed ${where}`).toEqual([]);
      for (const p of pinnedRefs) expect(ours, label).toContain(p);
      // 3. Cleanup. A kill after the commit leaves files without rows (never rows without files); the next
      // prune does not see them (no row names them), verify({ repair }) removes them. Then the next prune
      // finishes the job, and the cache is exactly what an uninterrupted prune leaves.
      const orphans = await orphanArtifacts(home, state);
      orphansBeforeCleanup.push(orphans.length);
      for (const o of orphans) expect(removable, `${label}: orphan ${o} was not prunable`).toContain(o);
      const c = new ImageCache({ home });
      try {
        const v = await c.verify({ repair: true, graceMs: 0 });
        expect(v.errors, label).toEqual([]);
        // verify sees nothing broken either (only the orphans, and the copied home's VMDK paths, repaired)
        const broken = v.findings.filter((f) => !["orphan-file", "vmdk-foreign-path", "dangling-manifest"].includes(f.kind));
        expect(broken, label).toEqual([]);
        expect(v.ok, label).toBe(true);
        for (const f of v.findings) if (f.repaired) repaired[f.kind] = (repaired[f.kind] ?? 0) + 1;
        expect(await orphanArtifacts(home), `${label}: after verify({ repair })`).toEqual([]);
        const again = await c.prune();
        expect(again.errors, label).toEqual([]);
      } finally {
        await c.close();
      }
      const cleaned = await dbState(home);
      expect(cleaned.integrity, label).toEqual([]);
      expect(await orphanArtifacts(home, cleaned), label).toEqual([]);
      const after = (await cacheFiles(join(home, "cache"))).artifacts;
      expect(after, label).toEqual([...finalArtifacts].sort());
      expect(await allListedComplete(home, await listedByUs(home), cleaned), label).toEqual([]);
      expect(await listedByUs(home), label).toEqual(pinnedRefs);
      await rm(home, { recursive: true, force: true });
    }
    console.log(
      `crash test: ${RUNS} kills landed: ${Object.entries(landed).map(([k, v]) => `${k} ${v}`).join(", ")}; ` +
        `orphan files after a kill: max ${Math.max(...orphansBeforeCleanup)}, runs with orphans ${orphansBeforeCleanup.filter((n) => n > 0).length}; ` +
        `verify({ repair }) repaired ${Object.entries(repaired).map(([k, v]) => `${k} ${v}`).join(", ")}; no orphan left after cleanup`,
    );
    // Both sides of the commit were reached (runs 0 and 1 make sure of it).
    expect(landed["before commit"] ?? 0, JSON.stringify(landed)).toBeGreaterThan(0);
    expect(RUNS - (landed["before commit"] ?? 0) - (landed["not killed (finished)"] ?? 0), JSON.stringify(landed)).toBeGreaterThan(0);
  }, Math.max(600_000, RUNS * 30_000));
});
