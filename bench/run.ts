/**
 * Benchmarks this library against the official microsandbox addon (the pinned runtime package in
 * interop/, installed by scripts/install-msb.sh) on the same caches, in the same run.
 *
 *   npm run build && npm run bench            # full: msb-made 2,000 images, fixtures 10,000 and 100,000
 *   npm run bench -- --quick                  # fixture 10,000 only, no 100k, no msb-made cache
 *   npm run bench -- --prune-only             # only the prune rows (tmpfs and ext4 loop); combines with --quick
 *
 * Caches: one built by the real `msb load` (docker-save archives: 8 shared base layers plus one
 * unique layer per image, loaded in batches), and scale fixtures from test/support/fixture.ts
 * (checked against `msb image inspect` on a sample). All on /dev/shm when it exists, deleted at the end.
 *
 * Each implementation runs in its own `node` process per home (bench/child.cjs; the official addon
 * keeps the home of its first call); the reads alternate between the two, three processes each.
 * Remove and prune run on fresh copies. Timings are taken without the event-loop ticker; the stall
 * (longest gap between two setImmediate turns while one of our calls is in flight) is measured on
 * separate runs, without the time the main thread waited to be scheduled (judged against the 1 ms
 * target: this shared VM's preemption drops out) and in wall time,
 * next to the idle loop's own gap on this machine (the noise floor). Floors: for prune, `rm` of
 * exactly the files our prune deleted; for get/inspect ×100, 100 round trips through libuv's thread
 * pool doing nothing (the least a call that stays off the JS thread costs here), timed right after each
 * get/inspect ×100 in the same process; for diskUsage,
 * bench/du-floor.c (every file lstat'ed and every VMDK descriptor read, one thread), alternating with ours.
 * Prune runs twice per cache: on the scratch file system (tmpfs), and on a real disk file system — an
 * ext4 image (cache size × 1.3) made under os.tmpdir() and loop-mounted, so every machine measures
 * the same kind of disk — with a fresh copy per run and `sync` + dropped caches before each timed run
 * (ours, official, rm floor all start equally cold). Where mounting is refused (not root), the row
 * says "not measured" and why.
 * Results: bench/results/latest.{json,md}.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import { join, resolve } from "node:path";

import { writeDockerSave, type ImageSpec, type LayerSpec } from "../test/support/docker-save";
import { buildFixture } from "../test/support/fixture";
import { MSB_BIN, MSB_VERSION, OFFICIAL_ADDON, msbEnv, msbImageJson, msbLoad } from "../test/support/msb";

const ROOT = resolve(__dirname, "..");
const CHILD = join(__dirname, "child.cjs");
const DIST = process.env.BENCH_DIST ?? join(ROOT, "dist", "index.js"); // BENCH_DIST: another build
const args = new Set(process.argv.slice(2));
const QUICK = args.has("--quick");
const PRUNE_ONLY = args.has("--prune-only"); // just the prune rows: cheap to iterate on
const SCRATCH = existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir();
const MSB_IMAGES = Number(process.env.BENCH_MSB_IMAGES ?? 2000);
const MSB_BATCH = 1000; // images per `msb load` archive (1,000 load in ~3 s)

// ------------------------------------------------------------------------------------ helpers

const median = (xs: number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (ms: number): string => (Number.isNaN(ms) ? "—" : ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));
const ratio = (a: number, b: number): string => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? (a / b).toFixed(2) : "—");
const log = (...m: unknown[]): void => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...m);

interface ChildResult {
  op: string;
  times: number[];
  stallMs: number;
  stallOwnMs: number;
  rssGrowthMb?: number;
  count?: number;
  error?: string;
  notImplemented?: boolean;
  value?: unknown;
  floorTimes?: number[]; // get/inspect: the same number of empty pool round trips after each timing
}

type Impl = "ours" | "official";

function runChild(impl: Impl, home: string, ops: unknown[]): Promise<ChildResult[]> {
  const mod = impl === "ours" ? DIST : OFFICIAL_ADDON;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CHILD, impl, mod, JSON.stringify(ops)], {
      env: msbEnv(home),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (c) => (out += c));
    child.stderr.on("data", (c) => (err += c));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const line = out.trim().split("\n").pop() ?? "";
      try {
        const parsed = JSON.parse(line);
        if (parsed.fatal) return reject(new Error(`${impl} child: ${parsed.fatal}`));
        const results = parsed.results as ChildResult[];
        for (const r of results) if (r.error) log(`${impl} ${r.op}: ${r.error}`);
        resolvePromise(results);
      } catch {
        reject(new Error(`${impl} child exited ${code ?? signal}: ${err || out}`));
      }
    });
  });
}

function copyHome(src: string, scratch = SCRATCH): string {
  const dest = mkdtempSync(join(scratch, "msb-bench-copy-"));
  execFileSync("cp", ["-a", `${src}/.`, dest]);
  return dest;
}

// ------------------------------------------------------------------------------------ ext4 loop

// Where a prune runs: the scratch tmpfs, or an ext4 image loop-mounted at `dir`; `cold` flushes
// and drops the page, dentry and inode caches before each timed run (the disk's own cost counts).
interface Place {
  label: string;
  dir: string;
  cold: boolean;
}

function makeCold(): void {
  execFileSync("sync");
  try {
    writeFileSync("/proc/sys/vm/drop_caches", "3\n");
  } catch {
    // not permitted: runs start from whatever the page cache holds (the same for all three)
  }
}

// An ext4 image sized for `home` (allocated bytes and files × 1.3) under os.tmpdir(), loop-mounted;
// `fn` runs with its mount point, and the image goes afterwards, also on error. A refused mount
// (not root, no loop device) gives the reason instead.
async function withExt4<T>(home: string, fn: (place: Place) => Promise<T>): Promise<T | { notMeasured: string }> {
  const bytes = Number(execFileSync("du", ["-s", "--block-size=1", home]).toString().split("\t")[0]);
  const files = Number(execFileSync("sh", ["-c", 'find "$1" | wc -l', "sh", home]).toString().trim());
  const base = mkdtempSync(join(os.tmpdir(), "msb-bench-ext4-"));
  const image = join(base, "disk.img");
  const mnt = join(base, "mnt");
  mkdirSync(mnt);
  let mounted = false;
  try {
    try {
      execFileSync("truncate", ["-s", String(Math.ceil((bytes * 1.3 + 256 * 2 ** 20) / 4096) * 4096), image]);
      // one inode per file (small files would run out of the default 1 per 16 KiB first)
      execFileSync("mkfs.ext4", ["-q", "-F", "-N", String(Math.ceil(files * 1.3) + 4096), image], { stdio: ["ignore", "ignore", "pipe"] });
      execFileSync("mount", ["-o", "loop", image, mnt], { stdio: ["ignore", "ignore", "pipe"] });
      mounted = true;
    } catch (e) {
      const why = String((e as { stderr?: Buffer }).stderr ?? (e as Error).message).trim().split("\n")[0];
      log(`ext4 loop: not measured: ${why}`);
      return { notMeasured: why };
    }
    return await fn({ label: "ext4 loop", dir: mnt, cold: true });
  } finally {
    if (mounted) {
      try {
        execFileSync("umount", [mnt]);
      } catch {
        execFileSync("umount", ["-l", mnt]);
      }
    }
    rmSync(base, { recursive: true, force: true });
  }
}

function cacheFiles(home: string): Set<string> {
  const out = execFileSync("find", [join(home, "cache"), "(", "-type", "f", "-o", "-type", "l", ")", "-printf", "%P\\0"], {
    maxBuffer: 1 << 30,
  });
  return new Set(out.toString("utf8").split("\0").filter(Boolean));
}

// Deletes `files` (relative to <home>/cache) with rm, as few processes as xargs needs.
function rmFloor(home: string, files: string[]): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const t0 = performance.now();
    const child = spawn("xargs", ["-0", "rm", "-f", "--"], { cwd: join(home, "cache"), stdio: ["pipe", "ignore", "inherit"] });
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolvePromise(performance.now() - t0) : reject(new Error(`rm exited ${code}`))));
    child.stdin.end(files.join("\0"));
  });
}

// diskUsage's floor: bench/du-floor.c, compiled on first use; its own timing of the walk, in ms.
let duFloorBin: string | undefined;
function duFloor(home: string): number {
  if (!duFloorBin) {
    const dir = mkdtempSync(join(os.tmpdir(), "msb-bench-du-floor-"));
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
    duFloorBin = join(dir, "du-floor");
    execFileSync("cc", ["-O2", "-o", duFloorBin, join(__dirname, "du-floor.c")]);
  }
  return Number(execFileSync(duFloorBin, [join(home, "cache")]).toString().split(" ")[0]);
}

// ------------------------------------------------------------------------------------ caches

interface Cache {
  name: string;
  images: number;
  home: string;
  made: string;
  buildMs: number;
  refs: string[]; // every reference, newest first
}

async function buildMsbCache(n: number): Promise<Cache> {
  const home = mkdtempSync(join(SCRATCH, "msb-bench-msb-"));
  const bases: LayerSpec[] = Array.from({ length: 8 }, (_, b) => ({
    files: [
      { path: `base${b}/etc/os-release`, content: `ID=bench${b}\n` },
      { path: `base${b}/bin/tool`, content: Buffer.alloc(4096 * (b + 1), b), mode: 0o755 },
    ],
  }));
  const t0 = performance.now();
  for (let from = 0; from < n; from += MSB_BATCH) {
    const specs: ImageSpec[] = [];
    for (let i = from; i < Math.min(n, from + MSB_BATCH); i++) {
      specs.push({
        repoTags: [i % 3 === 0 ? `registry.example.com:5000/team/bench-${i}:v1` : `bench-${i}:v${i % 7}`],
        layers: [bases[i % 8]!, { files: [{ path: `app/${i}.txt`, content: `image ${i}\n`.repeat(1 + (i % 50)) }] }],
        env: [`IMAGE=${i}`, "PATH=/usr/bin:/bin"],
        cmd: ["/bin/tool", String(i)],
        labels: { "bench.index": String(i) },
      });
    }
    const tar = join(home, `batch-${from}.tar`);
    await writeDockerSave(tar, specs);
    await msbLoad(home, tar, { timeoutMs: 600_000 });
    rmSync(tar);
  }
  const buildMs = performance.now() - t0;
  const list = await msbImageJson<Array<{ reference: string }>>(home, ["ls"], { timeoutMs: 120_000 });
  const refs = list.map((x) => x.reference);
  if (refs.length !== n) throw new Error(`msb lists ${refs.length} images, expected ${n}`);
  return { name: `msb load, ${n.toLocaleString("en")} images`, images: n, home, made: "msb", buildMs, refs };
}

async function buildFixtureCache(n: number): Promise<Cache> {
  const home = mkdtempSync(join(SCRATCH, "msb-bench-fx-"));
  const t0 = performance.now();
  const summary = await buildFixture(home, { images: n });
  const buildMs = performance.now() - t0;
  // Checked against the real msb on a sample: every sampled image's digest and layers are what msb sees.
  const sample = [0, Math.floor(n / 2), n - 1].map((i) => summary.refs[i]!);
  for (const ref of sample) {
    const text = JSON.stringify(await msbImageJson(home, ["inspect", ref.reference], { timeoutMs: 120_000 }));
    const m = summary.manifests.find((x) => x.id === ref.manifestId)!;
    for (const want of [ref.manifestDigest, ...m.diffIds]) {
      if (!text.includes(want)) throw new Error(`msb image inspect ${ref.reference}: ${want} missing`);
    }
  }
  return {
    name: `fixture, ${n.toLocaleString("en")} images`,
    images: n,
    home,
    made: "fixture",
    buildMs,
    refs: summary.refs.map((r) => r.reference),
  };
}

// ------------------------------------------------------------------------------------ measurements

interface Row {
  cache: string;
  images: number;
  op: string;
  ours: number;
  official: number;
  floor?: number;
  stallMs?: number; // wall time
  stallOwnMs?: number; // without the main thread's run-queue wait: the stall target is judged on this
  note?: string;
}

interface CacheReport {
  cache: Cache;
  rows: Row[];
  idleGapMs: number;
  idleOwnGapMs: number;
  listRssGrowthMb: { ours?: number; official?: number };
  listCount: { ours?: number; official?: number };
}

// `k` references spread evenly over the list.
const spread = (refs: string[], k: number): string[] =>
  Array.from({ length: Math.min(k, refs.length) }, (_, i) => refs[Math.floor((i * refs.length) / Math.min(k, refs.length))]!);

async function measure(cache: Cache): Promise<CacheReport> {
  if (PRUNE_ONLY) {
    const rows = await pruneRows(cache);
    return { cache, rows, idleGapMs: NaN, idleOwnGapMs: NaN, listRssGrowthMb: {}, listCount: {} };
  }
  const big = cache.images >= 50_000;
  // Reads alternate between the two implementations, one process each per round (ours, official,
  // ours, official, …), so a noisy spell on this shared machine falls on both; times are pooled.
  const ROUNDS = 3;
  const reads = (impl: Impl, round: number) => [
    { op: "warm", ref: cache.refs[0] },
    { op: "list", reps: big ? 2 : 6, stallReps: impl === "ours" && round === 0 ? 5 : 0 },
    { op: "get", refs: spread(cache.refs, 100), reps: 3, stallRefs: impl === "ours" && round === 0 ? 100 : 0 },
    { op: "inspect", refs: spread(cache.refs, 100), reps: 3, stallRefs: impl === "ours" && round === 0 ? 100 : 0 },
    ...(round === 0 ? [{ op: "diskUsage", ticker: impl === "ours" }] : []),
    { op: "idle" },
  ];
  log(`${cache.name}: reads`);
  const runs: Record<Impl, ChildResult[][]> = { ours: [], official: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const impl of ["ours", "official"] as Impl[]) runs[impl].push(await runChild(impl, cache.home, reads(impl, round)));
  }
  // Every round's result for `op`, pooled: times concatenated, stalls the worst, the first round's extras.
  const pooled = (impl: Impl, op: string): ChildResult => {
    const all = runs[impl].map((rs) => rs.find((r) => r.op === op)).filter((r): r is ChildResult => r !== undefined);
    return {
      ...all[0]!,
      times: all.flatMap((r) => r.times),
      floorTimes: all.flatMap((r) => r.floorTimes ?? []),
      stallMs: Math.max(...all.map((r) => r.stallMs)),
      stallOwnMs: all[0]!.stallOwnMs, // the stall runs are in the first round only
    };
  };
  const ours = ["list", "get", "inspect", "diskUsage", "idle"].map((op) => pooled("ours", op));
  const official = ["list", "get", "inspect", "idle"].map((op) => pooled("official", op));
  const by = (rs: ChildResult[], op: string) => rs.find((r) => r.op === op)!;
  const rows: Row[] = [];
  // get/inspect ×100 against 100 empty round trips timed right after each of their timings
  const hopFloor = (op: string) => median(by(ours, op).floorTimes!);
  const read = (op: string, label: string, floor?: number) => {
    const o = by(ours, op);
    const f = by(official, op);
    rows.push({
      cache: cache.name,
      images: cache.images,
      op: label,
      ours: median(o.times),
      official: median(f.times),
      floor,
      stallMs: o.stallMs,
      stallOwnMs: o.stallOwnMs,
    });
  };
  read("list", "list");
  read("get", "get ×100", hopFloor("get"));
  read("inspect", "inspect ×100", hopFloor("inspect"));

  // remove: 20 different images (each the last reference to its manifest), one fresh copy per side
  const removeRefs = spread(cache.refs.slice(1), 20);
  const removeTimes: Record<Impl, ChildResult> = {} as never;
  for (const impl of ["ours", "official"] as Impl[]) {
    log(`${cache.name}: remove (${impl})`);
    const copy = copyHome(cache.home);
    try {
      // timed without the ticker: it takes a core the call's threads would use
      removeTimes[impl] = (await runChild(impl, copy, [{ op: "remove", refs: removeRefs }]))[0]!;
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  }
  // stall of remove: one more copy, ours, under the ticker
  {
    const copy = copyHome(cache.home);
    try {
      const r = (await runChild("ours", copy, [{ op: "remove", refs: removeRefs.slice(0, 5), ticker: true }]))[0]!;
      removeTimes.ours.stallMs = r.stallMs;
      removeTimes.ours.stallOwnMs = r.stallOwnMs;
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  }
  rows.push({
    cache: cache.name,
    images: cache.images,
    op: "remove (1 image)",
    ours: median(removeTimes.ours.times),
    official: median(removeTimes.official.times),
    stallMs: removeTimes.ours.stallMs,
    stallOwnMs: removeTimes.ours.stallOwnMs,
  });

  // diskUsage: timed without the ticker, one call per process, alternating with its floor (the
  // reads' round-0 call under the ticker gives the stall); before the prune rows: for seconds after
  // the ext4 loop runs, the kernel keeps about one core busy writing back (vmstat: sy 35-48 %, bo
  // 35-650 MB/s), which slowed ours (two threads) and not the one-thread floor: 138 ms against 98
  // there, 126 against 110 here, in two runs of `--quick` a minute apart.
  const du = by(ours, "diskUsage");
  const duTimes: number[] = [];
  const duFloors: number[] = [];
  for (let i = 0; i < (du.notImplemented ? 0 : big ? 3 : 5); i++) {
    log(`${cache.name}: diskUsage ${i + 1} and its floor`);
    duTimes.push(...(await runChild("ours", cache.home, [{ op: "diskUsage" }]))[0]!.times);
    duFloors.push(duFloor(cache.home));
  }
  rows.push({
    cache: cache.name,
    images: cache.images,
    op: "diskUsage",
    ours: du.notImplemented ? NaN : median(duTimes),
    official: NaN,
    floor: du.notImplemented ? undefined : median(duFloors),
    stallMs: du.notImplemented ? undefined : du.stallMs,
    stallOwnMs: du.notImplemented ? undefined : du.stallOwnMs,
    note: du.notImplemented ? "n/a (not implemented)" : "official has none",
  });
  rows.push(...(await pruneRows(cache)));

  return {
    cache,
    rows,
    idleGapMs: by(ours, "idle").stallMs,
    idleOwnGapMs: by(ours, "idle").stallOwnMs,
    listRssGrowthMb: { ours: by(ours, "list").rssGrowthMb, official: by(official, "list").rssGrowthMb },
    listCount: { ours: by(ours, "list").count, official: by(official, "list").count },
  };
}

// prune: every image goes (nothing pinned); each run on a fresh copy. The rm floor deletes
// exactly the files our prune deleted, on another fresh copy. On tmpfs, then on an ext4 loop.
async function pruneRows(cache: Cache): Promise<Row[]> {
  const big = cache.images >= 50_000;
  const before = cacheFiles(cache.home);
  let deleted: string[] | undefined;
  const tmpfs: Place = { label: SCRATCH === "/dev/shm" ? "tmpfs" : SCRATCH, dir: SCRATCH, cold: false };
  const run = async (place: Place): Promise<Row> => {
    const pruneRuns = big ? 1 : 3;
    const prune: Record<Impl, number[]> = { ours: [], official: [] };
    const floor: number[] = [];
    let pruneStall: number | undefined;
    let pruneOwnStall: number | undefined;
    const fresh = (): string => {
      const copy = copyHome(cache.home, place.dir);
      if (place.cold) makeCold();
      return copy;
    };
    for (let i = 0; i < pruneRuns; i++) {
      for (const impl of ["ours", "official"] as Impl[]) {
        if (impl === "official" && QUICK && big) continue;
        log(`${cache.name}: prune on ${place.label} ${i + 1}/${pruneRuns} (${impl})`);
        const copy = fresh();
        try {
          // Timed without the ticker: the busy ticker takes one of the cores the prune's two threads use
          // (at 100,000 images on the 2-core VM it added 2 s to 5.4 s). The stall has a run of its own below.
          const [r] = await runChild(impl, copy, [{ op: "prune" }]);
          prune[impl].push(...r!.times);
          if (impl === "ours" && !deleted) {
            const after = cacheFiles(copy);
            deleted = [...before].filter((f) => !after.has(f));
          }
        } finally {
          rmSync(copy, { recursive: true, force: true });
        }
      }
      log(`${cache.name}: rm floor on ${place.label} ${i + 1}/${pruneRuns} (${deleted!.length} files)`);
      const copy = fresh();
      try {
        floor.push(await rmFloor(copy, deleted!));
      } finally {
        rmSync(copy, { recursive: true, force: true });
      }
    }
    if (!place.cold) {
      log(`${cache.name}: prune under the ticker (ours)`);
      const copy = copyHome(cache.home, place.dir);
      try {
        const r = (await runChild("ours", copy, [{ op: "prune", ticker: true }]))[0]!;
        pruneStall = r.stallMs;
        pruneOwnStall = r.stallOwnMs;
      } finally {
        rmSync(copy, { recursive: true, force: true });
      }
    }
    return {
      cache: cache.name,
      images: cache.images,
      op: `prune (${deleted!.length.toLocaleString("en")} files), ${place.label}`,
      ours: median(prune.ours),
      official: median(prune.official),
      floor: median(floor),
      stallMs: pruneStall,
      stallOwnMs: pruneOwnStall,
    };
  };
  const rows = [await run(tmpfs)];
  const disk = await withExt4(cache.home, run);
  rows.push(
    "notMeasured" in disk
      ? { cache: cache.name, images: cache.images, op: "prune, ext4 loop", ours: NaN, official: NaN, note: `not measured: ${disk.notMeasured}` }
      : disk,
  );
  return rows;
}

// ------------------------------------------------------------------------------------ report

const TARGETS: Record<string, { max: number; of: "official" | "floor" }[]> = {
  list: [{ max: 0.25, of: "official" }],
  "get ×100": [{ max: 0.33, of: "official" }],
  "inspect ×100": [{ max: 0.33, of: "official" }],
  prune: [
    { max: 0.5, of: "official" },
    { max: 1.3, of: "floor" },
  ],
  diskUsage: [{ max: 1.5, of: "floor" }],
};

function verdicts(r: Row): string {
  const key = r.op.startsWith("prune") ? "prune" : r.op;
  const out: string[] = [];
  for (const t of TARGETS[key] ?? []) {
    const base = t.of === "official" ? r.official : r.floor!;
    if (!Number.isFinite(base) || !Number.isFinite(r.ours)) continue;
    out.push(`${r.ours / base <= t.max ? "met" : "MISSED"} (≤ ${t.max}× ${t.of})`);
  }
  const own = r.stallOwnMs;
  if (own !== undefined && Number.isFinite(own)) out.push(own < 1 ? "stall met" : "stall MISSED");
  return out.join(", ");
}

function markdown(reports: CacheReport[], meta: Record<string, string>): string {
  const lines: string[] = [];
  lines.push(`Machine: ${meta.machine}. Node ${process.version}, official addon ${MSB_VERSION}. ${meta.date}.`);
  lines.push(
    `Command: \`${meta.command}\`. Medians; ms. Floor: prune, \`rm\` of the same files; get/inspect, 100 empty ` +
      `thread-pool round trips, timed right after each get/inspect ×100; diskUsage, bench/du-floor.c (every file lstat'ed, every VMDK descriptor read, one thread). Stall: the longest gap between event-loop turns during one of our calls, without the main thread's run-queue wait (median over the calls measured; the target, < 1 ms), and the worst wall gap.`,
  );
  lines.push("");
  lines.push(
    "| cache | operation | ours | official | ours/official | floor | ours/floor | loop stall (ours): own, median of calls / worst wall | targets |",
  );
  lines.push("|---|---|---:|---:|---:|---:|---:|---:|---|");
  for (const rep of reports) {
    for (const r of rep.rows) {
      lines.push(
        `| ${r.cache} | ${r.op} | ${r.note && Number.isNaN(r.ours) ? r.note : fmt(r.ours)} | ${fmt(r.official)} | ${ratio(r.ours, r.official)} | ` +
          `${r.floor === undefined ? "" : fmt(r.floor)} | ${r.floor === undefined ? "" : ratio(r.ours, r.floor)} | ` +
          `${r.stallMs === undefined ? "" : `${fmt(r.stallOwnMs ?? NaN)} / ${fmt(r.stallMs)}`} | ${verdicts(r)} |`,
      );
    }
  }
  lines.push("");
  for (const rep of reports) {
    const list = rep.rows.find((r) => r.op === "list");
    if (!list) continue; // --prune-only
    lines.push(
      `- ${rep.cache.name}: built in ${(rep.cache.buildMs / 1000).toFixed(1)} s; list ${fmt((list.ours / rep.cache.images) * 1000)} ms per 1,000 images ` +
        `(official ${fmt((list.official / rep.cache.images) * 1000)}); RSS growth of the first list ` +
        `${rep.listRssGrowthMb.ours?.toFixed(1)} MB (official ${rep.listRssGrowthMb.official?.toFixed(1)} MB); ` +
        `idle event-loop gap on this machine (noise floor) ${fmt(rep.idleOwnGapMs)} ms without run-queue waits, ${fmt(rep.idleGapMs)} ms wall.`,
    );
  }
  return lines.join("\n");
}

// ------------------------------------------------------------------------------------ main

async function main(): Promise<void> {
  if (!existsSync(DIST)) throw new Error("dist/ is missing: run `npm run build` first");
  if (!existsSync(MSB_BIN) || !existsSync(OFFICIAL_ADDON)) {
    throw new Error("the pinned msb runtime is not installed: run `bash scripts/install-msb.sh` (npm test does)");
  }
  const caches: Cache[] = [];
  const reports: CacheReport[] = [];
  try {
    const plan: Array<() => Promise<Cache>> = QUICK
      ? [() => buildFixtureCache(10_000)]
      : [() => buildMsbCache(MSB_IMAGES), () => buildFixtureCache(10_000), () => buildFixtureCache(100_000)];
    for (const make of plan) {
      const cache = await make();
      caches.push(cache);
      log(`${cache.name}: built in ${(cache.buildMs / 1000).toFixed(1)} s at ${cache.home}`);
      reports.push(await measure(cache));
      rmSync(cache.home, { recursive: true, force: true });
    }
  } finally {
    for (const c of caches) rmSync(c.home, { recursive: true, force: true });
  }
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  const meta = {
    machine: `${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GB, Linux ${os.release()}, caches on ${SCRATCH}`,
    date: new Date().toISOString().slice(0, 10),
    command: `npm run bench${args.size ? ` -- ${[...args].join(" ")}` : ""}`,
  };
  const md = markdown(reports, meta);
  mkdirSync(join(__dirname, "results"), { recursive: true });
  const stem = `latest${QUICK ? "-quick" : ""}${PRUNE_ONLY ? "-prune" : ""}`;
  writeFileSync(join(__dirname, "results", `${stem}.md`), md + "\n");
  writeFileSync(join(__dirname, "results", `${stem}.json`), JSON.stringify({ meta, reports }, null, 2) + "\n");
  console.log(md);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
