// cache.startCollector() on msb-made caches: kubelet's hysteresis measured on a real tmpfs, churn against the
// real `msb load`, no overlapping runs, stop() that waits, an unref'd timer, errors reported (never thrown
// into the event loop), back-off, another prune's lock, option validation.
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

import { Collector, type CollectorCheck, type CollectorRunReport, ImageCache } from "../../lib/index";
import { holdFlock, makeHome, msbImageJson, msbLoad, msbTimestamp, pinImage, REPO_ROOT, sql } from "../support/msb";
import { allListedComplete, useRealPython } from "../support/oracle";
import { buildSampleCache } from "../support/sample-images";
import { MiB, bigImageTar, fsUsed, tmpfsHome, unmountAll } from "../support/tmpfs";

afterAll(unmountAll);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const listed = async (home: string) => (await msbImageJson<Array<{ reference: string }>>(home, ["ls"])).map((x) => x.reference).sort();
const nextEvent = <T>(c: Collector, event: "check" | "run", match: (v: T) => boolean = () => true) =>
  new Promise<T>((resolve) => {
    const fn = (v: T) => {
      if (!match(v)) return;
      c.off(event, fn as never);
      resolve(v);
    };
    c.on(event, fn as never);
  });

async function sampleHome(): Promise<string> {
  const home = await makeHome("msbcols-");
  await buildSampleCache(home);
  return home;
}

describe("hysteresis on a 64 MiB tmpfs", () => {
  it("does nothing below the high mark, then collects least recently used first down to the low mark", async () => {
    await useRealPython();
    const home = await tmpfsHome("64m");
    const tars = await makeHome("msbcolt-");
    const refs = ["img/0:1", "img/1:1", "img/2:1", "img/3:1", "img/4:1", "img/5:1"];
    for (const [i, ref] of refs.entries()) await msbLoad(home, await bigImageTar(tars, `i${i}`, [ref], 3 * MiB));
    // Last used: img/0 oldest … img/5 newest. img/0 pinned, img/1 kept: the candidates are img/2..5.
    for (const [i, ref] of refs.entries()) {
      await sql(home, "UPDATE image_ref SET updated_at = ? WHERE reference = ?", [msbTimestamp(new Date(Date.UTC(2025, 0, 1 + i))), ref]);
    }
    await pinImage(home, "img/0:1");
    const cache = new ImageCache({ home });
    try {
      const fs0 = await fsUsed(home);
      // Below the high mark (a share, resolved against the tmpfs): the tick looks and does nothing.
      const idle = cache.startCollector({ interval: 60_000, highWatermark: "99%", lowWatermark: "10%", keep: ["img/1:1"] });
      const check = await nextEvent<CollectorCheck>(idle, "check");
      await idle.stop();
      expect(check.action).toBe("idle");
      expect(check.overHigh).toBe(false);
      expect(check.highBytes).toBe(Math.floor((fs0.size * 99) / 100));
      expect(check.lowBytes).toBe(Math.floor((fs0.size * 10) / 100));
      expect(check.filesystem.size).toBe(fs0.size);
      expect(idle.stats.runs).toBe(0);
      expect(await listed(home)).toEqual(refs);

      // Over the high mark: collect until 7 MiB are gone. Each candidate is ≥ 3 MiB, so exactly the three least
      // recently used candidates go (two would free < 7 MiB), and the pinned and kept images stay.
      const fs1 = await fsUsed(home);
      const low = fs1.used - 7 * MiB;
      const c = cache.startCollector({ interval: 60_000, highWatermark: fs1.used - MiB, lowWatermark: low, keep: ["img/1:1"] });
      const [run, tick] = await Promise.all([nextEvent<CollectorRunReport>(c, "run"), nextEvent<CollectorCheck>(c, "check")]);
      await c.stop();
      expect(tick.action).toBe("collect");
      expect(run.trigger).toBe("watermark");
      expect(run.error).toBeNull();
      expect(run.reachedLow).toBe(true);
      expect(run.after!.used).toBeLessThanOrEqual(low);
      expect((await fsUsed(home)).used).toBeLessThanOrEqual(low);
      expect(run.prune!.removed.references.map((r) => r.reference).sort()).toEqual(["img/2:1", "img/3:1", "img/4:1"]);
      expect(await listed(home)).toEqual(["img/0:1", "img/1:1", "img/5:1"]);
      expect(await allListedComplete(home, await listed(home))).toEqual([]);
      expect(run.backoffMs).toBe(0);
    } finally {
      await cache.close();
    }
  }, 120_000);
});

describe("under churn: msb load adds images while the collector runs", () => {
  it("keeps every listed image a cache hit, the pinned and kept ones, and never overlaps runs", async () => {
    await useRealPython();
    const home = await tmpfsHome("64m");
    const tars = await makeHome("msbcolt-");
    await msbLoad(home, await bigImageTar(tars, "pinned", ["churn/pinned:1"], 1 * MiB));
    await msbLoad(home, await bigImageTar(tars, "kept", ["churn/kept:1"], 1 * MiB));
    await pinImage(home, "churn/pinned:1");
    const ROUNDS = 12;
    const loads: string[] = [];
    for (let i = 0; i < ROUNDS; i++) loads.push(await bigImageTar(tars, `c${i}`, [`churn/app:${i}`], 3 * MiB));
    const cache = new ImageCache({ home });
    const interval = 100;
    const c = cache.startCollector({ interval, highWatermark: "25%", lowWatermark: "15%", keep: "churn/kept:1" });
    const runs: CollectorRunReport[] = [];
    const errors: Error[] = [];
    c.on("run", (r) => runs.push(r));
    c.on("error", (e) => errors.push(e));
    // Sample the file system while msb loads: how long does usage stay over the high mark at a stretch?
    const size = (await fsUsed(home)).size;
    const high = Math.floor(size * 0.25);
    let sampling = true;
    let overSince: number | null = null;
    let longestOver = 0;
    const sampler = (async () => {
      while (sampling) {
        const { used } = await fsUsed(home);
        const now = performance.now();
        if (used >= high) overSince ??= now;
        else if (overSince !== null) {
          longestOver = Math.max(longestOver, now - overSince);
          overSince = null;
        }
        await sleep(10);
      }
    })();
    try {
      for (const tar of loads) await msbLoad(home, tar);
      // Let the collector catch up with the last load: one interval plus one run.
      const deadline = Date.now() + 10_000;
      while ((await fsUsed(home)).used >= high && Date.now() < deadline) await sleep(20);
    } finally {
      sampling = false;
      await sampler;
      await c.stop();
    }
    const maxRun = Math.max(0, ...runs.map((r) => r.durationMs));
    console.log(
      `churn: ${runs.length} runs (max ${maxRun.toFixed(0)} ms), ${errors.length} errors, longest stretch over the high mark ${longestOver.toFixed(0)} ms`,
    );
    expect(runs.length).toBeGreaterThan(0);
    // msb held its install lease at a prune's instant: a refused run, retried at the next tick; nothing else.
    expect(errors.filter((e) => (e as { code?: string }).code !== "maintenanceInProgress")).toEqual([]);
    expect((await fsUsed(home)).used).toBeLessThan(high);
    // Over the mark no longer than one interval plus one run (plus the 10 ms sampling and a scheduling margin).
    expect(longestOver).toBeLessThanOrEqual(interval + maxRun + 250);
    // Runs never overlap.
    const spans = runs.map((r) => [r.startedAt.getTime(), r.startedAt.getTime() + r.durationMs] as const).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(Math.floor(spans[i - 1]![1]));
    const now = await listed(home);
    expect(now).toContain("churn/pinned:1");
    expect(now).toContain("churn/kept:1");
    expect(now).toContain(`churn/app:${ROUNDS - 1}`);
    expect(await allListedComplete(home, now)).toEqual([]);
    expect(c.stats.imagesRemoved).toBeGreaterThanOrEqual(ROUNDS - now.length + 2);
    await cache.close();
  }, 180_000);
});

describe("scheduling", () => {
  it("runNow() joins a run in progress; stop() waits for it; runs are reported in order and do not overlap", async () => {
    const home = await sampleHome();
    const cache = new ImageCache({ home });
    const c = cache.startCollector({ interval: 3_600_000, highWatermark: 0, lowWatermark: 0 });
    const a = c.runNow();
    const b = c.runNow();
    let settled = false;
    void a.then(() => (settled = true));
    await c.stop();
    expect(settled).toBe(true);
    expect(await a).toBe(await b);
    const report = await a;
    expect(report.error).toBeNull();
    expect(report.prune!.imageRefsRemoved).toBeGreaterThan(0);
    await expect(c.runNow()).rejects.toMatchObject({ code: "collectorStopped" });
    expect(c.stopped).toBe(true);
    await cache.close();
  }, 60_000);

  it("the async iterator yields run reports and ends when the collector stops", async () => {
    const home = await sampleHome();
    const cache = new ImageCache({ home });
    const c = cache.startCollector({ interval: 3_600_000, highWatermark: 0, lowWatermark: 0 });
    const seen: CollectorRunReport[] = [];
    const consumer = (async () => {
      for await (const r of c) seen.push(r);
    })();
    const first = await c.runNow();
    await c.stop();
    await consumer;
    expect(seen[0]).toBe(first);
    await cache.close();
  }, 60_000);

  it("stop({ abort: true }) stops a run at a safe point", async () => {
    const home = await sampleHome();
    const cache = new ImageCache({ home });
    const c = cache.startCollector({ interval: 3_600_000, highWatermark: 0, lowWatermark: 0 });
    const run = c.runNow();
    await c.stop({ abort: true });
    const r = await run;
    // Not an error: the run stopped where it was (or had already finished).
    expect(r.error).toBeNull();
    expect(r.aborted).toBe(true);
    await cache.close();
  }, 60_000);

  it("another prune of the cache (its lock held) makes a busy run that changes nothing", async () => {
    const home = await sampleHome();
    const cache = new ImageCache({ home });
    const d = cache.startCollector({ interval: 3_600_000, highWatermark: "100%", lowWatermark: 0 });
    const before = await listed(home);
    const release = await holdFlock(join(home, "cache", ".msb-image-cache.prune.lock"));
    let r: CollectorRunReport;
    try {
      r = await d.runNow();
    } finally {
      await release();
    }
    expect(r.busy).toBe(true);
    expect(r.prune).toBeNull();
    expect(r.error).toBeNull();
    expect(await listed(home)).toEqual(before);
    const again = await d.runNow();
    expect(again.busy).toBe(false);
    expect(again.prune!.imageRefsRemoved).toBeGreaterThan(0);
    await d.stop();
    await cache.close();
  }, 60_000);

  it("backs off after a run that could not reach the low mark (doubling to the cap), unless the database changes", async () => {
    const home = await sampleHome();
    const cache = new ImageCache({ home });
    const checks: CollectorCheck[] = [];
    const runs: CollectorRunReport[] = [];
    // Nothing matches the filter: no run can free anything.
    const c = cache.startCollector({ interval: 50, maxBackoff: 6400, highWatermark: 0, lowWatermark: 0, filter: { reference: "nothing/*" } });
    c.on("check", (x) => checks.push(x));
    c.on("run", (r) => runs.push(r));
    await nextEvent<CollectorRunReport>(c, "run", (r) => r.backoffMs === 3200);
    expect(runs.every((r) => !r.reachedLow && r.error === null)).toBe(true);
    expect(runs.map((r) => r.backoffMs)).toEqual([50, 100, 200, 400, 800, 1600, 3200]);
    // Between runs, ticks wait: backoff.
    expect(checks.filter((x) => x.action === "backoff").length).toBeGreaterThan(10);
    // Right after a run (next attempt 3.2 s away; python's write takes ~1.5 s here), a database change (as when msb pulls an image or a sandbox
    // goes) lets the next tick try again at once.
    const changed = sql(home, "CREATE TABLE touch_for_test(x)");
    const next = nextEvent<CollectorRunReport>(c, "run");
    await changed;
    const t0 = performance.now();
    const r = await next;
    const waited = performance.now() - t0;
    await c.stop();
    expect(waited).toBeLessThan(400); // not the back-off: a tick (50 ms) plus the run
    expect(r.backoffMs).toBe(6400); // and the cap
    await cache.close();
  }, 60_000);
});

describe("errors are reported, never thrown into the event loop", () => {
  it('a failing tick and a throwing listener go to "error"', async () => {
    const home = await makeHome("msbcole-");
    await writeFile(join(home, "config.json"), "{not json");
    const cache = new ImageCache({ home });
    const c = cache.startCollector({ interval: 3_600_000 });
    const errors: Error[] = [];
    c.on("error", (e) => errors.push(e));
    await sleep(300);
    await c.stop();
    expect(errors.length).toBe(1);
    expect((errors[0] as { code?: string }).code).toBe("homeConfig");
    expect(c.stats.failures).toBe(1);
    await cache.close();

    const good = new ImageCache({ home: await sampleHome() });
    const d = good.startCollector({ interval: 3_600_000, highWatermark: "100%" });
    const caught = new Promise<Error>((resolve) => d.on("error", resolve));
    d.on("check", () => {
      throw new Error("listener bug");
    });
    expect((await caught).message).toBe("listener bug");
    await d.stop();
    await good.close();
  });

  const child = (script: string) =>
    promisify(execFile)(process.execPath, ["-e", script], { cwd: REPO_ROOT, timeout: 20_000 }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );

  it('an "error" with no listener becomes a process warning, and the process exits 0 on its own', async () => {
    const home = await makeHome("msbcole-");
    await writeFile(join(home, "config.json"), "{not json");
    const r = await child(`
      const { ImageCache } = require("./dist/index.js");
      const c = new ImageCache({ home: ${JSON.stringify(home)} }).startCollector({ interval: 50 });
      setTimeout(() => console.log("alive", c.stats.failures > 0), 500);`);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("alive true");
    expect(r.stderr).toContain("MsbImageCacheCollectorWarning");
  });

  it("the timer is unref'd: a process with only a collector exits on its own", async () => {
    const home = await sampleHome();
    const t0 = Date.now();
    const r = await child(`
      const { ImageCache } = require("./dist/index.js");
      const c = new ImageCache({ home: ${JSON.stringify(home)} }).startCollector({ interval: 100, highWatermark: "100%" });
      let checks = 0; c.on("check", () => checks++);
      setTimeout(() => console.log("checks", checks), 1000); // keeps the process alive for 1 s, then nothing does`);
    expect(r.code).toBe(0);
    expect(Number(/checks (\d+)/.exec(r.stdout)?.[1])).toBeGreaterThanOrEqual(3);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});

describe("a fresh host", () => {
  it("measures the file system that will hold the cache before msb made its directory", async () => {
    const home = await makeHome("msbcolf-");
    const cache = new ImageCache({ home });
    const c = cache.startCollector({ interval: 3_600_000, highWatermark: "100%" });
    const errors: Error[] = [];
    c.on("error", (e) => errors.push(e));
    const check = await nextEvent<CollectorCheck>(c, "check");
    await c.stop();
    expect(errors).toEqual([]);
    expect(check.action).toBe("idle");
    expect(check.filesystem.size).toBeGreaterThan(0);
    await cache.close();
  });
});

describe("options", () => {
  it("are validated like prune's, before anything starts", async () => {
    const cache = new ImageCache({ home: await makeHome("msbcolv-") });
    const start = (o: unknown) => () => cache.startCollector(o as never);
    expect(start({ bogus: 1 })).toThrow(TypeError);
    expect(start({ bogus: 1 })).toThrow(/startCollector\(\): unknown option "bogus"/);
    expect(start({ highWatermark: "150%" })).toThrow(RangeError);
    expect(start({ highWatermark: -1 })).toThrow(RangeError);
    expect(start({ highWatermark: "80%", lowWatermark: "90%" })).toThrow(/lowWatermark/);
    expect(start({ interval: "soon" })).toThrow(RangeError);
    expect(start({ interval: 0 })).toThrow(RangeError);
    expect(start({ interval: "5m", maxBackoff: "1m" })).toThrow(/maxBackoff/);
    expect(start({ dryRun: true })).toThrow(TypeError);
    expect(start({ keep: 3 })).toThrow(TypeError);
    expect(start({ signal: "x" })).toThrow(TypeError);
    const c = cache.startCollector({ interval: "5m", highWatermark: "85%", lowWatermark: "80%", signal: AbortSignal.abort() });
    expect(c.stopped).toBe(true);
    expect(c.interval).toBe(300_000);
    await cache.close();
  });
});
