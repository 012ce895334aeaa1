// `verify [--repair]`: ImageCache.verify() (format checks of every artifact, orphans, stale tmp
// entries, dangling manifests, VMDKs pointing elsewhere), as a table or JSON. Exit 0
// when nothing is left unrepaired, 1 otherwise (like fsck), 130 when interrupted.
import type { VerifyReport } from "../types";
import { type Context, EXIT_FAILED, EXIT_OK, Interrupted } from "./commands";
import { detailKvIndent, errorLine, formatBytes, successLine, toJsonPretty, warnLine } from "./format";
import { parseDuration } from "./args";
import { makeProgress } from "./progress";
import { findingsTable } from "./verify-table";

const LABELS = { scan: "Scanning", check: "Checking", repair: "Repairing" } as const;

function reportJson(r: VerifyReport): Record<string, unknown> {
  return {
    ok: r.ok,
    aborted: r.aborted,
    dry_run: r.dryRun,
    checked: { ...r.checked },
    repaired: { removed: r.repaired.removed, rewritten: r.repaired.rewritten, bytes_reclaimed: r.repaired.bytesReclaimed },
    findings: r.findings.map((f) => ({
      kind: f.kind,
      path: f.path,
      digest: f.digest,
      references: f.references,
      message: f.message,
      bytes: f.bytes,
      repairable: f.repairable,
      repaired: f.repaired,
    })),
    skipped: r.skipped.map((s) => ({ kind: s.kind, id: s.id, reason: s.reason })),
    errors: r.errors.map((e) => ({ kind: e.kind, id: e.id, message: e.message })),
  };
}

export async function verify(ctx: Context, repair: boolean, grace: string | undefined): Promise<number> {
  const graceMs = grace === undefined ? undefined : parseDuration(grace, "--grace <DUR>", ctx.usage);
  const progress = makeProgress(!ctx.quiet && !ctx.json);
  let r: VerifyReport;
  try {
    r = await ctx.cache.verify({
      repair,
      graceMs,
      signal: ctx.signal,
      onProgress: progress
        ? (e) => progress.update({ label: LABELS[e.phase], done: e.done, total: e.total, bytes: e.bytes, unit: "files" })
        : undefined,
    });
  } finally {
    progress?.stop();
  }
  const { st } = ctx;
  if (ctx.json) {
    ctx.out(toJsonPretty(reportJson(r)));
  } else if (!ctx.quiet) {
    const left = r.findings.filter((f) => !f.repaired);
    ctx.err(successLine(st, r.ok ? "Verified" : "Checked", "image cache"));
    ctx.out(detailKvIndent(st, "References", String(r.checked.references)));
    ctx.out(detailKvIndent(st, "Manifests", String(r.checked.manifests)));
    ctx.out(detailKvIndent(st, "Layers", String(r.checked.layers)));
    ctx.out(detailKvIndent(st, "Files", String(r.checked.files)));
    ctx.out(detailKvIndent(st, "Findings", `${r.findings.length}${repair ? ` (${r.findings.length - left.length} repaired)` : ""}`));
    if (repair && (r.repaired.removed > 0 || r.repaired.rewritten > 0)) {
      ctx.out(detailKvIndent(st, "Removed", String(r.repaired.removed)));
      ctx.out(detailKvIndent(st, "Rewritten", String(r.repaired.rewritten)));
      ctx.out(detailKvIndent(st, "Reclaimed", formatBytes(r.repaired.bytesReclaimed)));
    }
    if (r.findings.length > 0) {
      ctx.out("");
      ctx.write(findingsTable(r.findings, st)); // fits 120 columns; --format json has the full paths
      if (!repair && r.findings.some((f) => f.repairable && !f.repaired)) {
        ctx.err(warnLine(st, "run with --repair to remove orphan files and stale tmp entries, and to rewrite VMDKs that point elsewhere"));
      }
    }
    if (r.skipped.length > 0) {
      const by = new Map<string, number>();
      for (const x of r.skipped) by.set(x.reason, (by.get(x.reason) ?? 0) + 1);
      const why = [...by].map(([reason, n]) => `${reason}: ${n}`).join(", ");
      ctx.err(warnLine(st, `${r.skipped.length} item${r.skipped.length === 1 ? "" : "s"} not checked or not repaired (${why}); --format json lists them`));
    }
    for (const e of r.errors) ctx.err(errorLine(st, `${e.kind} ${e.id}: ${e.message}`));
  }
  if (r.aborted) throw new Interrupted("interrupted; the report above covers what was checked");
  return r.ok && r.errors.length === 0 ? EXIT_OK : EXIT_FAILED;
}
