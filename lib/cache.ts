// ImageCache: one microsandbox home. Validates arguments, hands each call to one native
// operation, and shapes the result. All file and database work happens in the addon, off the
// JS thread.
import * as os from "node:os";

import { AbortError, CacheClosedError, DatabaseError, InsufficientSpaceError, fromNative, withCallSite } from "./errors";
import { type ImageDetail, type ImageHandle, makeDetail, makeHandle, makeHandles } from "./image";
import { binding, type NativeImageCache, type NativeProgressFn } from "./native";
import { type ColumnReader, emptyColumns, fromColumns, fromColumnsSync } from "./columns";
import { type CachePaths, Collector, type CollectorHost, type CollectorOptions } from "./collector";
import { hostKey, renderMetrics, snapshot } from "./metrics";
import type { RawRemovalReport, RawRemovedLists } from "./raw";
import type {
  CallOptions,
  DiskUsage,
  EnsureFreeOptions,
  ImageCacheOptions,
  ImagePruneReport,
  ImageRemoveReport,
  PruneOptions,
  RemoveOptions,
  VerifyOptions,
  VerifyReport,
} from "./types";
import {
  checkCacheOptions,
  checkCallOptions,
  checkPruneOptions,
  checkReference,
  checkRemoveOptions,
  checkVerifyOptions,
  checkEnsureFreeOptions,
  checkPlanReport,
  type CheckedPruneOptions,
} from "./validate";

type Site = { stack?: string };

// Captures the caller's frames (skipping `fn` and everything above it) for async errors.
function callSite(fn: Function): Site {
  const site: Site = {};
  Error.captureStackTrace(site, fn);
  return site;
}

function abortReason(signal: AbortSignal): AbortError {
  return new AbortError("the operation was aborted", { cause: signal.reason });
}

/**
 * @internal Marks the module-wide `Image` (lib/index.ts): its close() releases the connections but
 * does not end it; the next call reopens, resolving the home again. Not part of the public API.
 */
export let makeReopenable: (cache: ImageCache) => ImageCache;

export class ImageCache {
  readonly #options: ImageCacheOptions;
  #native: NativeImageCache | undefined;
  #closed = false;
  #reopenable = false;

  constructor(options?: ImageCacheOptions) {
    this.#options = checkCacheOptions(options);
  }

  static {
    makeReopenable = (cache) => {
      cache.#reopenable = true;
      return cache;
    };
  }

  /** One cached image. Rejects with ImageNotFoundError when absent. */
  async get(reference: string, options?: CallOptions): Promise<ImageHandle> {
    const site = callSite(this.get);
    const { signal } = checkCallOptions("get()", options);
    const ref = this.#checkRef(reference, site);
    const raw = await this.#read(site, signal, (native, cancel) => native.get(ref, cancel));
    return makeHandle(this, raw);
  }

  /** Every cached image, newest first (by first pull), as msb lists them. */
  async list(options?: CallOptions): Promise<ImageHandle[]> {
    const site = callSite(this.list);
    const { signal } = checkCallOptions("list()", options);
    const columns = await this.#read(site, signal, (native, cancel) => native.list(cancel));
    // The handles decode their row when first read. Making them is the only per-image work on
    // this thread; a long list yields to the event loop every ~0.5 ms so no turn stalls it.
    const count = columns.count;
    const out = new Array<ImageHandle>(count);
    let done = 0;
    while (done < count) {
      const sliceStart = performance.now();
      do {
        const to = Math.min(count, done + 1024);
        makeHandles(this, columns, out, done, to);
        done = to;
      } while (done < count && performance.now() - sliceStart < 0.5);
      if (done < count) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (signal?.aborted) throw withCallSite(abortReason(signal), site);
      }
    }
    return out;
  }

  /** The image with its parsed config and its layers in manifest order. */
  async inspect(reference: string, options?: CallOptions): Promise<ImageDetail> {
    const site = callSite(this.inspect);
    const { signal } = checkCallOptions("inspect()", options);
    const ref = this.#checkRef(reference, site);
    const raw = await this.#read(site, signal, (native, cancel) => native.inspect(ref, cancel));
    return makeDetail(this, raw);
  }

  /**
   * Removes one reference; its manifest and layers go too when nothing else needs them.
   * Without force, an image used by a sandbox or snapshot rejects with ImageInUseError. With
   * force the reference goes but a manifest still in use keeps its rows and files.
   */
  async remove(reference: string, options?: RemoveOptions | boolean): Promise<ImageRemoveReport> {
    const site = callSite(this.remove);
    const { force, signal } = checkRemoveOptions(options);
    const ref = this.#checkRef(reference, site);
    const raw = await this.#write(site, signal, (native, cancel) => native.remove(ref, force, cancel), {
      abortResolves: false,
      report: plainRemovalReport,
    });
    return {
      ...pruneReport(raw, await removedLists(raw)),
      reference: raw.reference ?? ref,
      manifestDigest: raw.manifestDigest,
      manifestRemoved: raw.manifestsRemoved > 0,
      kept: raw.kept,
    };
  }

  /**
   * Removes every image no sandbox or snapshot uses (msb's prune), and their files; options
   * narrow it (olderThan, minAge, keep, filter) or make it a dry run. An abort after the work
   * began resolves with the partial report and `aborted: true`.
   */
  async prune(options?: PruneOptions): Promise<ImagePruneReport> {
    const site = callSite(this.prune);
    let checked: CheckedPruneOptions;
    try {
      checked = checkPruneOptions(options);
    } catch (err) {
      throw withCallSite(err as Error, site);
    }
    return this.#prune(site, checked);
  }

  /**
   * Makes room before a pull: evicts unpinned images, least recently used first, until `bytes` plus
   * `minFreeSpace` are free on the file system holding the cache. Plans first (a dry run); removes
   * only when the plan reaches the goal, then takes exactly that plan. Otherwise rejects with
   * InsufficientSpaceError, having removed nothing. Resolves with the prune's report.
   */
  async ensureFree(bytes: number | string, options?: EnsureFreeOptions): Promise<ImagePruneReport> {
    const site = callSite(this.ensureFree);
    let checked: ReturnType<typeof checkEnsureFreeOptions>;
    try {
      checked = checkEnsureFreeOptions(bytes, options);
    } catch (err) {
      throw withCallSite(err as Error, site);
    }
    const wantDryRun = checked.native.dryRun === true;
    const onProgress = checked.native.onProgress;
    const plan = await this.#prune(site, { ...checked, native: { ...checked.native, dryRun: true, onProgress: undefined } });
    if (plan.aborted && checked.signal) throw withCallSite(abortReason(checked.signal), site);
    const space = plan.space!;
    if (!space.met) {
      const requested = space.budget.minFreeSpace ?? 0;
      const available = space.fsFreeAfter ?? 0;
      const why = (reason: string) => plan.skipped.filter((s) => s.kind === "reference" && s.reason === reason).map((s) => s.id);
      const pinned = why("pinned");
      const kept = why("kept");
      const tooNew = why("too-new");
      const reasons = [
        pinned.length > 0 ? `${pinned.length} used by sandboxes or snapshots` : "",
        kept.length > 0 ? `${kept.length} kept` : "",
        tooNew.length > 0 ? `${tooNew.length} newer than minAge` : "",
        space.budget.reservedSpace !== null ? `reservedSpace ${space.budget.reservedSpace} bytes` : "",
      ].filter(Boolean);
      throw withCallSite(
        new InsufficientSpaceError(
          `cannot free enough space: ${requested} bytes must be free on the file system holding the cache, ` +
            `${space.fsFreeBefore ?? 0} are, and evicting every image that may go would give ${available} ` +
            `(short by ${requested - available})` +
            (reasons.length > 0 ? `; images that cannot go: ${reasons.join(", ")}` : "") +
            "; nothing was removed",
          { requested, free: space.fsFreeBefore ?? 0, available, pinned, kept, tooNew },
        ),
        site,
      );
    }
    if (wantDryRun) return plan;
    // The plan fixes the set; keep functions were asked already (their verdicts are in the plan).
    return this.#prune(site, {
      ...checked,
      keepFns: checked.keepFns.map(() => []),
      native: { ...checked.native, dryRun: false, onProgress, plan: planOf(plan) },
    });
  }

  async #prune(site: Site, checked: CheckedPruneOptions): Promise<ImagePruneReport> {
    const { signal, native: nativeOptions } = checked;
    await this.#askKeep(site, checked);
    const progress = new ProgressRelay(nativeOptions.onProgress);
    nativeOptions.onProgress = progress.callback;
    const early = new EarlyRemovedLists();
    nativeOptions.onRemovedLists = early.callback;
    let raw: RawRemovalReport;
    try {
      raw = await this.#write(site, signal, (native, cancel) => native.prune(nativeOptions, cancel), {
        abortResolves: true,
        dryRun: nativeOptions.dryRun === true,
      });
    } catch (err) {
      // A dry run is the real run rolled back, so it needs what the real one needs: say so.
      if (nativeOptions.dryRun && err instanceof DatabaseError && err.code === "databaseReadOnly") {
        const why =
          "; a dry run needs write access too: it deletes the rows inside a transaction it rolls back and takes " +
          "msb's locks as a real prune does, so that its report is exactly the real one";
        throw withCallSite(new DatabaseError(err.message + why, err.code, err.sqliteCode), site);
      }
      throw err;
    }
    await progress.delivered(raw.progressEvents ?? 0);
    const removed = raw.removed.listsSent ? await early.withBytes(raw.removed) : await removedLists(raw);
    return { ...pruneReport(raw, removed), space: raw.space ?? null };
  }

  // keep as a function: asked on this thread about every image listed now; the references it keeps
  // join the policy's keep list, and only the images it was asked about may be taken (one pulled
  // meanwhile waits for the next run).
  async #askKeep(site: Site, checked: CheckedPruneOptions): Promise<void> {
    if (!checked.keepFns.some((fns) => fns.length > 0)) return;
    const images = await this.list({ signal: checked.signal });
    const judged = images.map((img) => img.reference);
    for (let i = 0; i < checked.keepFns.length; i++) {
      const fns = checked.keepFns[i]!;
      if (fns.length === 0) continue;
      const policy = checked.native.policies[i]!;
      const kept: string[] = [];
      for (const img of images) {
        for (const fn of fns) {
          const verdict: unknown = await fn(img); // a throw or rejection rejects prune(), nothing removed
          if (typeof verdict !== "boolean") {
            throw withCallSite(
              new TypeError(`prune(): "keep" must return a boolean (or a Promise of one), got ${typeof verdict} for ${img.reference}`),
              site,
            );
          }
          if (verdict) {
            kept.push(img.reference);
            break;
          }
        }
        if (checked.signal?.aborted) throw withCallSite(abortReason(checked.signal), site);
      }
      policy.keep = [...(policy.keep ?? []), ...kept];
      policy.judged = judged;
    }
  }

  /**
   * Checks the cache's files against its rows (missing or invalid files, VMDKs that do not match,
   * orphans, stale tmp entries, dangling manifests, snapshots without a manifest).
   * With `repair`, removes what nothing names and rewrites VMDKs that point into another home;
   * an abort during the repair resolves with what was done and `aborted: true`.
   */
  async verify(options?: VerifyOptions): Promise<VerifyReport> {
    const site = callSite(this.verify);
    let checked: ReturnType<typeof checkVerifyOptions>;
    try {
      checked = checkVerifyOptions(options);
    } catch (err) {
      throw withCallSite(err as Error, site);
    }
    const { signal, native: nativeOptions } = checked;
    const progress = new ProgressRelay(nativeOptions.onProgress);
    nativeOptions.onProgress = progress.callback;
    const raw = await this.#write(site, signal, (native, cancel) => native.verify(nativeOptions, cancel), {
      abortResolves: false,
      partialResolves: true,
    });
    await progress.delivered(raw.progressEvents);
    const { progressEvents: _, ...report } = raw;
    return report as VerifyReport;
  }

  /** Bytes on disk by kind and by image, and what prune() would reclaim now. */
  async diskUsage(options?: CallOptions): Promise<DiskUsage> {
    const site = callSite(this.diskUsage);
    const { signal } = checkCallOptions("diskUsage()", options);
    const raw = await this.#read(site, signal, (native, cancel) => native.diskUsage(cancel));
    const num = (v: number): number | null => (v === v ? v : null); // NaN marks null
    const { pins } = raw.images;
    const images = await fromColumns(
      raw.images,
      2,
      4,
      (r, i): DiskUsage["images"][number] => {
        const lastUsedAt = num(r.num(i, 0));
        return {
          reference: r.str(i, 0),
          manifestDigest: r.str(i, 1),
          lastUsedAt: lastUsedAt === null ? null : new Date(lastUsedAt),
          virtualBytes: num(r.num(i, 1)),
          uniqueBytes: r.num(i, 2),
          sharedBytes: r.num(i, 3),
          pinnedBy: pins[i] ?? [],
        };
      },
      signal,
      () => withCallSite(abortReason(signal!), site),
    );
    return { ...raw, images };
  }

  /**
   * Starts a collector: an unref'd timer that, when the cache's file system is used up to
   * `highWatermark`, prunes least recently used images down to `lowWatermark` (docs/collector.md).
   */
  startCollector(options?: CollectorOptions): Collector {
    return new Collector(this.#host, options);
  }

  /**
   * The cache's state and its collectors' counters in the Prometheus text format (serve it with
   * METRICS_CONTENT_TYPE). Walks the cache (one diskUsage()) and statfs's its file system.
   */
  async metrics(options?: CallOptions): Promise<string> {
    const site = callSite(this.metrics);
    const { signal } = checkCallOptions("metrics()", options);
    try {
      return renderMetrics(await snapshot(this.#host, { signal }));
    } catch (err) {
      throw withCallSite(err as Error, site);
    }
  }

  /** @internal What collectors and metrics use: this cache's prune, diskUsage and resolved paths. */
  get [hostKey](): CollectorHost {
    return this.#host;
  }

  readonly #host: CollectorHost = {
    owner: this,
    prune: (options) => this.prune(options),
    diskUsage: (options) => this.diskUsage(options),
    paths: async () => {
      const site = callSite(this.startCollector);
      try {
        return (await this.#getNative().paths()) as CachePaths;
      } catch (err) {
        throw withCallSite(fromNative(err), site);
      }
    },
  };

  /**
   * Closes the database connections. Later calls reject with CacheClosedError, except on the
   * shared `Image`, which a later call reopens (resolving its home again).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (!this.#reopenable) this.#closed = true;
    const native = this.#native;
    this.#native = undefined;
    if (native) await native.close();
  }

  #checkRef(reference: string, site: Site): string {
    try {
      return checkReference(reference);
    } catch (err) {
      throw withCallSite(err as Error, site);
    }
  }

  // The native cache is made at the first call, so `Image` resolves MSB_HOME then, as the
  // official SDK does.
  #getNative(): NativeImageCache {
    if (this.#closed) throw new CacheClosedError();
    if (!this.#native) {
      let userHome: string | undefined;
      try {
        userHome = os.homedir();
      } catch {
        userHome = undefined;
      }
      this.#native = new binding.NativeImageCache({
        ...this.#options,
        envMsbHome: process.env.MSB_HOME,
        envConfigPath: process.env.MSB_CONFIG_PATH,
        userHome,
      });
    }
    return this.#native;
  }

  // Reads: an abort rejects at once; the native result, if any, is dropped.
  async #read<T>(
    site: Site,
    signal: AbortSignal | undefined,
    start: (native: NativeImageCache, cancel: Int32Array | undefined) => Promise<T>,
  ): Promise<T> {
    if (signal?.aborted) throw withCallSite(abortReason(signal), site);
    let native: NativeImageCache;
    try {
      native = this.#getNative();
    } catch (err) {
      throw withCallSite(err as Error, site);
    }
    if (!signal) {
      try {
        return await start(native, undefined);
      } catch (err) {
        throw withCallSite(fromNative(err), site);
      }
    }
    const cancel = new Int32Array(new SharedArrayBuffer(4));
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        Atomics.store(cancel, 0, 1);
        reject(abortReason(signal));
      };
      signal.addEventListener("abort", onAbort, { once: true });
    });
    const work = start(native, cancel);
    try {
      return await Promise.race([work, aborted]);
    } catch (err) {
      throw withCallSite(err instanceof AbortError ? err : fromNative(err), site);
    } finally {
      signal.removeEventListener("abort", onAbort!);
      work.catch(() => {}); // settled after an abort: nobody waits for it
    }
  }

  // Writes: an abort is passed to the addon, which stops between steps. What was done is
  // returned with `aborted: true` (prune) or reported on the AbortError's `report` (remove).
  // `abortResolves`: an abort before anything changed resolves with an empty aborted report
  // (prune) instead of rejecting; `partialResolves`: a report with `aborted: true` resolves (verify).
  async #write<R extends { aborted: boolean }>(
    site: Site,
    signal: AbortSignal | undefined,
    start: (native: NativeImageCache, cancel: Int32Array | undefined) => Promise<R>,
    abort: { abortResolves: boolean; dryRun?: boolean; partialResolves?: boolean; report?: (raw: R) => unknown } = {
      abortResolves: false,
    },
  ): Promise<R> {
    if (signal?.aborted) throw withCallSite(abortReason(signal), site);
    let native: NativeImageCache;
    try {
      native = this.#getNative();
    } catch (err) {
      throw withCallSite(err as Error, site);
    }
    const cancel = signal ? new Int32Array(new SharedArrayBuffer(4)) : undefined;
    const onAbort = () => Atomics.store(cancel!, 0, 1);
    signal?.addEventListener("abort", onAbort, { once: true });
    let raw: R;
    try {
      raw = await start(native, cancel);
    } catch (err) {
      const e = fromNative(err);
      if (e instanceof AbortError && signal) {
        // Stopped before its transaction committed: nothing was changed.
        if (abort.abortResolves) return { ...emptyRawReport(), dryRun: abort.dryRun === true, aborted: true } as unknown as R;
        throw withCallSite(abortReason(signal), site);
      }
      throw withCallSite(e, site);
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
    if (raw.aborted && signal && !abort.abortResolves && !abort.partialResolves) {
      const report = abort.report ? abort.report(raw) : raw;
      throw withCallSite(new AbortError("the operation was aborted", { cause: signal.reason, report }), site);
    }
    return raw;
  }
}

const planOf = (report: ImagePruneReport) => checkPlanReport("ensureFree()", report);

// report.removed's lists, which arrive in columns (lib/columns.ts).
const removedReference = (r: ColumnReader, i: number) => ({
  reference: r.str(i, 0),
  manifestDigest: r.str(i, 1),
  policy: r.num(i, 0),
});
const removedManifest = (r: ColumnReader, i: number) => ({ digest: r.str(i, 0), bytes: r.num(i, 0) });
const removedLayer = (r: ColumnReader, i: number) => ({ diffId: r.str(i, 0), bytes: r.num(i, 0) });

async function removedLists(raw: RawRemovalReport): Promise<ImagePruneReport["removed"]> {
  return {
    references: await fromColumns(raw.removed.references, 2, 1, removedReference),
    manifests: await fromColumns(raw.removed.manifests, 1, 1, removedManifest),
    layers: await fromColumns(raw.removed.layers, 1, 1, removedLayer),
    files: raw.removed.files,
  };
}

/** The same at once, for a report attached to an error. */
function plainRemovalReport(raw: RawRemovalReport): Omit<RawRemovalReport, "removed"> & { removed: ImagePruneReport["removed"] } {
  return {
    ...raw,
    removed: {
      references: fromColumnsSync(raw.removed.references, 2, 1, removedReference),
      manifests: fromColumnsSync(raw.removed.manifests, 1, 1, removedManifest),
      layers: fromColumnsSync(raw.removed.layers, 1, 1, removedLayer),
      files: raw.removed.files,
    },
  };
}

function pruneReport(raw: RawRemovalReport, removed: ImagePruneReport["removed"]): Omit<ImagePruneReport, "space"> {
  return {
    imageRefsRemoved: raw.imageRefsRemoved,
    manifestsRemoved: raw.manifestsRemoved,
    layersRemoved: raw.layersRemoved,
    fsmetaRemoved: raw.fsmetaRemoved,
    vmdkRemoved: raw.vmdkRemoved,
    bytesReclaimed: raw.bytesReclaimed,
    layerFilesRemoved: raw.layerFilesRemoved,
    metadataRemoved: raw.metadataRemoved,
    flatRemoved: raw.flatRemoved,
    tmpRemoved: raw.tmpRemoved,
    skipped: raw.skipped,
    errors: raw.errors,
    dryRun: raw.dryRun,
    aborted: raw.aborted,
    removed,
  };
}

/**
 * prune's report.removed lists, made while the addon deletes the files: the addon sends the names
 * once the rows are gone (RemovedListsChannel, native/write_path/removal.h) and each manifest's and
 * layer's bytes with its result, in the same order.
 */
class EarlyRemovedLists {
  readonly callback = (lists: RawRemovedLists) => {
    this.#arrived(this.#make(lists));
  };
  #arrived!: (made: Promise<Omit<ImagePruneReport["removed"], "files">>) => void;
  readonly #made = new Promise<Omit<ImagePruneReport["removed"], "files">>((resolve) => (this.#arrived = resolve));

  async #make(lists: RawRemovedLists): Promise<Omit<ImagePruneReport["removed"], "files">> {
    return {
      references: await fromColumns(lists.references, 2, 1, removedReference),
      manifests: await fromColumns(lists.manifests, 1, 0, (r, i) => ({ digest: r.str(i, 0), bytes: 0 })),
      layers: await fromColumns(lists.layers, 1, 0, (r, i) => ({ diffId: r.str(i, 0), bytes: 0 })),
    };
  }

  /** The lists, with the bytes the result carries (one number per manifest and layer). */
  async withBytes(removed: RawRemovalReport["removed"]): Promise<ImagePruneReport["removed"]> {
    const made = await this.#made;
    const fill = (to: { bytes: number }[], bytes: Float64Array) => {
      for (let i = 0; i < to.length; i++) to[i]!.bytes = bytes[i]!;
    };
    fill(made.manifests, removed.manifests.numbers);
    fill(made.layers, removed.layers.numbers);
    return { ...made, files: removed.files };
  }
}

function emptyRawReport(): RawRemovalReport {
  return {
    imageRefsRemoved: 0,
    manifestsRemoved: 0,
    layersRemoved: 0,
    fsmetaRemoved: 0,
    vmdkRemoved: 0,
    bytesReclaimed: null,
    layerFilesRemoved: 0,
    metadataRemoved: 0,
    flatRemoved: 0,
    tmpRemoved: 0,
    aborted: false,
    dryRun: false,
    removed: { references: emptyColumns(), manifests: emptyColumns(), layers: emptyColumns(), files: [] },
    reference: null,
    manifestDigest: null,
    kept: [],
    skipped: [],
    errors: [],
  };
}

// onProgress events reach the JS thread independently of the result: the call resolves only
// once the addon's count of queued events has been delivered.
class ProgressRelay {
  readonly callback: NativeProgressFn | undefined;
  #count = 0;
  #expected = Infinity;
  #done: (() => void) | undefined;

  constructor(user: NativeProgressFn | undefined) {
    this.callback = user
      ? (event) => {
          this.#count++;
          try {
            user(event);
          } finally {
            if (this.#count >= this.#expected) this.#done?.();
          }
        }
      : undefined;
  }

  async delivered(expected: number): Promise<void> {
    this.#expected = expected;
    if (this.#count < expected) await new Promise<void>((resolve) => (this.#done = resolve));
  }
}
