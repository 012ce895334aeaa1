// Summary of the last StrykerJS run of lib/ (reports/mutation/mutation.json, written by
// `npm run mutate:lib`): the score per file and in all, and every surviving or uncovered mutant, each
// marked "equivalent" when mutations/stryker-equivalent.md explains it (a table row naming its
// `file:line` and mutator) or "UNEXPLAINED" otherwise. Exit code 1 when a mutant is unexplained.
// An entry whose mutant no longer survives there (the line moved, or a test now kills it) is listed as
// stale, so the list is kept in step with the source.
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

interface Mutant {
  id: string;
  mutatorName: string;
  replacement?: string;
  status: string;
  location: { start: { line: number; column: number } };
}

const ROOT = resolve(__dirname, "..");
const REPORT = join(ROOT, "reports", "mutation", "mutation.json");
const EQUIVALENT = join(ROOT, "mutations", "stryker-equivalent.md");

if (!existsSync(REPORT)) {
  console.error(`mutate-lib: no report at ${REPORT}; run npm run mutate:lib`);
  process.exit(2);
}
const report = JSON.parse(readFileSync(REPORT, "utf8")) as { files: Record<string, { source: string; mutants: Mutant[] }> };

// Table rows of the equivalents file: | `lib/x.ts:12` | MutatorName | ... |
const explained = new Set<string>();
if (existsSync(EQUIVALENT)) {
  for (const line of readFileSync(EQUIVALENT, "utf8").split("\n")) {
    const m = /^\|\s*`([^`:]+):(\d+)`\s*\|\s*(\w+)\s*\|/.exec(line);
    if (m) explained.add(`${m[1]}:${m[2]} ${m[3]}`);
  }
}

const DETECTED = new Set(["Killed", "Timeout"]);
const UNDETECTED = new Set(["Survived", "NoCoverage"]);
let detected = 0;
let undetected = 0;
const used = new Set<string>();
const unexplained: string[] = [];
const rows: string[] = [];
for (const [file, { source, mutants }] of Object.entries(report.files).sort(([a], [b]) => a.localeCompare(b))) {
  const lines = source.split("\n");
  let d = 0;
  let u = 0;
  for (const m of mutants) {
    if (DETECTED.has(m.status)) d++;
    if (!UNDETECTED.has(m.status)) continue;
    u++;
    const key = `${file}:${m.location.start.line} ${m.mutatorName}`;
    const isExplained = explained.has(key);
    if (isExplained) used.add(key);
    const text = `${isExplained ? "equivalent " : "UNEXPLAINED"} ${m.status.padEnd(10)} ${key}: ${lines[m.location.start.line - 1]!.trim()}  →  ${(m.replacement ?? "").split("\n")[0]}`;
    (isExplained ? rows : unexplained).push(text);
  }
  detected += d;
  undetected += u;
  console.log(`${file.padEnd(26)} ${pct(d, d + u).padStart(7)}  (${d} killed, ${u} not)`);
}
console.log(`${"all files".padEnd(26)} ${pct(detected, detected + undetected).padStart(7)}  (${detected} killed, ${undetected} not)`);
for (const r of [...rows, ...unexplained]) console.log("  " + r);
const stale = [...explained].filter((k) => !used.has(k) && k.split(":")[0]! in report.files);
for (const k of stale) console.log(`  stale entry in mutations/stryker-equivalent.md (no such survivor now): ${k}`);
console.log(
  `mutate-lib: score ${pct(detected, detected + undetected)} (${detected}/${detected + undetected}); ` +
    `${rows.length} survivor(s) explained as equivalent, ${unexplained.length} unexplained`,
);
process.exitCode = unexplained.length > 0 ? 1 : 0;

function pct(a: number, b: number): string {
  return b === 0 ? "n/a" : `${((100 * a) / b).toFixed(2)} %`;
}
