// The collector: keeps a cache in bounds by itself (kubelet's image GC loop, for msb hosts).
//
// An unref'd timer ticks every `interval`. A tick is cheap: one statfs of the cache directory and a
// stat of the database and its WAL (size, mtime), no walk of the cache. When the file system's usage
// reaches `highWatermark`, one prune() runs with a target that brings it down to `lowWatermark`
// (minFreeSpace = size − low), least recently used
// first, with the caller's keep/filter/olderThan/minAge/policies. Runs never overlap: one at a time
// here, and prune()'s lock file makes any other prune of the cache (this process or another) a
// "busy" tick that retries at the next one.
import * as fsp from "node:fs/promises";
import * as path from "node:path";

import { ImageCacheError, PruneInProgressError } from "./errors";
import type { CallOptions, DiskUsage, ImagePruneReport, PruneOptions } from "./types";
import { parseDuration, parseSizeOrShare, type SizeOrShare, UnitSyntaxError } from "./units";
import { checkPruneOptions } from "./validate";

/** Where a cache lives on disk (resolved as its first call does). */
export interface CachePaths {
  home: string;
  configPath: string;
  dbPath: string;
  cacheDir: string;
}

/** @internal What a collector needs from its cache (ImageCache gives it). */
export interface CollectorHost {
  /** The cache (the key cache.metrics() finds its collectors by). */
  readonly owner: object;
  prune(options: PruneOptions): Promise<ImagePruneReport>;
  diskUsage(options?: CallOptions): Promise<DiskUsage>;
  paths(): Promise<CachePaths>;
}

/**
 * startCollector()'s options: its own (interval, watermarks, back-off cap, signal), and every prune()
 * option (keep, filter, olderThan, minAge, graceMs, policies, minFreeSpace, reservedSpace, maxBytes, …),
 * passed to each run's prune() as given and validated by prune()'s rules when the collector starts.
 */
export interface CollectorOptions extends Omit<PruneOptions, "signal" | "dryRun" | "plan" | "onProgress"> {
  /** Time between idle ticks: ms or a duration string ("5m"). Default 5 minutes (kubelet's). */
  interval?: number | string;
  /** Usage of the cache's file system (size − available) that starts a collection: bytes, a size string or a share ("85%"). Default "85%". */
  highWatermark?: number | string;
  /** What a collection brings the usage down to: bytes, a size string or a share. Default "80%". */
  lowWatermark?: number | string;
  /** Cap of the back-off after a collection that could not reach the low mark: ms or a duration. Default 1 hour (or the interval, when longer). */
  maxBackoff?: number | string;
  /** Aborting it stops the collector as stop({ abort: true }) does. */
  signal?: AbortSignal;
  /** Other prune() options (those a newer prune() takes pass through unchanged). */
  [option: string]: unknown;
}

/** The file system that holds the cache, from statfs (bytes). */
export interface FileSystemSpace {
  /** Total size (f_blocks × f_bsize). */
  size: number;
  /** Available to unprivileged users (f_bavail × f_bsize). */
  free: number;
  /** size − free: what the watermarks are compared with (kubelet's capacity − available). */
  used: number;
}

/** One idle tick (the "check" event). */
export interface CollectorCheck {
  at: Date;
  filesystem: FileSystemSpace;
  /** The watermarks resolved against this file system, in used bytes. */
  highBytes: number;
  lowBytes: number;
  /** used ≥ highBytes. */
  overHigh: boolean;
  /** The database or its WAL changed (size or mtime) since the previous tick. */
  databaseChanged: boolean;
  /**
   * idle: below the high mark; collect: a run started; backoff: over the high mark, but the last run could
   * not reach the low mark, the database has not changed since and the back-off has not elapsed;
   * busy: another prune of this cache was running (retried at the next tick); stopped: the collector stopped.
   */
  action: "idle" | "collect" | "backoff" | "busy";
  /** Milliseconds until the next tick. */
  nextTickMs: number;
}

/** One collection (the "run" event, the async iterator's values, runNow()'s result). */
export interface CollectorRunReport {
  /** watermark: an idle tick found usage at or over the high mark; manual: runNow(). */
  trigger: "watermark" | "manual";
  startedAt: Date;
  durationMs: number;
  before: FileSystemSpace;
  /** null when the run failed before it could measure again. */
  after: FileSystemSpace | null;
  highBytes: number;
  lowBytes: number;
  /** The target handed to prune(): the free space (bytes) that brings usage down to the low mark. */
  target: { minFreeSpace?: number };
  /** after.used ≤ lowBytes. */
  reachedLow: boolean;
  /** prune()'s report; null when the run was busy or failed. */
  prune: ImagePruneReport | null;
  /** Another prune of this cache held its lock: nothing was done (retried at the next tick). */
  busy: boolean;
  /** The failure, also emitted as "error"; null when the run worked (or was stopped by stop({ abort: true })). */
  error: Error | null;
  /** stop({ abort: true }) (or the collector's signal) stopped the run; what it did is in `prune`. */
  aborted: boolean;
  /** ms to the next collection attempt while over the high mark (the back-off); 0 after a run that reached the low mark. */
  backoffMs: number;
}

/** Counters since the collector started (the metrics). */
export interface CollectorStats {
  checks: number;
  runs: number;
  failures: number;
  imagesRemoved: number;
  bytesRemoved: number;
  lastRunDurationMs: number | null;
  lastRunAt: Date | null;
}

export interface CollectorEvents {
  run: CollectorRunReport;
  error: Error;
  check: CollectorCheck;
}

export type CollectorListener<K extends keyof CollectorEvents> = (value: CollectorEvents[K]) => void;

/** stop() or runNow() after the collector stopped. */
export class CollectorStoppedError extends ImageCacheError {
  constructor() {
    super("this collector is stopped; start a new one with cache.startCollector()", "collectorStopped");
  }
}

const DEFAULT_INTERVAL = 5 * 60_000;
const DEFAULT_MAX_BACKOFF = 60 * 60_000;
const ITERATOR_BUFFER = 64;
const OWN_KEYS = new Set(["interval", "highWatermark", "lowWatermark", "maxBackoff", "signal"]);

function describe(v: unknown): string {
  return typeof v === "string" ? JSON.stringify(v) : v === null ? "null" : Array.isArray(v) ? "an array" : typeof v;
}

function checkDurationOption(key: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  let ms: number;
  if (typeof value === "number") ms = value;
  else if (typeof value === "string") {
    try {
      ms = parseDuration(value);
    } catch (e) {
      if (e instanceof UnitSyntaxError) throw new RangeError(`startCollector(): "${key}": ${e.message}, got ${JSON.stringify(value)}`);
      throw e;
    }
  } else throw new TypeError(`startCollector(): "${key}" must be a number of milliseconds or a duration string, got ${describe(value)}`);
  if (!Number.isFinite(ms) || ms < 1 || ms > 2 ** 31 - 1) {
    throw new RangeError(`startCollector(): "${key}" must be between 1 ms and about 24.8 days, got ${value}`);
  }
  return ms;
}

function checkMark(key: string, value: unknown, fallback: string): SizeOrShare {
  if (value === undefined) return parseSizeOrShare(fallback);
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`startCollector(): "${key}" must be a whole number of bytes ≥ 0, got ${value}`);
    return { bytes: value };
  }
  if (typeof value !== "string") throw new TypeError(`startCollector(): "${key}" must be bytes, a size string or a share ("85%"), got ${describe(value)}`);
  try {
    return parseSizeOrShare(value);
  } catch (e) {
    if (e instanceof UnitSyntaxError) throw new RangeError(`startCollector(): "${key}": ${e.message}`);
    throw e;
  }
}

function resolveMark(mark: SizeOrShare, fs: FileSystemSpace): number {
  return "bytes" in mark ? mark.bytes : Math.floor((fs.size * mark.percent) / 100);
}

interface Checked {
  interval: number;
  maxBackoff: number;
  high: SizeOrShare;
  low: SizeOrShare;
  signal: AbortSignal | undefined;
  prune: Record<string, unknown>;
}

/** @internal Validates startCollector()'s options (prune's own through prune's validation). */
export function checkCollectorOptions(options: unknown): Checked {
  if (options === undefined) options = {};
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new TypeError(`startCollector(): options must be an object, got ${describe(options)}`);
  }
  const o = options as Record<string, unknown>;
  const interval = checkDurationOption("interval", o.interval, DEFAULT_INTERVAL);
  const maxBackoff = checkDurationOption("maxBackoff", o.maxBackoff, Math.max(DEFAULT_MAX_BACKOFF, interval));
  if (maxBackoff < interval) throw new RangeError(`startCollector(): "maxBackoff" (${maxBackoff} ms) must be at least "interval" (${interval} ms)`);
  const high = checkMark("highWatermark", o.highWatermark, "85%");
  const low = checkMark("lowWatermark", o.lowWatermark, "80%");
  const sameKind = ("bytes" in high) === ("bytes" in low);
  const value = (m: SizeOrShare) => ("bytes" in m ? m.bytes : m.percent);
  if (sameKind && value(low) > value(high)) {
    throw new RangeError(`startCollector(): "lowWatermark" (${o.lowWatermark}) must not be above "highWatermark" (${o.highWatermark ?? "85%"})`);
  }
  const signal = o.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`startCollector(): "signal" must be an AbortSignal, got ${describe(signal)}`);
  }
  const prune: Record<string, unknown> = {};
  for (const key of Object.keys(o)) if (!OWN_KEYS.has(key) && o[key] !== undefined) prune[key] = o[key];
  for (const key of ["dryRun", "plan", "onProgress"]) {
    if (key in prune) throw new TypeError(`startCollector(): "${key}" is not a collector option (a collector's runs are real prunes)`);
  }
  // prune()'s own rules, now rather than at the first run (an unknown key, a bad keep, …).
  try {
    checkPruneOptions(prune);
  } catch (e) {
    if (e instanceof Error) e.message = e.message.replace(/^prune\(\)/, "startCollector()");
    throw e;
  }
  return { interval, maxBackoff, high, low, signal: signal as AbortSignal | undefined, prune };
}

/** statfs of the cache directory; before msb made it (a fresh host), of its nearest existing parent. */
export async function statfsOf(dir: string): Promise<FileSystemSpace> {
  let s: Awaited<ReturnType<typeof fsp.statfs>>;
  for (let at = dir; ; ) {
    try {
      s = await fsp.statfs(at);
      break;
    } catch (e) {
      const parent = path.dirname(at);
      if ((e as { code?: string }).code !== "ENOENT" || parent === at) throw e;
      at = parent;
    }
  }
  const size = s.blocks * s.bsize;
  const free = s.bavail * s.bsize;
  return { size, free, used: Math.max(0, size - free) };
}

async function statSignature(path: string): Promise<string> {
  try {
    const s = await fsp.stat(path);
    return `${s.size}:${s.mtimeMs}`;
  } catch {
    return "-";
  }
}

/** The collectors started on each cache (for cache.metrics()). */
const collectorsByHost = new WeakMap<object, Set<Collector>>();

/** @internal */
export function collectorsOf(owner: object): readonly Collector[] {
  return [...(collectorsByHost.get(owner) ?? [])];
}

/** What every collector of a cache did, stopped ones included (the metrics' counters never go back). */
const totalsByOwner = new WeakMap<object, CollectorStats>();

function emptyStats(): CollectorStats {
  return { checks: 0, runs: 0, failures: 0, imagesRemoved: 0, bytesRemoved: 0, lastRunDurationMs: null, lastRunAt: null };
}

/** @internal The counters of all collectors a cache has had. */
export function collectorTotals(owner: object): CollectorStats {
  return { ...(totalsByOwner.get(owner) ?? emptyStats()) };
}

/** @internal A collector's cache, for registerPromClient(). */
export let hostOf: (collector: Collector) => CollectorHost;

/**
 * A running collector (cache.startCollector()). Its timer is unref'd: it never keeps the process
 * alive. Results arrive as events ("run", "check", "error") and through `for await (const report of
 * collector)`. Errors are reported, never thrown into the event loop: an "error" with no listener (and
 * no iterator waiting) becomes a process warning (process.emitWarning), not a crash.
 */
export class Collector {
  readonly #host: CollectorHost;
  readonly #opts: Checked;
  readonly #listeners: { [K in keyof CollectorEvents]: { fn: CollectorListener<K>; once: boolean }[] } = { run: [], error: [], check: [] };
  readonly #abort = new AbortController();
  readonly #iterators = new Set<{ queue: CollectorRunReport[]; wake: (() => void) | null }>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #tickInFlight: Promise<void> | null = null;
  #run: Promise<CollectorRunReport> | null = null;
  #stopped = false;
  #stopping: Promise<void> | null = null;
  #dbSignature: string | null = null;
  #futileSignature: string | null = null;
  #retryAt = 0;
  #backoff = 0;
  #paths: CachePaths | null = null;
  #stats: CollectorStats = emptyStats();
  #totals: CollectorStats;

  static {
    hostOf = (c) => c.#host;
  }
  readonly #onSignal = () => void this.stop({ abort: true });

  /** @internal Use cache.startCollector(). */
  constructor(host: CollectorHost, options?: CollectorOptions) {
    this.#host = host;
    this.#opts = checkCollectorOptions(options);
    let totals = totalsByOwner.get(host.owner);
    if (!totals) totalsByOwner.set(host.owner, (totals = emptyStats()));
    this.#totals = totals;
    if (this.#opts.signal?.aborted) {
      this.#stopped = true;
      return;
    }
    this.#opts.signal?.addEventListener("abort", this.#onSignal, { once: true });
    let set = collectorsByHost.get(host.owner);
    if (!set) collectorsByHost.set(host.owner, (set = new Set()));
    set.add(this);
    this.#schedule(0); // the first check right away (still unref'd)
  }

  /** The idle tick's period, in ms. */
  get interval(): number {
    return this.#opts.interval;
  }

  /** True once stop() was called (or the signal aborted). */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** True while a collection runs. */
  get running(): boolean {
    return this.#run !== null;
  }

  /** Counters since the collector started. */
  get stats(): CollectorStats {
    return { ...this.#stats };
  }

  on<K extends keyof CollectorEvents>(event: K, listener: CollectorListener<K>): this {
    return this.#add(event, listener, false);
  }

  once<K extends keyof CollectorEvents>(event: K, listener: CollectorListener<K>): this {
    return this.#add(event, listener, true);
  }

  off<K extends keyof CollectorEvents>(event: K, listener: CollectorListener<K>): this {
    const list = this.#listeners[event] as { fn: CollectorListener<K>; once: boolean }[];
    const i = list.findIndex((l) => l.fn === listener);
    if (i >= 0) list.splice(i, 1);
    return this;
  }

  /**
   * Collects now, whatever the high mark says, down to the low mark (a cache already below it loses
   * nothing). A run in progress is joined rather than doubled. Resolves with the run's report (its
   * `error` says if it failed; "error" is emitted too); rejects only with CollectorStoppedError.
   */
  async runNow(): Promise<CollectorRunReport> {
    if (this.#stopped) throw new CollectorStoppedError();
    if (this.#run) return this.#run;
    return this.#startRun("manual", null);
  }

  /**
   * Stops the timer; resolves once a run in progress has finished. With `abort: true` that run is
   * told to stop at its next safe point (prune()'s AbortSignal: between batches; what it did stays
   * done and is reported). Ends the async iterators. Idempotent.
   */
  stop(options?: { abort?: boolean }): Promise<void> {
    if (options?.abort) this.#abort.abort(new Error("the collector was stopped"));
    if (this.#stopping) return this.#stopping;
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#opts.signal?.removeEventListener("abort", this.#onSignal);
    collectorsByHost.get(this.#host.owner)?.delete(this);
    this.#stopping = (async () => {
      await this.#tickInFlight?.catch(() => {});
      await this.#run?.catch(() => {});
      for (const it of this.#iterators) it.wake?.();
    })();
    return this.#stopping;
  }

  /** Run reports as they happen, until the collector stops (at most 64 unread reports are kept). */
  [Symbol.asyncIterator](): AsyncIterator<CollectorRunReport> {
    const it = { queue: [] as CollectorRunReport[], wake: null as (() => void) | null };
    this.#iterators.add(it);
    const done = (): IteratorResult<CollectorRunReport> => {
      this.#iterators.delete(it);
      return { done: true, value: undefined };
    };
    return {
      next: async () => {
        for (;;) {
          const value = it.queue.shift();
          if (value) return { done: false, value };
          if (this.#stopped && !this.#run && !this.#tickInFlight) return done();
          if (this.#stopping) {
            await this.#stopping;
            continue;
          }
          await new Promise<void>((resolve) => (it.wake = resolve));
          it.wake = null;
        }
      },
      return: async () => done(),
    };
  }

  #add<K extends keyof CollectorEvents>(event: K, fn: CollectorListener<K>, once: boolean): this {
    if (!(event in this.#listeners)) throw new TypeError(`unknown collector event ${describe(event)} (expected "run", "check" or "error")`);
    if (typeof fn !== "function") throw new TypeError(`the listener must be a function, got ${describe(fn)}`);
    (this.#listeners[event] as { fn: CollectorListener<K>; once: boolean }[]).push({ fn, once });
    return this;
  }

  // A listener that throws is reported as "error" (an "error" listener that throws, as a warning):
  // nothing a listener does reaches the event loop as an uncaught exception.
  #emit<K extends keyof CollectorEvents>(event: K, value: CollectorEvents[K]): void {
    const list = this.#listeners[event] as { fn: CollectorListener<K>; once: boolean }[];
    if (event === "error" && list.length === 0) {
      if (this.#iterators.size === 0) warn(value as Error);
      return;
    }
    for (const l of [...list]) {
      if (l.once) this.off(event, l.fn);
      try {
        l.fn(value);
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        if (event === "error") warn(err);
        else this.#emit("error", err);
      }
    }
  }

  #count(key: "checks" | "runs" | "failures" | "imagesRemoved" | "bytesRemoved", n: number): void {
    this.#stats[key] += n;
    this.#totals[key] += n;
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#tickInFlight = this.#tick().finally(() => {
        this.#tickInFlight = null;
        this.#schedule(this.#opts.interval);
      });
    }, ms);
    // Never keeps the process alive (in Node; other hosts' timers may lack unref).
    (this.#timer as { unref?: () => void }).unref?.();
  }

  async #cachePaths(): Promise<CachePaths> {
    return (this.#paths ??= await this.#host.paths());
  }

  async #databaseSignature(paths: CachePaths): Promise<string> {
    const [db, wal] = await Promise.all([statSignature(paths.dbPath), statSignature(`${paths.dbPath}-wal`)]);
    return `${db}|${wal}`;
  }

  async #tick(): Promise<void> {
    try {
      const paths = await this.#cachePaths();
      const [filesystem, signature] = await Promise.all([statfsOf(paths.cacheDir), this.#databaseSignature(paths)]);
      this.#count("checks", 1);
      const databaseChanged = this.#dbSignature !== null && signature !== this.#dbSignature;
      this.#dbSignature = signature;
      const highBytes = resolveMark(this.#opts.high, filesystem);
      const lowBytes = Math.min(resolveMark(this.#opts.low, filesystem), highBytes);
      const overHigh = filesystem.used >= highBytes;
      let action: CollectorCheck["action"] = "idle";
      if (!overHigh) {
        this.#backoff = 0;
        this.#futileSignature = null;
      } else if (this.#run) {
        action = "collect"; // joined: a manual run is under way
      } else if (this.#futileSignature === signature && Date.now() < this.#retryAt) {
        action = "backoff";
      } else {
        action = "collect";
      }
      const check: CollectorCheck = { at: new Date(), filesystem, highBytes, lowBytes, overHigh, databaseChanged, action, nextTickMs: this.#opts.interval };
      if (action === "collect" && !this.#run) {
        const report = await this.#startRun("watermark", filesystem);
        if (report.busy) check.action = "busy";
      }
      this.#emit("check", check);
    } catch (e) {
      this.#count("failures", 1);
      this.#emit("error", e instanceof Error ? e : new Error(String(e)));
    }
  }

  #startRun(trigger: CollectorRunReport["trigger"], before: FileSystemSpace | null): Promise<CollectorRunReport> {
    const run = this.#collect(trigger, before).finally(() => {
      this.#run = null;
    });
    this.#run = run;
    return run;
  }

  async #collect(trigger: CollectorRunReport["trigger"], measured: FileSystemSpace | null): Promise<CollectorRunReport> {
    const startedAt = new Date();
    const t0 = performance.now();
    const report: CollectorRunReport = {
      trigger,
      startedAt,
      durationMs: 0,
      before: measured ?? { size: 0, free: 0, used: 0 },
      after: null,
      highBytes: 0,
      lowBytes: 0,
      target: {},
      reachedLow: false,
      prune: null,
      busy: false,
      error: null,
      aborted: false,
      backoffMs: 0,
    };
    try {
      const paths = await this.#cachePaths();
      const before = measured ?? (await statfsOf(paths.cacheDir));
      report.before = before;
      report.highBytes = resolveMark(this.#opts.high, before);
      report.lowBytes = Math.min(resolveMark(this.#opts.low, before), report.highBytes);
      const options: Record<string, unknown> = { ...this.#opts.prune, signal: this.#abort.signal };
      // prune() measures free space itself (statfs) and evicts until this much is available.
      let minFree = Math.max(0, before.size - report.lowBytes);
      const own = options.minFreeSpace;
      if (own !== undefined) minFree = Math.max(minFree, resolveOwn(own, before));
      options.minFreeSpace = minFree;
      report.target = { minFreeSpace: minFree };
      if (!this.#abort.signal.aborted) {
        try {
          report.prune = await this.#host.prune(options as PruneOptions);
        } catch (e) {
          if (!(e instanceof PruneInProgressError)) throw e;
          report.busy = true;
        }
      }
      report.after = await statfsOf(paths.cacheDir);
      report.reachedLow = report.after.used <= report.lowBytes;
      if (report.busy) {
        // Another prune works on the cache: the next tick looks again, no back-off.
      } else if (report.reachedLow || trigger === "manual") {
        if (report.reachedLow) {
          this.#backoff = 0;
          this.#futileSignature = null;
        }
      } else {
        // Could not get down to the low mark (pins, keep, filters, minAge): wait before trying again
        // unless the database changes (an image pulled or a sandbox gone), doubling up to the cap.
        this.#backoff = Math.min(this.#opts.maxBackoff, this.#backoff === 0 ? this.#opts.interval : this.#backoff * 2);
        this.#retryAt = Date.now() + this.#backoff;
        this.#futileSignature = this.#dbSignature = await this.#databaseSignature(paths);
      }
      report.backoffMs = report.reachedLow ? 0 : this.#backoff;
      report.aborted = this.#abort.signal.aborted || report.prune?.aborted === true;
    } catch (e) {
      // A stop({ abort: true }) is what the caller asked for, not a failure.
      if (this.#abort.signal.aborted && e instanceof Error && e.name === "AbortError") report.aborted = true;
      else report.error = e instanceof Error ? e : new Error(String(e));
    }
    report.durationMs = performance.now() - t0;
    if (!report.busy) {
      this.#count("runs", 1);
      for (const s of [this.#stats, this.#totals]) {
        s.lastRunDurationMs = report.durationMs;
        s.lastRunAt = startedAt;
      }
      if (report.prune) {
        this.#count("imagesRemoved", report.prune.imageRefsRemoved);
        this.#count("bytesRemoved", report.prune.bytesReclaimed ?? 0);
      }
    }
    if (report.error) this.#count("failures", 1);
    for (const it of this.#iterators) {
      it.queue.push(report);
      if (it.queue.length > ITERATOR_BUFFER) it.queue.shift();
      it.wake?.();
    }
    if (report.error) this.#emit("error", report.error);
    if (!report.busy) this.#emit("run", report);
    return report;
  }
}

/** A caller's own minFreeSpace (bytes, a size string or a share) against this file system. */
function resolveOwn(value: unknown, fs: FileSystemSpace): number {
  if (typeof value === "number") return value;
  if (typeof value === "string") return resolveMark(parseSizeOrShare(value), fs);
  throw new TypeError(`startCollector(): expected bytes, a size string or a share, got ${describe(value)}`);
}

function warn(err: Error): void {
  try {
    process.emitWarning(err.message, { type: "MsbImageCacheCollectorWarning", code: (err as { code?: string }).code, detail: "add an \"error\" listener to the collector to handle its errors" });
  } catch {
    // no process (another host): dropped; the stats still count it
  }
}
