// `msb-image-cache gc`: the collector as a long-lived command (for hosts without a Node service). One line
// per run (or JSON lines), errors logged and survived, SIGTERM/SIGINT stop it cleanly (a run in progress
// stops at its next safe point; exit 0), optionally /metrics over HTTP.
import * as http from "node:http";
import type { AddressInfo } from "node:net";

import type { CollectorOptions, CollectorRunReport } from "../collector";
import { METRICS_CONTENT_TYPE } from "../metrics";
import { UsageError, parseDuration } from "./args";
import { type Context, EXIT_OK, pruneOptions } from "./commands";
import { errorLine, formatBytes } from "./format";

type Values = Record<string, string | boolean | string[] | undefined>;

/** "127.0.0.1:9477", "[::1]:9477", "localhost:9477", ":9477" (loopback) → host and port. */
export function parseListenAddress(text: string, usage: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new UsageError(`invalid value '${text}' for '--metrics-address <ADDR>': expected HOST:PORT such as 127.0.0.1:9477 (or [::1]:9477)`, usage);
  }
  return { host: m[1] ?? (m[2] || "127.0.0.1"), port };
}

/** --high/--low pass as given ("85%", "400GiB"): the collector checks them as it starts. */
function mark(values: Values, flag: string): string | undefined {
  const v = values[flag];
  return typeof v === "string" ? v : undefined;
}

export function gcOptions(values: Values, usage: string): CollectorOptions {
  // prune's own flags (--keep, --filter, --min-age, --max-size, --min-free, --reserved, …), parsed as prune parses them
  const out: CollectorOptions = { ...pruneOptions(values, usage).options };
  if (typeof values.interval === "string") out.interval = parseDuration(values.interval, "--interval <DUR>", usage);
  if (typeof values["max-backoff"] === "string") out.maxBackoff = parseDuration(values["max-backoff"], "--max-backoff <DUR>", usage);
  const high = mark(values, "high");
  const low = mark(values, "low");
  if (high !== undefined) out.highWatermark = high;
  if (low !== undefined) out.lowWatermark = low;
  return out;
}

const pct = (used: number, size: number) => (size > 0 ? `${((used / size) * 100).toFixed(1)}%` : "-");

function runLine(r: CollectorRunReport): string {
  const t = r.startedAt.toISOString();
  const how = `${(r.durationMs / 1000).toFixed(2)} s (${r.trigger})`;
  if (r.busy) return `${t} gc: another prune of this cache is running; retrying at the next tick`;
  if (r.error) return `${t} gc: run failed (${how}): ${r.error.message}`;
  const p = r.prune;
  const removed = p ? `removed ${p.imageRefsRemoved} image${p.imageRefsRemoved === 1 ? "" : "s"} (${formatBytes(p.bytesReclaimed ?? 0)})` : "removed nothing";
  const usage = r.after ? `used ${pct(r.before.used, r.before.size)} → ${pct(r.after.used, r.after.size)}` : "";
  const marks = `high ${pct(r.highBytes, r.before.size)}, low ${pct(r.lowBytes, r.before.size)}`;
  const tail = r.aborted ? "; stopped part-way" : r.reachedLow ? "" : `; could not reach the low mark, next try in ${(r.backoffMs / 1000).toFixed(0)} s or when the database changes`;
  return `${t} gc: ${removed} in ${how}; ${usage} (${marks})${tail}`;
}

function runJson(r: CollectorRunReport): Record<string, unknown> {
  return {
    event: "run",
    time: r.startedAt.toISOString(),
    trigger: r.trigger,
    durationMs: Math.round(r.durationMs * 1000) / 1000,
    imagesRemoved: r.prune?.imageRefsRemoved ?? 0,
    bytesReclaimed: r.prune?.bytesReclaimed ?? 0,
    references: r.prune?.removed.references.map((x) => x.reference) ?? [],
    before: r.before,
    after: r.after,
    highBytes: r.highBytes,
    lowBytes: r.lowBytes,
    target: r.target,
    reachedLow: r.reachedLow,
    busy: r.busy,
    aborted: r.aborted,
    backoffMs: r.backoffMs,
    error: r.error ? { message: r.error.message, code: (r.error as { code?: string }).code ?? null } : null,
  };
}

export async function gc(ctx: Context, values: Values): Promise<number> {
  const options = gcOptions(values, ctx.usage);
  const address = typeof values["metrics-address"] === "string" ? parseListenAddress(values["metrics-address"], ctx.usage) : null;
  const collector = ctx.cache.startCollector(options);
  const line = (obj: Record<string, unknown>, text: string, toErr = false) => {
    if (ctx.json) ctx.out(JSON.stringify(obj));
    else if (toErr) ctx.err(text);
    else if (!ctx.quiet) ctx.out(text);
  };
  collector.on("run", (r) => (r.error ? undefined : line(runJson(r), runLine(r))));
  collector.on("error", (e) => {
    const code = (e as { code?: string }).code ?? null;
    line({ event: "error", time: new Date().toISOString(), message: e.message, code }, errorLine(ctx.st, `gc: ${e.message}`), true);
  });

  let server: http.Server | null = null;
  if (address) {
    server = http.createServer((req, res) => {
      const path = (req.url ?? "/").split("?")[0];
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.writeHead(405, { allow: "GET, HEAD" }).end();
        return;
      }
      if (path !== "/metrics") {
        res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found; the metrics are at /metrics\n");
        return;
      }
      ctx.cache.metrics().then(
        (text) => res.writeHead(200, { "content-type": METRICS_CONTENT_TYPE }).end(req.method === "HEAD" ? undefined : text),
        (e: Error) => res.writeHead(500, { "content-type": "text/plain; charset=utf-8" }).end(`${e.message}\n`),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server!.once("error", reject);
      server!.listen(address.port, address.host, () => resolve());
    }).catch(async (e: NodeJS.ErrnoException) => {
      await collector.stop();
      throw new UsageError(`cannot listen on ${values["metrics-address"]}: ${e.code ?? e.message}`, ctx.usage);
    });
    const a = server.address() as AddressInfo;
    const shown = a.family === "IPv6" ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
    line({ event: "listening", url: `http://${shown}/metrics` }, `gc: serving metrics on http://${shown}/metrics`, true);
  }
  line(
    { event: "start", time: new Date().toISOString(), intervalMs: collector.interval },
    `gc: checking every ${(collector.interval / 1000).toFixed(collector.interval % 1000 ? 1 : 0)} s; stop with SIGTERM or Ctrl-C`,
    true,
  );

  // The collector's timer never keeps a process alive; this command exists to keep it running.
  const keepAlive = setInterval(() => {}, 1 << 30);
  await new Promise<void>((resolve) => {
    const stop = (why: string) => {
      process.off("SIGTERM", onTerm);
      ctx.signal.removeEventListener("abort", onInt);
      line({ event: "stop", time: new Date().toISOString(), signal: why }, `gc: ${why}; stopping`, true);
      resolve();
    };
    const onTerm = () => stop("SIGTERM");
    const onInt = () => stop("SIGINT");
    process.on("SIGTERM", onTerm);
    if (ctx.signal.aborted) onInt();
    else ctx.signal.addEventListener("abort", onInt, { once: true });
  });
  // A run in progress stops at its next safe point (what it removed stays removed and is logged).
  await collector.stop({ abort: true });
  clearInterval(keepAlive);
  if (server) {
    const closed = new Promise<void>((resolve) => server!.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }
  return EXIT_OK;
}
