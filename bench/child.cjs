#!/usr/bin/env node
// One benchmark process for ONE implementation on ONE home (the official addon keeps the home it
// resolves at its first call for the life of the process, so every home gets its own process).
//
//   MSB_HOME=<home> node bench/child.cjs <ours|official> <addon-or-dist-path> '<json ops>'
//
// ops: [{ op: "warm" | "list" | "get" | "inspect" | "remove" | "prune" | "diskUsage" | "idle", reps?, refs?, ticker? }]
// Prints one JSON line: { results: [{ op, times: [ms...], floorTimes?, stallMs, stallOwnMs, rssGrowthMb?, count?, error? }] }.
// Calls timed for their stall run with a setImmediate ticker alive; the longest gap between two
// consecutive ticks while the call is in flight is the event-loop stall the call caused. Two measures:
// - stallMs: wall clock. On this shared VM it includes the main thread being preempted (noise).
// - stallOwnMs: the wall gap minus the time the main thread waited on a run queue in it (Linux
//   /proc/self/task/<pid>/schedstat, second field, run_delay; tid = pid is the main thread): the time
//   the thread ran (or blocked in a system call) between two turns, what the call itself holds the
//   loop for. (The first field, time on CPU, is printed as of the running task's last scheduler
//   tick, so read by the thread itself it moves in whole ticks; run_delay is brought up to date each
//   time the thread is switched back in, which is when a preemption ends.)
"use strict";
const fs = require("node:fs");

const [impl, modPath, opsJson] = process.argv.slice(2);
const ops = JSON.parse(opsJson);
const home = process.env.MSB_HOME;

function makeApi() {
  if (impl === "official") {
    const a = require(modPath);
    return {
      list: () => a.imageList(),
      get: (r) => a.imageGet(r),
      inspect: (r) => a.imageInspect(r),
      remove: (r) => a.imageRemove(r, false),
      prune: () => a.imagePrune(),
      diskUsage: null, // the official addon has none
      touch: (list) => {
        // what a caller reads from each element (the official wrapper copies every field)
        let n = 0;
        for (const x of list) n += x.reference.length + (x.layerCount | 0);
        return n;
      },
    };
  }
  const { ImageCache } = require(modPath);
  const cache = new ImageCache({ home });
  return {
    list: () => cache.list(),
    get: (r) => cache.get(r),
    inspect: (r) => cache.inspect(r),
    remove: (r) => cache.remove(r),
    prune: () => cache.prune(),
    diskUsage: typeof cache.diskUsage === "function" ? () => cache.diskUsage() : null,
    touch: (list) => {
      let n = 0;
      for (const x of list) n += x.reference.length + (x.layerCount | 0);
      return n;
    },
  };
}

// The main thread's run-queue wait in ms, read with one pread on an fd opened once (NaN off Linux).
const waitMs = (() => {
  let fd;
  try {
    fd = fs.openSync(`/proc/self/task/${process.pid}/schedstat`, "r");
  } catch {
    return () => NaN;
  }
  const buf = Buffer.alloc(128);
  return () => {
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    return Number(buf.toString("latin1", 0, n).split(" ")[1]) / 1e6;
  };
})();

// Runs `fn` while a setImmediate ticker measures the longest gap between turns, in wall time and
// without the main thread's run-queue wait.
async function timed(fn) {
  let last = performance.now();
  let lastWait = waitMs();
  let worst = 0;
  let worstOwn = 0;
  let running = true;
  const tick = () => {
    const now = performance.now();
    const wait = waitMs();
    if (now - last > worst) worst = now - last;
    if (now - last - (wait - lastWait) > worstOwn) worstOwn = now - last - (wait - lastWait);
    last = now;
    lastWait = wait;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  // let the ticker take its first turn so the gap measured is the call's, not the set-up's
  await new Promise((r) => setImmediate(r));
  last = performance.now();
  lastWait = waitMs();
  worst = 0;
  worstOwn = 0;
  const t0 = performance.now();
  let value;
  try {
    value = await fn();
  } finally {
    running = false;
  }
  const ms = performance.now() - t0;
  // one more turn: what the call left for the loop (e.g. deferred materialization) counts too
  await new Promise((r) => setImmediate(r));
  tick();
  return { ms, stall: worst, stallOwn: worstOwn, value };
}

// The same call without the ticker (the busy ticker takes a core; timings are taken without it).
async function plain(fn) {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, stall: 0, stallOwn: 0, value };
}

// One round trip through libuv's thread pool doing almost nothing (stat of /): the least any call
// that keeps its work off the JS thread costs. get ×100 and inspect ×100 are compared with 100 of these.
const hop = () => new Promise((resolve, reject) => fs.stat("/", (e) => (e ? reject(e) : resolve())));

async function main() {
  const api = makeApi();
  const results = [];
  for (const o of ops) {
    const r = { op: o.op, times: [], stallMs: 0, stallOwnMs: 0 };
    // stallMs: the worst wall gap of any call; stallOwnMs: the median over the calls of each call's
    // worst gap without run-queue waits (the host pausing this VM is invisible to it, and strikes
    // one call or another at random; a stall the call causes shows in every call).
    const ownGaps = [];
    const stall = (t) => {
      r.stallMs = Math.max(r.stallMs, t.stall);
      ownGaps.push(t.stallOwn);
      const sorted = [...ownGaps].sort((a, b) => a - b);
      const m = sorted.length >> 1;
      r.stallOwnMs = sorted.length % 2 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
    };
    const run = o.ticker ? timed : plain;
    try {
      if (o.op === "diskUsage" && !api.diskUsage) {
        r.notImplemented = true;
      } else if (o.op === "list") {
        const rss0 = process.memoryUsage().rss;
        for (let i = 0; i < (o.reps ?? 5); i++) {
          const t = await plain(() => api.list());
          r.count = t.value.length;
          if (i === 0) {
            r.rssGrowthMb = (process.memoryUsage().rss - rss0) / 2 ** 20;
            r.first = t.value.slice(0, 2).map((x) => x.reference);
          }
          if (o.touch) api.touch(t.value);
          r.times.push(t.ms);
        }
        for (let i = 0; i < (o.stallReps ?? 3); i++) {
          const t = await timed(() => api.list());
          if (o.touch) api.touch(t.value);
          stall(t);
        }
      } else if (o.op === "get" || o.op === "inspect") {
        // one timing = len(refs) sequential calls, each followed by as many round trips through the
        // pool (floorTimes: the floor measured side by side, not in another phase of the process);
        // then one round under the ticker for the stall
        r.floorTimes = [];
        for (let i = 0; i < (o.reps ?? 5); i++) {
          let t0 = performance.now();
          for (const ref of o.refs) await api[o.op](ref);
          r.times.push(performance.now() - t0);
          t0 = performance.now();
          for (let k = 0; k < o.refs.length; k++) await hop();
          r.floorTimes.push(performance.now() - t0);
        }
        for (const ref of o.refs.slice(0, o.stallRefs ?? o.refs.length)) {
          const t = await timed(() => api[o.op](ref));
          stall(t);
        }
      } else if (o.op === "remove") {
        // one timing per reference, each a different image of this (fresh) copy; rssGrowthMb: what
        // the removals left resident (the in-flight index and any memo kept between calls)
        // cpuMs: the process's CPU time (every thread) per removal, which a busy shared machine inflates
        // far less than the wall time
        const rss0 = process.memoryUsage().rss;
        r.cpuMs = [];
        for (const ref of o.refs) {
          const cpu0 = process.cpuUsage();
          const t = await run(() => api.remove(ref));
          const cpu = process.cpuUsage(cpu0);
          r.times.push(t.ms);
          r.cpuMs.push((cpu.user + cpu.system) / 1000);
          stall(t);
        }
        r.rssGrowthMb = (process.memoryUsage().rss - rss0) / 2 ** 20;
      } else if (o.op === "prune" || o.op === "diskUsage") {
        const t = await run(() => api[o.op]());
        r.times.push(t.ms);
        stall(t);
        r.value = t.value && typeof t.value === "object" ? pickReport(t.value) : t.value;
      } else if (o.op === "idle") {
        // the loop's own longest gap with nothing of ours in flight: this machine's noise floor
        const t = await timed(() => new Promise((r) => setTimeout(r, o.ms ?? 300)));
        stall(t);
      } else if (o.op === "warm") {
        await api.get(o.ref);
      } else {
        throw new Error(`unknown op ${o.op}`);
      }
    } catch (e) {
      r.error = String((e && e.message) || e);
    }
    results.push(r);
  }
  process.stdout.write(JSON.stringify({ results }) + "\n");
  process.exit(0);
}

function pickReport(v) {
  const out = {};
  for (const k of ["imageRefsRemoved", "manifestsRemoved", "layersRemoved", "fsmetaRemoved", "vmdkRemoved", "bytesReclaimed"]) {
    out[k] = v[k] ?? null;
  }
  return out;
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ fatal: String((e && e.stack) || e) }) + "\n");
  process.exitCode = 1;
});
