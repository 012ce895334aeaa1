// The commands. Where msb 0.6.18 has the same command (`msb image ls|inspect|rm|prune`), the
// output is msb's, byte for byte: same streams, table, sizes, times, JSON keys, messages, codes.
import type { ImageCache } from "../cache";
import { AbortError } from "../errors";
import { type ImageDetail, type ImageHandle, preciseTimes } from "../image";
import type { DiskUsage, ImagePruneReport, ImageRemoveReport, PruneOptions, PruneProgress, ResolvedTargets } from "../types";
import { UsageError, parseDuration, parseFilters, parseSizeOrShare } from "./args";
import {
  type Styler,
  detailKv,
  detailKvIndent,
  errorLine,
  formatBytes,
  formatDuration,
  formatLocal,
  formatRfc3339,
  renderTable,
  successLine,
  toJsonPretty,
  truncateDigest,
  warnLine,
} from "./format";
import { type ProgressLine, makeProgress } from "./progress";

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;

export interface Context {
  cache: ImageCache;
  json: boolean;
  quiet: boolean;
  st: Styler;
  signal: AbortSignal;
  /** Writes a line to stdout / stderr. */
  out(line: string): void;
  err(line: string): void;
  /** Raw write to stdout (tables end with their own newline). */
  write(text: string): void;
  /** Reads one line from stdin after printing `prompt` on stderr; null when interrupted. */
  ask(prompt: string): Promise<string | null>;
  stdinIsTTY: boolean;
  usage: string;
}

export class Interrupted extends Error {}

const orDash = <T>(v: T | null | undefined, f: (v: T) => string) => (v === null || v === undefined ? "-" : f(v));

function progressFor(ctx: Context): ProgressLine | null {
  return makeProgress(!ctx.quiet && !ctx.json);
}

// ---- ls --------------------------------------------------------------------------------------

function imageJson(h: ImageHandle): Record<string, unknown> {
  const t = preciseTimes(h);
  return {
    reference: h.reference,
    digest: h.manifestDigest,
    size_bytes: h.sizeBytes,
    architecture: h.architecture,
    os: h.os,
    layer_count: h.layerCount,
    created_at: t.createdAt === null ? null : formatRfc3339(t.createdAt),
    // Not in msb's output (extra keys only, none renamed): when the image was last pulled or used.
    last_used_at: t.lastUsedAt === null ? null : formatRfc3339(t.lastUsedAt),
  };
}

export async function ls(ctx: Context): Promise<number> {
  const images = await ctx.cache.list({ signal: ctx.signal });
  if (ctx.json) {
    ctx.out(toJsonPretty(images.map(imageJson)));
    return EXIT_OK;
  }
  if (ctx.quiet) {
    for (const h of images) ctx.out(h.reference);
    return EXIT_OK;
  }
  if (images.length === 0) {
    ctx.err("No images found.");
    return EXIT_OK;
  }
  const rows = images.map((h) => [
    h.reference,
    orDash(h.manifestDigest, truncateDigest),
    orDash(h.sizeBytes, formatBytes),
    orDash(h.createdAt, (d) => formatLocal(d.getTime())),
  ]);
  ctx.write(renderTable(["REFERENCE", "DIGEST", "SIZE", "CREATED"], rows, ctx.st));
  return EXIT_OK;
}

// ---- inspect ---------------------------------------------------------------------------------

export async function inspect(ctx: Context, reference: string): Promise<number> {
  const d: ImageDetail = await ctx.cache.inspect(reference, { signal: ctx.signal });
  if (ctx.json) {
    const c = d.config;
    ctx.out(
      toJsonPretty({
        ...imageJson(d),
        config:
          c === null
            ? null
            : {
                digest: c.digest,
                env: c.env,
                cmd: c.cmd,
                entrypoint: c.entrypoint,
                working_dir: c.workingDir,
                user: c.user,
                labels: c.labels,
                stop_signal: c.stopSignal,
              },
        layers: d.layers.map((l) => ({
          diff_id: l.diffId,
          blob_digest: l.blobDigest,
          media_type: l.mediaType,
          compressed_size_bytes: l.compressedSizeBytes,
          // msb always prints null here (it never fills the column); this is the layer file's size
          // from its EROFS superblock, null when the file is missing or not valid EROFS.
          erofs_size_bytes: l.erofsSizeBytes,
          position: l.position,
        })),
      }),
    );
    return EXIT_OK;
  }
  if (ctx.quiet) {
    ctx.out(d.manifestDigest ?? "-");
    return EXIT_OK;
  }
  const { st } = ctx;
  ctx.out(detailKv(st, "Reference", d.reference));
  ctx.out(detailKv(st, "Digest", d.manifestDigest ?? "-"));
  ctx.out(detailKv(st, "Architecture", d.architecture ?? "-"));
  ctx.out(detailKv(st, "OS", d.os ?? "-"));
  ctx.out(detailKv(st, "Size", orDash(d.sizeBytes, formatBytes)));
  ctx.out(detailKv(st, "Created", orDash(d.createdAt, (t) => formatLocal(t.getTime()))));
  const c = d.config;
  if (c) {
    ctx.out("");
    ctx.out(st.bold("Config"));
    ctx.out(detailKvIndent(st, "Entrypoint", orDash(c.entrypoint, (v) => v.join(" "))));
    ctx.out(detailKvIndent(st, "Cmd", orDash(c.cmd, (v) => v.join(" "))));
    ctx.out(detailKvIndent(st, "WorkingDir", c.workingDir ?? "-"));
    ctx.out(detailKvIndent(st, "User", c.user ?? "-"));
    if (c.env.length > 0) {
      ctx.out(`  ${st.dim("Env:")}`);
      for (const v of c.env) ctx.out(`    ${v}`);
    }
  }
  if (d.layers.length > 0) {
    ctx.out("");
    ctx.out(st.bold(`Layers (${d.layers.length})`));
    for (const l of d.layers) {
      // msb's `{:<4}{:<16}{:<10}{}`: the 19-character short digest overflows its 16 columns.
      const pos = String(l.position + 1).padEnd(4);
      const digest = truncateDigest(l.blobDigest).padEnd(16);
      const size = orDash(l.compressedSizeBytes, formatBytes).padEnd(10);
      ctx.out(`  ${pos}${digest}${size}${l.mediaType ?? "-"}`);
    }
  }
  return EXIT_OK;
}

// ---- rm --------------------------------------------------------------------------------------

function reportJson(r: Omit<ImagePruneReport, "space"> & { space?: ImagePruneReport["space"] }): Record<string, unknown> {
  return {
    image_refs_removed: r.imageRefsRemoved,
    manifests_removed: r.manifestsRemoved,
    layers_removed: r.layersRemoved,
    fsmeta_removed: r.fsmetaRemoved,
    vmdk_removed: r.vmdkRemoved,
    bytes_reclaimed: r.bytesReclaimed,
    // Beyond msb's six:
    layer_files_removed: r.layerFilesRemoved,
    metadata_removed: r.metadataRemoved,
    flat_removed: r.flatRemoved,
    tmp_removed: r.tmpRemoved,
    dry_run: r.dryRun,
    aborted: r.aborted,
    removed: {
      references: r.removed.references.map((x) => ({ reference: x.reference, manifest_digest: x.manifestDigest, policy: x.policy })),
      manifests: r.removed.manifests.map((x) => ({ digest: x.digest, bytes: x.bytes })),
      layers: r.removed.layers.map((x) => ({ diff_id: x.diffId, bytes: x.bytes })),
    },
    skipped: r.skipped.map((x) => ({ kind: x.kind, id: x.id, reason: x.reason })),
    errors: r.errors.map((x) => ({ kind: x.kind, id: x.id, message: x.message })),
    ...(r.space === undefined ? {} : { space: spaceJson(r.space) }),
  };
}

function spaceJson(s: ImagePruneReport["space"]): Record<string, unknown> | null {
  if (!s) return null;
  const targets = (t: ResolvedTargets) => ({ max_bytes: t.maxBytes, min_free_space: t.minFreeSpace, reserved_space: t.reservedSpace });
  return {
    bytes_before: s.bytesBefore,
    bytes_after: s.bytesAfter,
    fs_size: s.fsSize,
    fs_free_before: s.fsFreeBefore,
    fs_free_after: s.fsFreeAfter,
    budget: targets(s.budget),
    targets: s.targets.map(targets),
    met: s.met,
  };
}

function removeJson(reference: string, r: ImageRemoveReport | null, error: string | null): Record<string, unknown> {
  if (!r) return { reference, removed: false, error };
  return {
    ...reportJson(r),
    reference,
    stored_reference: r.reference,
    manifest_digest: r.manifestDigest,
    manifest_removed: r.manifestRemoved,
    kept: r.kept.map((x) => ({ kind: x.kind, id: x.id, reason: x.reason })),
    removed: true,
    error: null,
  };
}

export async function rm(ctx: Context, references: string[], force: boolean): Promise<number> {
  const table = !ctx.json;
  let failed = false;
  const results: Record<string, unknown>[] = [];
  for (const reference of references) {
    const started = performance.now();
    try {
      const report = await ctx.cache.remove(reference, { force, signal: ctx.signal });
      const elapsed = performance.now() - started;
      if (table && !ctx.quiet) ctx.err(successLine(ctx.st, "Removed", reference, elapsed > 500 ? ` (${formatDuration(elapsed)})` : ""));
      results.push(removeJson(reference, report, null));
      for (const e of report.errors) {
        failed = true;
        if (table && !ctx.quiet) ctx.err(errorLine(ctx.st, `could not delete ${e.kind} ${e.id}: ${e.message}`));
      }
    } catch (err) {
      if (err instanceof AbortError || ctx.signal.aborted) {
        if (ctx.json) ctx.out(toJsonPretty(results));
        throw new Interrupted(`interrupted; removed ${results.length} of ${references.length} references`);
      }
      failed = true;
      const message = (err as Error).message;
      if (table && !ctx.quiet) ctx.err(errorLine(ctx.st, message));
      results.push(removeJson(reference, null, message));
    }
  }
  if (ctx.json) ctx.out(toJsonPretty(results));
  if (failed) {
    ctx.err(errorLine(ctx.st, "some images failed to remove"));
    return EXIT_FAILED;
  }
  return EXIT_OK;
}

// ---- prune -----------------------------------------------------------------------------------

type Values = Record<string, string | boolean | string[] | undefined>;

export function pruneOptions(values: Values, usage: string): { options: PruneOptions; policy: boolean } {
  const options: PruneOptions = {};
  if (typeof values["older-than"] === "string") options.olderThan = parseDuration(values["older-than"], "--older-than <DUR>", usage);
  if (typeof values["min-age"] === "string") options.minAge = parseDuration(values["min-age"], "--min-age <DUR>", usage);
  if (typeof values["max-size"] === "string") options.maxBytes = parseSizeOrShare(values["max-size"], "--max-size <SIZE>", usage);
  if (typeof values["min-free"] === "string") options.minFreeSpace = parseSizeOrShare(values["min-free"], "--min-free <SIZE>", usage);
  if (typeof values.reserved === "string") options.reservedSpace = parseSizeOrShare(values.reserved, "--reserved <SIZE>", usage);
  const keep = (values.keep as string[] | undefined) ?? [];
  if (keep.length > 0) options.keep = keep;
  const filter = parseFilters((values.filter as string[] | undefined) ?? [], usage);
  if (filter) options.filter = filter;
  const policy = Object.keys(options).length > 0;
  if (typeof values.grace === "string") options.graceMs = parseDuration(values.grace, "--grace <DUR>", usage);
  return { options, policy };
}

function onPruneProgress(progress: ProgressLine | null, dryRun: boolean) {
  if (!progress) return undefined;
  return (e: PruneProgress) =>
    progress.update(
      e.phase === "rows"
        ? { label: dryRun ? "Planning" : "Pruning", done: e.done, total: e.total, bytes: 0, unit: "rows" }
        : { label: dryRun ? "Measuring" : "Deleting", done: e.done, total: e.total, bytes: e.bytes, unit: "files" },
    );
}

// msb's test (its five counts), plus flat/ and tmp/ files, which msb never prunes.
const nothingRemoved = (r: ImagePruneReport) =>
  r.imageRefsRemoved === 0 &&
  r.manifestsRemoved === 0 &&
  r.layersRemoved === 0 &&
  r.fsmetaRemoved === 0 &&
  r.vmdkRemoved === 0 &&
  r.flatRemoved === 0 &&
  r.tmpRemoved === 0;

async function runPrune(ctx: Context, options: PruneOptions): Promise<ImagePruneReport> {
  const progress = progressFor(ctx);
  try {
    return await ctx.cache.prune({ ...options, signal: ctx.signal, onProgress: onPruneProgress(progress, options.dryRun === true) });
  } finally {
    progress?.stop();
  }
}

export async function prune(ctx: Context, values: Values): Promise<number> {
  const { options, policy } = pruneOptions(values, ctx.usage);
  const dryRun = values["dry-run"] === true;
  let plan: ImagePruneReport | undefined;

  if (!dryRun && values.yes !== true) {
    if (!ctx.stdinIsTTY) {
      ctx.err(errorLine(ctx.st, "non-interactive terminal; use --yes to prune cached images"));
      return EXIT_FAILED;
    }
    let prompt = "Remove all cached images not used by sandboxes? [y/N] ";
    if (policy) {
      // With a policy the question names what would go; the real run then takes only that plan.
      plan = await runPrune(ctx, { ...options, dryRun: true });
      if (plan.aborted) throw new Interrupted("interrupted; nothing was removed");
      if (plan.removed.references.length === 0 && nothingRemoved(plan)) {
        if (!ctx.quiet && !ctx.json) ctx.err("Nothing to prune.");
        if (ctx.json) ctx.out(toJsonPretty(reportJson(plan)));
        return EXIT_OK;
      }
      const n = plan.removed.references.length;
      if (!ctx.quiet) for (const line of spaceLines(ctx.st, plan.space)) ctx.err(line);
      prompt = `Remove ${n} cached image reference${n === 1 ? "" : "s"} (${formatBytes(plan.bytesReclaimed ?? 0)}) not used by sandboxes? [y/N] `;
    }
    const answer = await ctx.ask(prompt);
    if (answer === null) throw new Interrupted("interrupted; nothing was removed");
    if (answer.trim().toLowerCase() !== "y") {
      if (!ctx.quiet) ctx.err("Aborted.");
      return EXIT_OK;
    }
  }

  const report = await runPrune(ctx, { ...options, dryRun, plan });
  return printPruneReport(ctx, report);
}

/**
 * The cache's size on disk now → after, the budget, and the file system's free space now → after
 * (a dry run: predicted from the files it would unlink), for the prompt and the report.
 */
const hasBudget = (s: ImagePruneReport["space"]) =>
  s !== null && (s.budget.maxBytes !== null || s.budget.minFreeSpace !== null || s.budget.reservedSpace !== null);

function spaceLines(st: Context["st"], s: ImagePruneReport["space"]): string[] {
  if (!s) return [];
  const lines: string[] = [];
  if (s.bytesBefore !== null && s.bytesAfter !== null) {
    lines.push(detailKvIndent(st, "On disk", `${formatBytes(s.bytesBefore)} → ${formatBytes(s.bytesAfter)}`));
  }
  const goals: string[] = [];
  if (s.budget.maxBytes !== null) goals.push(`at most ${formatBytes(s.budget.maxBytes)}`);
  if (s.budget.minFreeSpace !== null) goals.push(`${formatBytes(s.budget.minFreeSpace)} free`);
  if (s.budget.reservedSpace !== null) goals.push(`never below ${formatBytes(s.budget.reservedSpace)}`);
  if (goals.length > 0) lines.push(detailKvIndent(st, "Budget", `${goals.join(", ")}${s.met ? "" : " (not reached)"}`));
  if (s.fsFreeBefore !== null && s.fsFreeAfter !== null && s.fsSize !== null) {
    lines.push(detailKvIndent(st, "FS free", `${formatBytes(s.fsFreeBefore)} → ${formatBytes(s.fsFreeAfter)} of ${formatBytes(s.fsSize)}`));
  }
  return lines;
}

function printPruneReport(ctx: Context, r: ImagePruneReport): number {
  const { st } = ctx;
  if (ctx.json) {
    ctx.out(toJsonPretty(reportJson(r)));
  } else if (ctx.quiet) {
    if (r.dryRun) for (const x of r.removed.references) ctx.out(x.reference);
  } else if (nothingRemoved(r)) {
    if (!r.aborted) ctx.err("Nothing to prune.");
  } else {
    ctx.err(successLine(st, r.dryRun ? "Would prune" : "Pruned", "image cache"));
    ctx.out(detailKvIndent(st, "Image refs", String(r.imageRefsRemoved)));
    ctx.out(detailKvIndent(st, "Manifests", String(r.manifestsRemoved)));
    ctx.out(detailKvIndent(st, "Layers", String(r.layersRemoved)));
    if (r.fsmetaRemoved > 0) ctx.out(detailKvIndent(st, "Fsmeta", String(r.fsmetaRemoved)));
    if (r.vmdkRemoved > 0) ctx.out(detailKvIndent(st, "VMDK", String(r.vmdkRemoved)));
    // msb never prunes flat/ or tmp/: these lines appear only when this tool did.
    if (r.flatRemoved > 0) ctx.out(detailKvIndent(st, "Flat", String(r.flatRemoved)));
    if (r.tmpRemoved > 0) ctx.out(detailKvIndent(st, "Tmp", String(r.tmpRemoved)));
    if (r.bytesReclaimed !== null) ctx.out(detailKvIndent(st, r.dryRun ? "Reclaimable" : "Reclaimed", formatBytes(r.bytesReclaimed)));
    // msb's summary stays as msb prints it unless this run had a budget or is a preview.
    if (r.dryRun || hasBudget(r.space)) for (const line of spaceLines(st, r.space)) ctx.out(line);
    if (r.dryRun) {
      ctx.out("");
      ctx.out(st.bold(`Would remove (${r.removed.references.length})`));
      for (const x of r.removed.references) ctx.out(`  ${x.reference}`);
    }
  }
  if (r.dryRun && !ctx.quiet && !ctx.json) {
    const kept = r.skipped.filter((s) => s.kind === "reference");
    if (kept.length > 0) {
      ctx.out("");
      ctx.out(st.bold(`Would keep (${kept.length})`));
      const w = Math.max(...kept.map((s) => s.id.length));
      for (const s of kept) ctx.out(`  ${s.id.padEnd(w)}    ${s.reason}`);
    }
  }
  if (!r.dryRun && !ctx.json && !ctx.quiet) {
    const locked = r.skipped.filter((s) => s.kind !== "reference");
    if (locked.length > 0) {
      const why = [...new Set(locked.map((s) => s.reason))].join(", ");
      ctx.err(warnLine(st, `${locked.length} file${locked.length === 1 ? "" : "s"} left in place (${why}); a later prune takes them`));
    }
    for (const e of r.errors) ctx.err(errorLine(st, `could not delete ${e.kind} ${e.id}: ${e.message}`));
  }
  if (r.aborted) {
    throw new Interrupted(r.dryRun || nothingRemoved(r) ? "interrupted; nothing was removed" : "interrupted; the counts above are what was removed");
  }
  return r.errors.length > 0 ? EXIT_FAILED : EXIT_OK;
}

// ---- df --------------------------------------------------------------------------------------

function diskUsageJson(u: DiskUsage): Record<string, unknown> {
  return {
    total_bytes: u.totalBytes,
    allocated_bytes: u.allocatedBytes,
    reclaimable_bytes: u.reclaimableBytes,
    by_kind: { ...u.byKind },
    images: u.images.map((i) => ({
      reference: i.reference,
      digest: i.manifestDigest,
      last_used_at: i.lastUsedAt === null ? null : formatRfc3339(i.lastUsedAt.getTime()),
      virtual_bytes: i.virtualBytes,
      unique_bytes: i.uniqueBytes,
      shared_bytes: i.sharedBytes,
      pinned_by: i.pinnedBy,
    })),
  };
}

export async function df(ctx: Context, verbose: boolean): Promise<number> {
  // diskUsage() reports no progress events: a spinner shows it is working.
  const progress = progressFor(ctx);
  progress?.update({ label: "Measuring", done: 0, total: 0, bytes: 0, unit: "" });
  let u: DiskUsage;
  try {
    u = await ctx.cache.diskUsage({ signal: ctx.signal });
  } finally {
    progress?.stop();
  }
  if (ctx.json) {
    ctx.out(toJsonPretty(diskUsageJson(u)));
    return EXIT_OK;
  }
  if (ctx.quiet) {
    ctx.out(String(u.totalBytes));
    return EXIT_OK;
  }
  const { st } = ctx;
  const kinds: [keyof DiskUsage["byKind"], string][] = [
    ["layers", "layers (EROFS)"],
    ["fsmeta", "fsmeta"],
    ["vmdk", "vmdk"],
    ["metadata", "metadata (JSON)"],
    ["flat", "flat"],
    ["tmp", "tmp"],
    ["orphans", "orphans"],
    ["locks", "locks"],
  ];
  ctx.write(renderTable(["KIND", "SIZE"], kinds.map(([k, label]) => [label, formatBytes(u.byKind[k])]), st));
  ctx.out("");
  ctx.out(detailKv(st, "Total", `${formatBytes(u.totalBytes)} (apparent)`));
  ctx.out(detailKv(st, "On disk", `${formatBytes(u.allocatedBytes)} (allocated: what prune --max-size and --reserved measure)`));
  ctx.out(detailKv(st, "Reclaimable", `${formatBytes(u.reclaimableBytes)} (by prune)`));
  ctx.out(detailKv(st, "Images", String(u.images.length)));
  if (verbose && u.images.length > 0) {
    ctx.out("");
    const rows = u.images.map((i) => [
      i.reference,
      truncateDigest(i.manifestDigest),
      orDash(i.virtualBytes, formatBytes),
      formatBytes(i.uniqueBytes),
      formatBytes(i.sharedBytes),
      orDash(i.lastUsedAt, (d) => formatLocal(d.getTime())),
      i.pinnedBy.length > 0 ? i.pinnedBy.join(",") : "-",
    ]);
    ctx.write(renderTable(["REFERENCE", "DIGEST", "VIRTUAL", "UNIQUE", "SHARED", "LAST USED", "PINNED BY"], rows, st));
  }
  return EXIT_OK;
}

export { UsageError };
