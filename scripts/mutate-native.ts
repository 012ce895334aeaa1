// Mutation testing of the native decisions that guard data (issue 17): applies each mutation of
// mutations/native.json alone — patch one exact snippet, incremental native build, run the listed test
// files, restore — and prints killed / SURVIVED per mutation and a score.
//
//   npm run mutate:native                       every mutation (slow: a build + tests each)
//   npm run mutate:native -- --only a,b         just these ids
//   npm run mutate:native -- --rotate 3         a rotating subset of 3 (CI): which 3 moves each day, or
//                                               set MUTATE_ROTATION=<n> to pick the n-th window
//   npm run mutate:native -- --check            only check that every `find` occurs exactly once (no build)
//   npm run mutate:native -- --list             print the ids
//
// The build is `node-gyp build` of the existing build/ directory (only the changed .cc is recompiled);
// MUTATE_BUILD overrides the command (e.g. MUTATE_BUILD=/work/wt/build.sh). The original source is always
// put back (also on Ctrl-C) and the addon rebuilt from it at the end. Exit code: 0 when every mutation is
// killed or marked equivalent, 1 when one survived, 2 for a bad list or a build that fails unmutated.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

interface Mutation {
  id: string;
  why?: string;
  file: string;
  find: string;
  replace: string;
  tests: string[];
  /** Set when the mutant cannot be told apart from the original: why. */
  equivalent?: string;
}

const ROOT = resolve(__dirname, "..");
const LIST = join(ROOT, "mutations", "native.json");

function args(): { only?: string[]; rotate?: number; check: boolean; list: boolean } {
  const a = process.argv.slice(2);
  const out: { only?: string[]; rotate?: number; check: boolean; list: boolean } = { check: false, list: false };
  for (let i = 0; i < a.length; i++) {
    if (a[i] === "--only") out.only = (a[++i] ?? "").split(",").filter(Boolean);
    else if (a[i] === "--rotate") out.rotate = Number(a[++i]);
    else if (a[i] === "--check") out.check = true;
    else if (a[i] === "--list") out.list = true;
    else {
      console.error(`mutate-native: unknown argument ${a[i]} (expected --only ids, --rotate N, --check, --list)`);
      process.exit(2);
    }
  }
  if (out.rotate !== undefined && !(Number.isInteger(out.rotate) && out.rotate > 0)) {
    console.error("mutate-native: --rotate needs a positive integer");
    process.exit(2);
  }
  return out;
}

function load(): Mutation[] {
  const doc = JSON.parse(readFileSync(LIST, "utf8")) as { mutations: Mutation[] };
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const m of doc.mutations) {
    if (seen.has(m.id)) problems.push(`${m.id}: duplicate id`);
    seen.add(m.id);
    const path = join(ROOT, m.file);
    if (!existsSync(path)) {
      problems.push(`${m.id}: no file ${m.file}`);
      continue;
    }
    const n = readFileSync(path, "utf8").split(m.find).length - 1;
    if (n !== 1) problems.push(`${m.id}: \`find\` occurs ${n} times in ${m.file} (must be exactly once)`);
    if (m.find === m.replace) problems.push(`${m.id}: replace equals find`);
    for (const t of m.tests) if (!existsSync(join(ROOT, t))) problems.push(`${m.id}: no test file ${t}`);
  }
  if (problems.length > 0) {
    console.error("mutate-native: mutations/native.json is out of date:\n  " + problems.join("\n  "));
    process.exit(2);
  }
  return doc.mutations;
}

function pick(all: Mutation[], o: ReturnType<typeof args>): Mutation[] {
  let chosen = all;
  if (o.only) {
    const unknown = o.only.filter((id) => !all.some((m) => m.id === id));
    if (unknown.length > 0) {
      console.error(`mutate-native: unknown id(s) ${unknown.join(", ")}`);
      process.exit(2);
    }
    chosen = all.filter((m) => o.only!.includes(m.id));
  }
  if (o.rotate !== undefined && chosen.length > o.rotate) {
    const windows = Math.ceil(chosen.length / o.rotate);
    const n = process.env.MUTATE_ROTATION !== undefined ? Number(process.env.MUTATE_ROTATION) : Math.floor(Date.now() / 86_400_000);
    const start = ((n % windows) + windows) % windows * o.rotate;
    chosen = Array.from({ length: o.rotate }, (_, i) => chosen[(start + i) % chosen.length]!);
  }
  return chosen;
}

function buildCommand(): { cmd: string; argv: string[] } {
  if (process.env.MUTATE_BUILD) return { cmd: "bash", argv: ["-c", process.env.MUTATE_BUILD] };
  const bundled = join(dirname(process.execPath), "..", "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js");
  const jobs = ["build", "--jobs", process.env.JOBS ?? "1"];
  return existsSync(bundled) ? { cmd: process.execPath, argv: [bundled, ...jobs] } : { cmd: "node-gyp", argv: jobs };
}

function build(): { ok: boolean; log: string } {
  const { cmd, argv } = buildCommand();
  const r = spawnSync(cmd, argv, { cwd: ROOT, encoding: "utf8", env: { npm_config_nodedir: "/usr", ...process.env } });
  return { ok: r.status === 0, log: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

function runTests(tests: string[]): { failed: boolean; summary: string } {
  const vitest = join(ROOT, "node_modules", "vitest", "vitest.mjs");
  const r = spawnSync(process.execPath, [vitest, "run", ...tests], { cwd: ROOT, encoding: "utf8", timeout: 15 * 60_000 });
  const out = `${r.stdout ?? ""}${r.stderr ?? ""}`.replace(/\x1b\[[0-9;]*m/g, "");
  const failedNames = [...out.matchAll(/^\s+× (.*?)(?: \d+ms)?$/gm)].map((x) => x[1]!);
  const line = /Tests\s+(.*)$/m.exec(out)?.[1]?.trim() ?? `exit ${r.status ?? r.signal}`;
  return { failed: r.status !== 0, summary: failedNames.length > 0 ? `${line}; first: ${failedNames[0]}` : line };
}

function main(): void {
  const o = args();
  const all = load();
  if (o.list) {
    for (const m of all) console.log(`${m.id}\t${m.file}\t${m.why ?? ""}`);
    return;
  }
  if (o.check) {
    console.log(`mutate-native: ${all.length} mutations, every find occurs exactly once`);
    return;
  }
  const chosen = pick(all, o);
  const originals = new Map<string, string>();
  const restore = () => {
    for (const [path, text] of originals) writeFileSync(path, text);
    originals.clear();
  };
  process.on("SIGINT", () => {
    restore();
    console.error("\nmutate-native: interrupted; sources restored (run the build once to restore the addon)");
    process.exit(130);
  });

  const results: Array<{ m: Mutation; outcome: "killed" | "survived" | "equivalent" | "no-build"; detail: string; s: number }> = [];
  console.log(`mutate-native: ${chosen.length} of ${all.length} mutations: ${chosen.map((m) => m.id).join(", ")}`);
  try {
    for (const m of chosen) {
      const started = Date.now();
      const path = join(ROOT, m.file);
      const text = readFileSync(path, "utf8");
      originals.set(path, text);
      writeFileSync(path, text.replace(m.find, () => m.replace));
      let outcome: (typeof results)[number]["outcome"];
      let detail: string;
      const b = build();
      if (!b.ok) {
        outcome = "no-build";
        detail = b.log.split("\n").filter((l) => /error/i.test(l)).slice(0, 3).join(" | ");
      } else {
        const t = runTests(m.tests);
        outcome = t.failed ? "killed" : m.equivalent ? "equivalent" : "survived";
        detail = t.summary;
      }
      restore();
      const s = Math.round((Date.now() - started) / 1000);
      results.push({ m, outcome, detail, s });
      console.log(`${outcome === "survived" ? "SURVIVED" : outcome.padEnd(8)} ${m.id} (${s} s): ${detail}`);
    }
  } finally {
    restore();
    const b = build();
    if (!b.ok) {
      console.error("mutate-native: the UNMUTATED source does not build:\n" + b.log.slice(-2000));
      process.exitCode = 2;
    }
  }
  const killed = results.filter((r) => r.outcome === "killed").length;
  const survived = results.filter((r) => r.outcome === "survived");
  const noBuild = results.filter((r) => r.outcome === "no-build");
  const counted = results.length - noBuild.length - results.filter((r) => r.outcome === "equivalent").length;
  console.log(
    `mutate-native: score ${killed}/${counted} killed` +
      (survived.length ? `; survivors: ${survived.map((r) => r.m.id).join(", ")}` : "") +
      (noBuild.length ? `; did not compile (fix the list): ${noBuild.map((r) => r.m.id).join(", ")}` : ""),
  );
  if (process.exitCode === undefined || process.exitCode === 0) process.exitCode = survived.length > 0 ? 1 : noBuild.length > 0 ? 2 : 0;
}

main();
