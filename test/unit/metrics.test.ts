// The metrics (lib/metrics.ts) in process, against a host double: the families docs/collector.md lists,
// Prometheus's naming rules, the text exposition format (escapes, special values), and registerPromClient()'s
// checks, labels and per-scrape snapshot. test/interop/metrics.test.ts checks the same against a real cache
// and the real `promtool`.
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";

import { Collector, type CollectorHost } from "../../lib/collector";
import { METRIC_FAMILIES, METRICS_CONTENT_TYPE, type MetricsSnapshot, hostKey, registerPromClient, renderMetrics, snapshot } from "../../lib/metrics";
import type { DiskUsage } from "../../lib/types";

const KINDS = ["layers", "fsmeta", "vmdk", "metadata", "flat", "tmp", "orphans", "locks"] as const;

/** Every number different, so a value under the wrong name shows. */
function snap(overrides: Partial<MetricsSnapshot> = {}): MetricsSnapshot {
  return {
    bytesByKind: Object.fromEntries(KINDS.map((k, i) => [k, 1000 + i])) as DiskUsage["byKind"],
    allocatedBytes: 2001,
    images: 3,
    pinnedImages: 1,
    reclaimableBytes: 2002,
    filesystem: { size: 9_000_000, free: 4_000_000 },
    collector: { checks: 11, runs: 12, failures: 13, imagesRemoved: 14, bytesRemoved: 15, lastRunDurationMs: 1500, lastRunAt: new Date(0) },
    ...overrides,
  };
}

/** name{labels} → value text, from the exposition text. */
function samples(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    m.set(line.slice(0, at), line.slice(at + 1));
  }
  return m;
}

// docs/collector.md's table: | `name{labels}`, `…_other_name` | type | what |. An ellipsis stands for the
// row's first name with as many trailing segments replaced as the abbreviated name has.
function documented(): Map<string, string> {
  const md = readFileSync(join(__dirname, "..", "..", "docs", "collector.md"), "utf8");
  const out = new Map<string, string>();
  for (const line of md.split("\n")) {
    const m = /^\| (`msb_image_cache_[^|]+) \| (gauge|counter) \|/.exec(line);
    if (!m) continue;
    const names = [...m[1]!.matchAll(/`([^`]+)`/g)].map((x) => x[1]!.replace(/\{.*\}$/, ""));
    const first = names[0]!.split("_");
    for (const name of names) {
      if (!name.startsWith("…_")) {
        out.set(name, m[2]!);
        continue;
      }
      const tail = name.slice(2).split("_");
      out.set([...first.slice(0, first.length - tail.length), ...tail].join("_"), m[2]!);
    }
  }
  return out;
}

describe("the metric families", () => {
  it("are exactly those docs/collector.md lists, with its types", () => {
    const docs = documented();
    expect(docs.size).toBe(13);
    expect(new Map(METRIC_FAMILIES.map((f) => [f.name, f.type]))).toEqual(docs);
  });

  it("follow Prometheus's naming rules: one prefix, counters end in _total, units as suffixes", () => {
    const names = METRIC_FAMILIES.map((f) => f.name);
    expect(new Set(names).size).toBe(names.length);
    for (const f of METRIC_FAMILIES) {
      expect(f.name, f.name).toMatch(/^msb_image_cache_[a-z_]+[a-z]$/);
      expect(f.type === "counter", f.name).toBe(f.name.endsWith("_total"));
      expect(f.help, f.name).toMatch(/^[A-Z].*\.$/); // a sentence
      expect(f.help, f.name).not.toMatch(/\n|\\/); // nothing to escape in HELP
    }
  });

  it("the content type is text format 0.0.4", () => {
    expect(METRICS_CONTENT_TYPE).toBe("text/plain; version=0.0.4; charset=utf-8");
  });
});

describe("renderMetrics: the text exposition format", () => {
  it("each metric reads the number its name says", () => {
    const m = samples(renderMetrics(snap()));
    const expected: Record<string, string> = {
      msb_image_cache_allocated_bytes: "2001",
      msb_image_cache_images: "3",
      msb_image_cache_pinned_images: "1",
      msb_image_cache_reclaimable_bytes: "2002",
      msb_image_cache_filesystem_size_bytes: "9000000",
      msb_image_cache_filesystem_free_bytes: "4000000",
      msb_image_cache_collector_checks_total: "11",
      msb_image_cache_collector_runs_total: "12",
      msb_image_cache_collector_failures_total: "13",
      msb_image_cache_collector_removed_images_total: "14",
      msb_image_cache_collector_removed_bytes_total: "15",
      msb_image_cache_collector_last_run_duration_seconds: "1.5", // 1500 ms
    };
    KINDS.forEach((k, i) => (expected[`msb_image_cache_bytes{kind="${k}"}`] = String(1000 + i)));
    expect(Object.fromEntries(m)).toEqual(expected);
  });

  it("HELP and TYPE before each family's samples; one line each; a final newline", () => {
    const text = renderMetrics(snap());
    expect(text.endsWith("\n")).toBe(true);
    expect(text.endsWith("\n\n")).toBe(false);
    const lines = text.slice(0, -1).split("\n");
    let i = 0;
    for (const f of METRIC_FAMILIES) {
      expect(lines[i++]).toBe(`# HELP ${f.name} ${f.help}`);
      expect(lines[i++]).toBe(`# TYPE ${f.name} ${f.type}`);
      const n = f.name === "msb_image_cache_bytes" ? KINDS.length : 1;
      for (let k = 0; k < n; k++) expect(lines[i++]!.startsWith(f.name + (n > 1 ? "{" : " ")), f.name).toBe(true);
    }
    expect(i).toBe(lines.length);
  });

  it("a family with no sample now is left out whole (the last run's duration before any run)", () => {
    const text = renderMetrics(snap({ collector: { ...snap().collector, lastRunDurationMs: null } }));
    expect(text).not.toContain("last_run_duration");
    expect(text.endsWith("msb_image_cache_collector_failures_total 13\n")).toBe(true);
  });

  it("label values are escaped (backslash, newline, double quote); NaN and infinities are spelled out", () => {
    const text = renderMetrics(snap({ bytesByKind: { 'a"b': 1, "c\\d": 2, "e\nf": NaN, g: Infinity, h: -Infinity } as never }));
    expect(text).toContain('msb_image_cache_bytes{kind="a\\"b"} 1\n');
    expect(text).toContain('msb_image_cache_bytes{kind="c\\\\d"} 2\n');
    expect(text).toContain('msb_image_cache_bytes{kind="e\\nf"} NaN\n');
    expect(text).toContain('msb_image_cache_bytes{kind="g"} +Inf\n');
    expect(text).toContain('msb_image_cache_bytes{kind="h"} -Inf\n');
    const twice = renderMetrics(snap({ bytesByKind: { "\\\\": 1, '""': 2, "\n\n": 3 } as never }));
    expect(twice).toContain('{kind="\\\\\\\\"} 1');
    expect(twice).toContain('{kind="\\"\\""} 2');
    expect(twice).toContain('{kind="\\n\\n"} 3');
  });
});

// ------------------------------------------------------------------------------------------ registerPromClient

type Labels = Record<string, string>;
interface Config {
  name: string;
  help: string;
  labelNames?: readonly string[];
  registers?: unknown[];
  collect?: (this: Fake) => unknown;
}
/** prom-client's documented metric contract, recording what it was told. */
class Fake {
  values = new Map<string, number>();
  resets = 0;
  constructor(
    readonly type: "gauge" | "counter",
    readonly config: Config,
  ) {
    for (const r of config.registers ?? []) (r as Reg).list.push(this);
  }
  key(labels?: Labels): string {
    for (const n of Object.keys(labels ?? {})) if (!this.config.labelNames?.includes(n)) throw new Error(`label ${n} not declared`);
    return labels ? JSON.stringify(labels) : "";
  }
  reset() {
    this.values.clear();
    this.resets++;
  }
}
class FakeGauge extends Fake {
  constructor(c: Config) {
    super("gauge", c);
  }
  set(a: Labels | number, b?: number) {
    if (typeof a === "number") this.values.set(this.key(), a);
    else this.values.set(this.key(a), b!);
  }
}
class FakeCounter extends Fake {
  constructor(c: Config) {
    super("counter", c);
  }
  inc(a?: Labels | number, b?: number) {
    const [k, v] = typeof a === "object" ? [this.key(a), b ?? 1] : [this.key(), a ?? 1];
    this.values.set(k, (this.values.get(k) ?? 0) + v);
  }
}
class Reg {
  list: Fake[] = [];
  async scrape(): Promise<Map<string, Map<string, number>>> {
    const out = new Map<string, Map<string, number>>();
    for (const m of this.list) {
      await m.config.collect?.call(m);
      out.set(m.config.name, new Map(m.values));
    }
    return out;
  }
}
const prom = (register?: unknown) => ({ Gauge: FakeGauge, Counter: FakeCounter, ...(register ? { register } : {}) }) as never;

function usage(n: number): DiskUsage {
  return {
    totalBytes: 0,
    allocatedBytes: 100 * n,
    byKind: Object.fromEntries(KINDS.map((k) => [k, n])) as DiskUsage["byKind"],
    images: [
      { reference: "a", manifestDigest: "d", lastUsedAt: null, virtualBytes: null, uniqueBytes: 0, sharedBytes: 0, pinnedBy: ["sandbox:x"] },
      { reference: "b", manifestDigest: "d", lastUsedAt: null, virtualBytes: null, uniqueBytes: 0, sharedBytes: 0, pinnedBy: [] },
    ],
    reclaimableBytes: 7 * n,
  } as DiskUsage;
}

function fakeHost() {
  const host = {
    owner: {},
    calls: 0,
    fail: false,
    async diskUsage() {
      host.calls++;
      if (host.fail) throw new Error("walk failed");
      return usage(host.calls);
    },
    async paths() {
      return { home: "/h", configPath: "/h/config.json", dbPath: "/h/db/msb.db", cacheDir: join(tmpdir(), "no-such-dir-for-metrics-test", "cache") };
    },
    async prune() {
      throw new Error("not used");
    },
  };
  return host;
}

describe("snapshot: one walk, one statfs, the collectors' totals", () => {
  it("counts images and pinned ones, and measures the nearest existing directory", async () => {
    const host = fakeHost();
    const s = await snapshot(host as unknown as CollectorHost);
    expect(host.calls).toBe(1);
    expect(s).toMatchObject({ allocatedBytes: 100, images: 2, pinnedImages: 1, reclaimableBytes: 7, bytesByKind: usage(1).byKind });
    expect(s.filesystem.size).toBeGreaterThan(0);
    expect(s.collector).toMatchObject({ checks: 0, runs: 0, failures: 0, imagesRemoved: 0, bytesRemoved: 0, lastRunDurationMs: null });
  });
});

describe("snapshot: pinned images", () => {
  it("an image is pinned when anything pins it, however many things", async () => {
    const host = fakeHost();
    const base = usage(1);
    const image = (reference: string, pinnedBy: string[]) => ({ ...base.images[0]!, reference, pinnedBy });
    host.diskUsage = async () => ({
      ...base,
      images: [image("a", ["sandbox:x"]), image("b", []), image("c", ["sandbox:y", "snapshot:z"]), image("d", ["snapshot:w"])],
    });
    const s = await snapshot(host as unknown as CollectorHost);
    expect(s.images).toBe(4);
    expect(s.pinnedImages).toBe(3);
  });
});

describe("registerPromClient", () => {
  afterEach(() => vi.restoreAllMocks());

  it("one gauge or counter per family, in order, in the registry given", async () => {
    const host = fakeHost();
    const registry = new Reg();
    const made = registerPromClient(prom(), { [hostKey]: host as unknown as CollectorHost }, { registry });
    expect(made).toEqual(registry.list);
    expect(registry.list.map((m) => [m.config.name, m.type, m.config.help])).toEqual(METRIC_FAMILIES.map((f) => [f.name, f.type, f.help]));
    for (const m of registry.list) {
      expect(m.config.labelNames, m.config.name).toEqual(m.config.name === "msb_image_cache_bytes" ? ["kind"] : []);
      expect(m.config.registers).toEqual([registry]);
    }
  });

  it("a scrape reads one snapshot; gauges are set, counters counted, by kind where labelled", async () => {
    const host = fakeHost();
    const registry = new Reg();
    registerPromClient(prom(), { [hostKey]: host as unknown as CollectorHost }, { registry });
    const got = await registry.scrape();
    expect(host.calls).toBe(1);
    expect([...got.get("msb_image_cache_bytes")!]).toEqual(KINDS.map((k) => [JSON.stringify({ kind: k }), 1]));
    expect(got.get("msb_image_cache_allocated_bytes")).toEqual(new Map([["", 100]]));
    expect(got.get("msb_image_cache_images")).toEqual(new Map([["", 2]]));
    expect(got.get("msb_image_cache_pinned_images")).toEqual(new Map([["", 1]]));
    expect(got.get("msb_image_cache_reclaimable_bytes")).toEqual(new Map([["", 7]]));
    expect(got.get("msb_image_cache_collector_runs_total")).toEqual(new Map([["", 0]]));
    expect(got.get("msb_image_cache_collector_last_run_duration_seconds")).toEqual(new Map()); // no run yet
    // each metric starts from zero at each scrape
    for (const m of registry.list) expect(m.resets, m.config.name).toBe(1);
  });

  it("scrapes within maxAgeMs share a snapshot; later ones take a new one (default 1 s)", async () => {
    const host = fakeHost();
    const registry = new Reg();
    let now = 1_000_000;
    vi.spyOn(Date, "now").mockImplementation(() => now);
    registerPromClient(prom(), { [hostKey]: host as unknown as CollectorHost }, { registry });
    await registry.scrape();
    now += 1000;
    await registry.scrape();
    expect(host.calls).toBe(1); // exactly maxAgeMs later: still fresh
    now += 1;
    const got = await registry.scrape();
    expect(host.calls).toBe(2);
    expect(got.get("msb_image_cache_allocated_bytes")).toEqual(new Map([["", 200]]));
    // counters are reset before they count, so a scrape reports the total, not a sum of scrapes
    expect(got.get("msb_image_cache_collector_checks_total")).toEqual(new Map([["", 0]]));

    const other = new Reg();
    const host2 = fakeHost();
    registerPromClient(prom(), { [hostKey]: host2 as unknown as CollectorHost }, { registry: other, maxAgeMs: 0 });
    await other.scrape();
    await other.scrape();
    expect(host2.calls).toBe(1); // the same millisecond
    now += 1;
    await other.scrape();
    expect(host2.calls).toBe(2);
  });

  it("a failed snapshot is not reused", async () => {
    const host = fakeHost();
    const registry = new Reg();
    vi.spyOn(Date, "now").mockReturnValue(5_000);
    registerPromClient(prom(), { [hostKey]: host as unknown as CollectorHost }, { registry, maxAgeMs: 60_000 });
    host.fail = true;
    await expect(registry.scrape()).rejects.toThrow("walk failed");
    host.fail = false;
    const got = await registry.scrape();
    expect(host.calls).toBe(2);
    expect(got.get("msb_image_cache_images")).toEqual(new Map([["", 2]]));
  });

  it("the module's default registry, unless one is given", () => {
    const host = { [hostKey]: fakeHost() as unknown as CollectorHost };
    const defaultRegistry = new Reg();
    registerPromClient(prom(defaultRegistry), host);
    expect(defaultRegistry.list).toHaveLength(METRIC_FAMILIES.length);
    const given = new Reg();
    registerPromClient(prom(defaultRegistry), host, { registry: given });
    expect(given.list).toHaveLength(METRIC_FAMILIES.length);
    expect(defaultRegistry.list).toHaveLength(METRIC_FAMILIES.length);
  });

  it("a Collector is a source too: its cache's metrics", async () => {
    const host = fakeHost();
    const ac = new AbortController();
    ac.abort(); // a collector stopped from the start: no timer
    const collector = new Collector(host as unknown as CollectorHost, { signal: ac.signal });
    const registry = new Reg();
    registerPromClient(prom(), collector, { registry });
    const got = await registry.scrape();
    expect(host.calls).toBe(1);
    expect(got.get("msb_image_cache_images")).toEqual(new Map([["", 2]]));
  });

  it("refuses what it cannot use, with precise errors", () => {
    const refusal = (fn: () => unknown): Error => {
      try {
        fn();
      } catch (e) {
        return e as Error;
      }
      throw new Error("accepted");
    };
    const source = { [hostKey]: fakeHost() as unknown as CollectorHost };
    const registry = new Reg();
    const notProm = "registerPromClient(): the first argument must be the prom-client module (with Gauge and Counter)";
    for (const bad of [null, {}, { Gauge: FakeGauge }, { Counter: FakeCounter }, { Gauge: {}, Counter: FakeCounter }, { Gauge: FakeGauge, Counter: 1 }]) {
      expect(refusal(() => registerPromClient(bad as never, source, { registry }))).toStrictEqual(new TypeError(notProm));
    }
    const notSource = "registerPromClient(): the second argument must be an ImageCache or a Collector";
    for (const bad of [null, undefined, {}, { [hostKey]: undefined }]) {
      expect(refusal(() => registerPromClient(prom(), bad as never, { registry }))).toStrictEqual(new TypeError(notSource));
    }
    expect(refusal(() => registerPromClient(prom(), source))).toStrictEqual(
      new TypeError("registerPromClient(): no registry given and the module has no default `register`"),
    );
    for (const bad of [-1, NaN, "5", -Infinity]) {
      expect(refusal(() => registerPromClient(prom(), source, { registry, maxAgeMs: bad as never }))).toStrictEqual(
        new RangeError(`registerPromClient(): "maxAgeMs" must be a number ≥ 0, got ${bad}`),
      );
    }
    expect(registry.list).toHaveLength(0); // nothing registered by a refused call
  });
});
