// The cache's state and its collectors' work as Prometheus metrics: the text exposition format
// (cache.metrics(), for a scraper or `msb-image-cache gc --metrics-address`) and the same metrics
// registered in a prom-client registry (registerPromClient), without depending on prom-client.
import { Collector, type CollectorHost, type CollectorStats, collectorTotals, hostOf, statfsOf } from "./collector";
import type { CallOptions, DiskUsage } from "./types";

/** The Content-Type of cache.metrics()'s text (Prometheus text format 0.0.4). */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** One scrape's numbers. */
export interface MetricsSnapshot {
  bytesByKind: DiskUsage["byKind"];
  allocatedBytes: number;
  images: number;
  pinnedImages: number;
  reclaimableBytes: number;
  filesystem: { size: number; free: number };
  collector: CollectorStats;
}

type Sample = { labels?: Record<string, string>; value: number };

/** @internal Name, help, type and samples of every metric, in exposition order. */
export interface MetricFamily {
  name: string;
  help: string;
  type: "gauge" | "counter";
  samples: (s: MetricsSnapshot) => Sample[];
}

const P = "msb_image_cache_";

export const METRIC_FAMILIES: readonly MetricFamily[] = [
  {
    name: `${P}bytes`,
    help: "Bytes of the image cache's files by kind (apparent sizes).",
    type: "gauge",
    samples: (s) => Object.entries(s.bytesByKind).map(([kind, value]) => ({ labels: { kind }, value })),
  },
  { name: `${P}allocated_bytes`, help: "Bytes allocated on disk to the image cache's files.", type: "gauge", samples: (s) => [{ value: s.allocatedBytes }] },
  { name: `${P}images`, help: "Cached image references.", type: "gauge", samples: (s) => [{ value: s.images }] },
  { name: `${P}pinned_images`, help: "Cached image references used by a sandbox or a snapshot.", type: "gauge", samples: (s) => [{ value: s.pinnedImages }] },
  { name: `${P}reclaimable_bytes`, help: "Bytes a prune with no options would reclaim now.", type: "gauge", samples: (s) => [{ value: s.reclaimableBytes }] },
  { name: `${P}filesystem_size_bytes`, help: "Size of the file system that holds the cache.", type: "gauge", samples: (s) => [{ value: s.filesystem.size }] },
  {
    name: `${P}filesystem_free_bytes`,
    help: "Bytes available to unprivileged users on the file system that holds the cache.",
    type: "gauge",
    samples: (s) => [{ value: s.filesystem.free }],
  },
  { name: `${P}collector_checks_total`, help: "Idle checks made by the cache's collectors.", type: "counter", samples: (s) => [{ value: s.collector.checks }] },
  { name: `${P}collector_runs_total`, help: "Collections run by the cache's collectors.", type: "counter", samples: (s) => [{ value: s.collector.runs }] },
  {
    name: `${P}collector_removed_images_total`,
    help: "Image references removed by the cache's collectors.",
    type: "counter",
    samples: (s) => [{ value: s.collector.imagesRemoved }],
  },
  {
    name: `${P}collector_removed_bytes_total`,
    help: "Bytes reclaimed by the cache's collectors.",
    type: "counter",
    samples: (s) => [{ value: s.collector.bytesRemoved }],
  },
  { name: `${P}collector_failures_total`, help: "Failed checks and collections of the cache's collectors.", type: "counter", samples: (s) => [{ value: s.collector.failures }] },
  {
    name: `${P}collector_last_run_duration_seconds`,
    help: "Duration of the last collection.",
    type: "gauge",
    samples: (s) => (s.collector.lastRunDurationMs === null ? [] : [{ value: s.collector.lastRunDurationMs / 1000 }]),
  },
];

/** @internal One diskUsage() (a walk of the cache), one statfs and the collectors' counters. */
export async function snapshot(host: CollectorHost, options?: CallOptions): Promise<MetricsSnapshot> {
  const [usage, paths] = await Promise.all([host.diskUsage(options), host.paths()]);
  const fs = await statfsOf(paths.cacheDir);
  return {
    bytesByKind: usage.byKind,
    allocatedBytes: usage.allocatedBytes,
    images: usage.images.length,
    pinnedImages: usage.images.filter((i) => i.pinnedBy.length > 0).length,
    reclaimableBytes: usage.reclaimableBytes,
    filesystem: { size: fs.size, free: fs.free },
    collector: collectorTotals(host.owner),
  };
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/** @internal The text exposition format of a snapshot. */
export function renderMetrics(s: MetricsSnapshot): string {
  const lines: string[] = [];
  for (const f of METRIC_FAMILIES) {
    const samples = f.samples(s);
    if (samples.length === 0) continue;
    lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
    for (const x of samples) {
      const labels = x.labels ? `{${Object.entries(x.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}` : "";
      lines.push(`${f.name}${labels} ${formatValue(x.value)}`);
    }
  }
  return lines.join("\n") + "\n";
}

/** The part of prom-client's module registerPromClient() uses (its documented Gauge/Counter). */
export interface PromClientLike {
  Gauge: new (config: {
    name: string;
    help: string;
    labelNames?: readonly string[];
    registers?: unknown[];
    collect?: (this: PromGaugeLike) => void | Promise<void>;
  }) => unknown;
  Counter: new (config: {
    name: string;
    help: string;
    labelNames?: readonly string[];
    registers?: unknown[];
    collect?: (this: PromCounterLike) => void | Promise<void>;
  }) => unknown;
  /** prom-client's default registry, used when no `registry` is given. */
  register?: unknown;
}

export interface PromGaugeLike {
  set(value: number): void;
  set(labels: Record<string, string>, value: number): void;
  reset(): void;
}

export interface PromCounterLike {
  inc(value?: number): void;
  inc(labels: Record<string, string>, value?: number): void;
  reset(): void;
}

export interface RegisterPromClientOptions {
  /** A prom-client Registry (default: the module's default `register`). */
  registry?: unknown;
  /** A snapshot is reused by every metric of one scrape: this long, in ms (default 1000). */
  maxAgeMs?: number;
}

/** Something whose metrics can be registered: an ImageCache (via its host) or a Collector. */
export type MetricsSource = { readonly [hostKey]?: CollectorHost } | Collector;

/** @internal ImageCache exposes its host under this key. */
export const hostKey: unique symbol = Symbol("msb-image-cache.metricsHost");

/**
 * Registers the metrics of cache.metrics() in a prom-client registry, as gauges and counters that
 * read the cache when scraped (one diskUsage() per scrape, shared by all of them). `promClient` is the
 * prom-client module (`import * as promClient from "prom-client"`): this package does not depend on it.
 * Returns the metric objects prom-client made.
 */
export function registerPromClient(promClient: PromClientLike, source: MetricsSource, options: RegisterPromClientOptions = {}): unknown[] {
  if (!promClient || typeof promClient.Gauge !== "function" || typeof promClient.Counter !== "function") {
    throw new TypeError("registerPromClient(): the first argument must be the prom-client module (with Gauge and Counter)");
  }
  const host = source instanceof Collector ? hostOf(source) : (source as { [hostKey]?: CollectorHost })?.[hostKey];
  if (!host) throw new TypeError("registerPromClient(): the second argument must be an ImageCache or a Collector");
  const registry = options.registry ?? promClient.register;
  if (registry === undefined) throw new TypeError("registerPromClient(): no registry given and the module has no default `register`");
  const maxAgeMs = options.maxAgeMs ?? 1000;
  if (typeof maxAgeMs !== "number" || !(maxAgeMs >= 0)) throw new RangeError(`registerPromClient(): "maxAgeMs" must be a number ≥ 0, got ${maxAgeMs}`);
  let last: { at: number; value: Promise<MetricsSnapshot> } | null = null;
  const current = (): Promise<MetricsSnapshot> => {
    const now = Date.now();
    if (!last || now - last.at > maxAgeMs) {
      const value = snapshot(host);
      value.catch(() => (last = null)); // a failed scrape is not reused
      last = { at: now, value };
    }
    return last.value;
  };
  const made: unknown[] = [];
  for (const f of METRIC_FAMILIES) {
    const labelNames = f.name === `${P}bytes` ? ["kind"] : [];
    if (f.type === "gauge") {
      made.push(
        new promClient.Gauge({
          name: f.name,
          help: f.help,
          labelNames,
          registers: [registry],
          async collect(this: PromGaugeLike) {
            const samples = f.samples(await current());
            this.reset();
            for (const x of samples) (x.labels ? this.set(x.labels, x.value) : this.set(x.value));
          },
        }),
      );
    } else {
      made.push(
        new promClient.Counter({
          name: f.name,
          help: f.help,
          labelNames,
          registers: [registry],
          async collect(this: PromCounterLike) {
            const samples = f.samples(await current());
            this.reset();
            for (const x of samples) (x.labels ? this.inc(x.labels, x.value) : this.inc(x.value));
          },
        }),
      );
    }
  }
  return made;
}
