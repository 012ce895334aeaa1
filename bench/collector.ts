/**
 * The collector's costs (npm run bench:collector; needs the native build).
 *
 * 1. The idle tick's JS-thread time: a collector ticking every 1 ms (below its high mark) on a fixture cache of
 *    BENCH_IMAGES images (default 2,000), measured with performance.eventLoopUtilization() (the time the event
 *    loop was busy: JS and the loop's own work, not the thread pool) over many ticks, per tick; next to the floor,
 *    a loop doing what a tick must (a 1 ms timer, one fs.promises.statfs and two fs.promises.stat) measured the
 *    same way; and next to diskUsage() (the walk the tick does not do) for scale. Medians of 5 rounds.
 * 2. A collection vs the equivalent prune(): fresh copies of an msb-made cache (BENCH_LOADED images of 256 KiB,
 *    default 40); runNow() with byte watermarks that need half the images gone, against the call the collector
 *    makes for that target done by hand (prune({ minFreeSpace })). Wall time, medians of BENCH_ROUNDS (default
 *    5), the order alternating; both caches opened (one list()) and the collector past its first tick, as in a running
 *    service.
 */
import { randomBytes } from "node:crypto";
import { cp, mkdtemp, rm, stat, statfs } from "node:fs/promises";
import * as os from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";

import { ImageCache } from "../lib/index";
import { writeDockerSave } from "../test/support/docker-save";
import { buildFixture } from "../test/support/fixture";
import { msbLoad } from "../test/support/msb";

const IMAGES = Number(process.env.BENCH_IMAGES ?? 2000);
const LOADED = Number(process.env.BENCH_LOADED ?? 40);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SCRATCH = "/dev/shm";
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function measureTicks(cache: ImageCache, ms: number): Promise<{ perTickUs: number; ticks: number }> {
  const c = cache.startCollector({ interval: 1, highWatermark: "100%" });
  let ticks = 0;
  c.on("check", () => ticks++);
  await sleep(50); // warm: paths resolved, first ticks
  const t0 = ticks;
  const e0 = performance.eventLoopUtilization();
  await sleep(ms);
  const e1 = performance.eventLoopUtilization(e0);
  const n = ticks - t0;
  await c.stop();
  return { perTickUs: (e1.active * 1000) / n, ticks: n };
}

async function measureFloor(cacheDir: string, dbPath: string, ms: number): Promise<{ perTickUs: number; ticks: number }> {
  let running = true;
  let n = 0;
  const loop = (async () => {
    while (running) {
      await sleep(1);
      await Promise.all([statfs(cacheDir), stat(dbPath).catch(() => null), stat(`${dbPath}-wal`).catch(() => null)]);
      n++;
    }
  })();
  await sleep(50);
  const n0 = n;
  const e0 = performance.eventLoopUtilization();
  await sleep(ms);
  const e1 = performance.eventLoopUtilization(e0);
  const ticks = n - n0;
  running = false;
  await loop;
  return { perTickUs: (e1.active * 1000) / ticks, ticks };
}

async function main(): Promise<void> {
  // The collector's timer is unref'd: something must keep this process alive while it waits for a tick.
  const keepAlive = setInterval(() => {}, 1 << 30);
  const root = await mkdtemp(join(SCRATCH, "msbcolbench-"));
  try {
    // ---- 1. idle tick
    const fixtureHome = join(root, "fixture");
    await buildFixture(fixtureHome, { images: IMAGES });
    const cache = new ImageCache({ home: fixtureHome });
    const du0 = performance.now();
    await cache.diskUsage();
    const diskUsageMs = performance.now() - du0;
    const tick: number[] = [];
    const floor: number[] = [];
    let ticksSeen = 0;
    for (let i = 0; i < ROUNDS; i++) {
      const t = await measureTicks(cache, 1000);
      const f = await measureFloor(join(fixtureHome, "cache"), join(fixtureHome, "db", "msb.db"), 1000);
      tick.push(t.perTickUs);
      floor.push(f.perTickUs);
      ticksSeen += t.ticks;
    }
    await cache.close();

    // ---- 2. collection vs prune
    const master = join(root, "loaded");
    const tars = await mkdtemp(join(os.tmpdir(), "msbcolbench-tars-"));
    await writeDockerSave(
      join(tars, "all.tar"),
      Array.from({ length: LOADED }, (_, i) => ({
        repoTags: [`bench/img${i}:1`],
        layers: [{ files: [{ path: `d${i}`, content: randomBytes(256 * 1024) }] }],
      })),
    );
    await msbLoad(master, join(tars, "all.tar"));
    await rm(tars, { recursive: true, force: true });
    const collect: number[] = [];
    const equivalent: number[] = [];
    let removed = 0;
    let removedByHand = 0;
    for (let i = 0; i < ROUNDS; i++) {
      const a = join(root, `a${i}`);
      const b = join(root, `b${i}`);
      await cp(master, a, { recursive: true });
      await cp(master, b, { recursive: true });
      const ca = new ImageCache({ home: a });
      const cb = new ImageCache({ home: b });
      // a and b share a file system, so each target is taken from its free space just before that run:
      // whichever runs second must not find the first one's freed space already there.
      const excess = (LOADED / 2) * 256 * 1024;
      const freeNow = async () => {
        const s = await statfs(a);
        return { size: s.blocks * s.bsize, free: s.bavail * s.bsize };
      };
      const viaCollector = async () => {
        const { size, free } = await freeNow();
        const c = ca.startCollector({ interval: 3_600_000, highWatermark: "100%", lowWatermark: Math.max(0, size - free - excess) });
        await new Promise<void>((r) => c.once("check", () => r())); // a running collector: its first tick done
        const t0 = performance.now();
        const r = await c.runNow();
        collect.push(performance.now() - t0);
        await c.stop();
        if (r.error) throw r.error;
        removed = r.prune!.imageRefsRemoved;
      };
      // The call the collector makes, by hand, for the same target: that much more free.
      const byHand = async () => {
        const { free } = await freeNow();
        const t1 = performance.now();
        const r = await cb.prune({ minFreeSpace: free + excess });
        equivalent.push(performance.now() - t1);
        removedByHand = r.imageRefsRemoved;
      };
      await cb.list(); // both caches have their database open, as a running service's would
      await ca.list();
      if (i % 2 === 0) {
        await viaCollector();
        await byHand();
      } else {
        await byHand();
        await viaCollector();
      }
      await Promise.all([ca.close(), cb.close()]);
      await Promise.all([rm(a, { recursive: true, force: true }), rm(b, { recursive: true, force: true })]);
    }

    const lines = [
      `# collector benchmark (${new Date().toISOString()}, ${os.cpus().length} CPUs, Node ${process.version})`,
      "",
      `Idle tick on a ${IMAGES}-image fixture cache (JS-thread busy time per tick, event-loop utilization, median of ${ROUNDS} × 1 s; ${ticksSeen} ticks):`,
      `- collector tick: ${median(tick).toFixed(1)} µs`,
      `- floor (1 ms timer + statfs + 2 × stat): ${median(floor).toFixed(1)} µs`,
      `- for scale, one diskUsage() (the walk a tick does not do): ${diskUsageMs.toFixed(1)} ms wall`,
      "",
      `Collection vs the equivalent calls (${LOADED} msb-loaded images of 256 KiB, half to go; wall ms, median of ${ROUNDS}):`,
      `- collector.runNow(): ${median(collect).toFixed(1)} ms (removed ${removed} images)`,
      `- prune({ minFreeSpace }) by hand: ${median(equivalent).toFixed(1)} ms (removed ${removedByHand} images)`,
    ];
    console.log(lines.join("\n"));
  } finally {
    clearInterval(keepAlive);
    await rm(root, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
