/**
 * remove() on one instance, ours against the official addon, on fresh copies of one scale fixture.
 *
 *   npm run build && npm run bench:remove                       # 100,000 images, 3 rounds
 *   npm run bench:remove -- --images 10000 --rounds 5
 *   npm run bench:remove -- --fixture /dev/shm/f100k            # reuse a fixture (read only: it is copied)
 *   BENCH_DIST_B=/tmp/B/dist/index.js npm run bench:remove      # also another build of ours (A/B)
 *
 * Per round and per implementation: `cp -a` of the fixture (so every file is "recently changed", as on a
 * cache msb has just filled), then one process removes `--removes` references spread over the list, one
 * timing each. "first" is the first removal of the process (what a service's first call pays), "steady" the
 * median of the others (wall time, and the process's CPU time, which a busy machine inflates least); RSS growth is what the process holds after them beyond what it held before the
 * first. Rounds alternate the implementations so a noisy spell falls on all; the table gives the medians
 * over rounds and the ratios to the official addon. Results: bench/results/remove-latest.{md,json}.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import { join, resolve } from "node:path";

import { buildFixture } from "../test/support/fixture";
import { MSB_VERSION, OFFICIAL_ADDON, msbEnv } from "../test/support/msb";

const ROOT = resolve(__dirname, "..");
const CHILD = join(__dirname, "child.cjs");
const SCRATCH = existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir();

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] !== undefined ? process.argv[at + 1]! : fallback;
}
const IMAGES = Number(option("images", "100000"));
const ROUNDS = Number(option("rounds", "3"));
const REMOVES = Number(option("removes", "13"));
const FIXTURE = option("fixture", "");

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const log = (...m: unknown[]): void => console.error(`[bench:remove ${new Date().toISOString().slice(11, 19)}]`, ...m);

interface Impl {
  name: string;
  kind: "ours" | "official";
  module: string;
}
const impls: Impl[] = [
  { name: "ours", kind: "ours", module: process.env.BENCH_DIST ?? join(ROOT, "dist", "index.js") },
  ...(process.env.BENCH_DIST_B ? [{ name: "ours (B)", kind: "ours" as const, module: process.env.BENCH_DIST_B }] : []),
  { name: "official", kind: "official", module: OFFICIAL_ADDON },
];

interface Sample {
  first: number;
  steady: number;
  steadyCpu: number; // CPU time (all threads) of the steady removals, median: what a busy machine inflates least
  rssGrowthMb: number;
}

function removeIn(impl: Impl, home: string, refs: string[]): Promise<Sample> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CHILD, impl.kind, impl.module, JSON.stringify([{ op: "remove", refs }])], {
      env: msbEnv(home),
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (c) => (out += c));
    child.on("error", reject);
    child.on("close", (code) => {
      try {
        const parsed = JSON.parse(out.trim().split("\n").pop() ?? "");
        if (parsed.fatal) throw new Error(parsed.fatal);
        const r = parsed.results[0];
        if (r.error) throw new Error(r.error);
        const [first, ...rest] = r.times as number[];
        resolvePromise({ first: first!, steady: median(rest), steadyCpu: median((r.cpuMs as number[]).slice(1)), rssGrowthMb: r.rssGrowthMb });
      } catch (e) {
        reject(new Error(`${impl.name} exited ${code}: ${(e as Error).message}`));
      }
    });
  });
}

async function referencesOf(home: string): Promise<string[]> {
  const { ImageCache } = require(impls[0]!.module) as typeof import("../lib/index");
  const cache = new ImageCache({ home });
  try {
    return (await cache.list()).map((i) => i.reference);
  } finally {
    await cache.close();
  }
}

async function main(): Promise<void> {
  for (const impl of impls) if (!existsSync(impl.module)) throw new Error(`${impl.name}: ${impl.module} is missing (npm run build)`);
  let fixture = FIXTURE;
  if (!fixture) {
    fixture = mkdtempSync(join(SCRATCH, "msb-bench-rm-"));
    log(`building a ${IMAGES.toLocaleString("en")}-image fixture in ${fixture}`);
    await buildFixture(fixture, { images: IMAGES });
  }
  try {
    const all = await referencesOf(fixture);
    const refs = Array.from({ length: REMOVES }, (_, i) => all[Math.floor(((i + 0.5) * all.length) / REMOVES)]!);
    const samples = new Map<string, Sample[]>(impls.map((i) => [i.name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      // the order turns each round: no implementation always runs right after a copy's page-cache churn
      const order = impls.map((_, k) => impls[(k + round) % impls.length]!);
      for (const impl of order) {
        const copy = mkdtempSync(join(SCRATCH, "msb-bench-rm-copy-"));
        try {
          execFileSync("cp", ["-a", `${fixture}/.`, copy]);
          const s = await removeIn(impl, copy, refs);
          samples.get(impl.name)!.push(s);
          log(`round ${round + 1}/${ROUNDS} ${impl.name}: first ${s.first.toFixed(0)} ms, steady ${s.steady.toFixed(1)} ms (CPU ${s.steadyCpu.toFixed(1)} ms), RSS +${s.rssGrowthMb.toFixed(0)} MB`);
        } finally {
          rmSync(copy, { recursive: true, force: true });
        }
      }
    }
    const official = samples.get("official")!;
    const base = {
      first: median(official.map((s) => s.first)),
      steady: median(official.map((s) => s.steady)),
      steadyCpu: median(official.map((s) => s.steadyCpu)),
    };
    const lines = [
      `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? "?"}, Linux ${os.release()}, copies on ${SCRATCH}. Node ${process.version}, official addon ${MSB_VERSION}. ${new Date().toISOString().slice(0, 10)}.`,
      `Command: \`npm run bench:remove -- --images ${all.length} --rounds ${ROUNDS} --removes ${REMOVES}\`. Medians over rounds; ms.`,
      "",
      "| implementation | first remove | first / official | steady remove | steady / official | steady CPU | CPU / official | RSS growth (MB) | targets |",
      "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ];
    for (const impl of impls) {
      const ss = samples.get(impl.name)!;
      const first = median(ss.map((s) => s.first));
      const steady = median(ss.map((s) => s.steady));
      const steadyCpu = median(ss.map((s) => s.steadyCpu));
      const rss = median(ss.map((s) => s.rssGrowthMb));
      const verdict =
        impl.kind === "official"
          ? ""
          : [
              `${steady / base.steady <= 1 ? "met" : "MISSED"} (steady ≤ 1.0× official)`,
              `${first / base.first <= 2 ? "met" : "MISSED"} (first ≤ 2× official)`,
              `${rss <= 32 ? "met" : "MISSED"} (≤ 32 MB kept)`,
            ].join(", ");
      lines.push(
        `| ${impl.name} | ${first.toFixed(0)} | ${(first / base.first).toFixed(2)} | ${steady.toFixed(1)} | ${(steady / base.steady).toFixed(2)} | ${steadyCpu.toFixed(1)} | ${(steadyCpu / base.steadyCpu).toFixed(2)} | ${rss.toFixed(0)} | ${verdict} |`,
      );
    }
    const md = lines.join("\n");
    mkdirSync(join(__dirname, "results"), { recursive: true });
    writeFileSync(join(__dirname, "results", "remove-latest.md"), md + "\n");
    writeFileSync(join(__dirname, "results", "remove-latest.json"), JSON.stringify({ refs, samples: Object.fromEntries(samples) }, null, 2) + "\n");
    console.log(md);
  } finally {
    if (!FIXTURE) rmSync(fixture, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
