// cache.metrics(): the Prometheus text format, checked by the real `promtool check metrics` (Debian's
// prometheus package; scripts/install-promtool.sh), with values that match diskUsage() and statfs; and
// registerPromClient() against a registry double that follows prom-client's documented contract (prom-client
// is not in node_modules: this package does not depend on it).
import { spawn } from "node:child_process";
import { statfs } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import { ImageCache, METRICS_CONTENT_TYPE, registerPromClient } from "../../lib/index";
import { cleanupHomes, makeHome, pinImage } from "../support/msb";
import { buildSampleCache } from "../support/sample-images";

afterAll(cleanupHomes);

function promtool(text: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn("promtool", ["check", "metrics"], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    p.stdout.on("data", (c) => (out += c));
    p.stderr.on("data", (c) => (out += c));
    p.on("error", reject);
    p.on("close", (code) => resolve({ code, out }));
    p.stdin.end(text);
  });
}

/** name{labels} → value, from the text format (what a scraper reads). */
function parse(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    m.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return m;
}

async function sample(): Promise<{ home: string; cache: ImageCache }> {
  const home = await makeHome("msbmet-");
  await buildSampleCache(home);
  await pinImage(home, "base:1");
  return { home, cache: new ImageCache({ home }) };
}

describe("cache.metrics()", () => {
  it("passes promtool check metrics and reports what diskUsage() and statfs say", async () => {
    const { home, cache } = await sample();
    const text = await cache.metrics();
    const lint = await promtool(text);
    expect(lint.out).toBe("");
    expect(lint.code).toBe(0);
    expect(METRICS_CONTENT_TYPE).toBe("text/plain; version=0.0.4; charset=utf-8");
    const m = parse(text);
    const du = await cache.diskUsage();
    for (const [kind, bytes] of Object.entries(du.byKind)) expect(m.get(`msb_image_cache_bytes{kind="${kind}"}`)).toBe(bytes);
    expect(m.get("msb_image_cache_images")).toBe(du.images.length);
    expect(m.get("msb_image_cache_pinned_images")).toBe(1);
    expect(m.get("msb_image_cache_reclaimable_bytes")).toBe(du.reclaimableBytes);
    const fs = await statfs(join(home, "cache"));
    expect(m.get("msb_image_cache_filesystem_size_bytes")).toBe(fs.blocks * fs.bsize);
    expect(m.get("msb_image_cache_collector_runs_total")).toBe(0);
    expect(m.has("msb_image_cache_collector_last_run_duration_seconds")).toBe(false); // no run yet
    await cache.close();
  });

  it("counts the collectors' work, and keeps counting after a collector stops", async () => {
    const { cache } = await sample();
    const c = cache.startCollector({ interval: 3_600_000, highWatermark: 0, lowWatermark: 0 });
    const r = await c.runNow();
    await c.stop();
    const text = await cache.metrics();
    expect((await promtool(text)).code).toBe(0);
    const m = parse(text);
    expect(m.get("msb_image_cache_collector_runs_total")).toBe(1);
    expect(m.get("msb_image_cache_collector_removed_images_total")).toBe(r.prune!.imageRefsRemoved);
    expect(m.get("msb_image_cache_collector_removed_bytes_total")).toBe(r.prune!.bytesReclaimed);
    expect(m.get("msb_image_cache_collector_failures_total")).toBe(0);
    expect(m.get("msb_image_cache_collector_last_run_duration_seconds")).toBeCloseTo(r.durationMs / 1000, 6);
    expect(m.get("msb_image_cache_images")).toBe(1); // the pinned one
    await cache.close();
  });

  it("rejects bad options and a closed cache with the library's errors", async () => {
    const { cache } = await sample();
    await expect(cache.metrics({ bogus: 1 } as never)).rejects.toThrow(TypeError);
    await cache.close();
    await expect(cache.metrics()).rejects.toMatchObject({ code: "cacheClosed" });
  });
});

// ------------------------------------------------------------------------------------------ prom-client double
// prom-client's documented contract: new Gauge({ name, help, labelNames, registers, collect }) and the same for
// Counter; collect() runs (possibly async) on each registry.metrics() with `this` the metric; gauges have
// set([labels,] value) and reset(), counters inc([labels,] value) and reset().
type Labels = Record<string, string>;
class Metric {
  values = new Map<string, number>();
  constructor(
    readonly type: string,
    readonly config: { name: string; help: string; labelNames?: readonly string[]; registers?: unknown[]; collect?: (this: Metric) => unknown },
  ) {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(config.name)) throw new Error(`invalid name ${config.name}`);
    if (!config.help) throw new Error("help is required");
    for (const r of config.registers ?? []) (r as Registry).registerMetric(this);
  }
  key(labels: Labels | undefined): string {
    const names = Object.keys(labels ?? {});
    for (const n of names) if (!this.config.labelNames?.includes(n)) throw new Error(`label ${n} not declared for ${this.config.name}`);
    return names.length ? `{${names.map((n) => `${n}="${labels![n]}"`).join(",")}}` : "";
  }
  reset() {
    this.values.clear();
  }
}
class Gauge extends Metric {
  constructor(config: Metric["config"]) {
    super("gauge", config);
  }
  set(a: Labels | number, b?: number) {
    const [labels, v] = typeof a === "number" ? [undefined, a] : [a, b!];
    this.values.set(this.key(labels), v);
  }
}
class Counter extends Metric {
  constructor(config: Metric["config"]) {
    super("counter", config);
  }
  inc(a?: Labels | number, b?: number) {
    const [labels, v] = typeof a === "object" ? [a, b ?? 1] : [undefined, a ?? 1];
    if (v < 0) throw new Error("counters only go up");
    const k = this.key(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + v);
  }
}
class Registry {
  metrics_: Metric[] = [];
  registerMetric(m: Metric) {
    if (this.metrics_.some((x) => x.config.name === m.config.name)) throw new Error(`already registered: ${m.config.name}`);
    this.metrics_.push(m);
  }
  async metrics(): Promise<string> {
    const out: string[] = [];
    for (const m of this.metrics_) {
      await m.config.collect?.call(m);
      out.push(`# HELP ${m.config.name} ${m.config.help}`, `# TYPE ${m.config.name} ${m.type}`);
      for (const [k, v] of m.values) out.push(`${m.config.name}${k} ${v}`);
    }
    return out.join("\n") + "\n";
  }
}

describe("registerPromClient()", () => {
  it("registers the same metrics, read at each scrape", async () => {
    const { cache } = await sample();
    const registry = new Registry();
    const made = registerPromClient({ Gauge, Counter } as never, cache, { registry });
    expect(made.length).toBe(registry.metrics_.length);
    const ours = parse(await cache.metrics());
    const theirs = parse(await registry.metrics());
    // The same series (the last-run gauge has no sample before a run in either).
    expect([...theirs.keys()].sort()).toEqual([...ours.keys()].sort());
    for (const [k, v] of ours) if (!k.startsWith("msb_image_cache_filesystem_free")) expect(theirs.get(k)).toBe(v);
    expect((await promtool(await registry.metrics())).code).toBe(0);

    // From a collector, and the counters follow its runs.
    const c = cache.startCollector({ interval: 3_600_000, highWatermark: 0, lowWatermark: 0 });
    const registry2 = new Registry();
    registerPromClient({ Gauge, Counter, register: registry2 } as never, c);
    await c.runNow();
    await c.stop();
    const after = parse(await registry2.metrics());
    expect(after.get("msb_image_cache_collector_runs_total")).toBe(1);
    expect(after.get("msb_image_cache_images")).toBe(1);
    await cache.close();
  });

  it("refuses what is not prom-client or not a cache", async () => {
    const cache = new ImageCache({ home: await makeHome("msbmet-") });
    expect(() => registerPromClient({} as never, cache)).toThrow(TypeError);
    expect(() => registerPromClient({ Gauge, Counter } as never, {} as never, { registry: new Registry() })).toThrow(TypeError);
    expect(() => registerPromClient({ Gauge, Counter } as never, cache)).toThrow(/registry/);
    await cache.close();
  });
});
