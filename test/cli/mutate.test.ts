// The CLI's rm, prune and df on identical copies of msb-made homes, next to `msb image rm|prune`:
// the same output and exit codes, the same images left; then what msb has not (dry runs, policies,
// JSON reports, df).
import { readFile, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { cli, dropDurations, ensureCliBuilt } from "../support/cli";
import { cleanupHomes, copyHome, listFiles, makeHome, msbImage, msbImageJson, pinImage, type RunResult } from "../support/msb";
import { SAMPLE_REFERENCES, buildSampleCache } from "../support/sample-cache";

let master: string;

beforeAll(async () => {
  await ensureCliBuilt();
  master = await makeHome();
  await buildSampleCache(master);
});
afterAll(cleanupHomes);

/** Two identical copies of the sample home: one for us, one for msb. */
async function twins(): Promise<[string, string]> {
  return Promise.all([copyHome(master), copyHome(master)]);
}

const refsOf = async (home: string) => ((await msbImageJson(home, ["ls"])) as { reference: string }[]).map((r) => r.reference).sort();
// msb deletes the .lock files of what it removes; this library keeps them (msb relies on their inodes).
const artifacts = async (home: string) => (await listFiles(join(home, "cache"))).filter((f) => !f.path.endsWith(".lock")).map((f) => `${f.path} ${f.size}`);

function expectSameRun(ours: RunResult, theirs: RunResult): void {
  expect({ code: ours.code, stdout: ours.stdout, stderr: ours.stderr }).toEqual({
    code: theirs.code,
    stdout: dropDurations(theirs.stdout),
    stderr: dropDurations(theirs.stderr),
  });
}

describe("rm, against msb image rm", () => {
  it.each([
    [["rm", "app:1"]],
    [["rm", "app:latest", "nope:1", "plain"]],
    [["remove", "-q", "tools:2.0", "nope:1", "base:1"]],
  ])("%j: same messages, exit code, images and files left", async (args) => {
    const [ours, theirs] = await twins();
    const [o, t] = await Promise.all([cli(ours, args), msbImage(theirs, args)]);
    expectSameRun(o, t);
    expect(await refsOf(ours)).toEqual(await refsOf(theirs));
    expect(await artifacts(ours)).toEqual(await artifacts(theirs));
  });

  it("an image a sandbox uses: exit 1 like msb, but the error names the sandbox; -f removes the reference and keeps its files", async () => {
    const [ours, theirs] = await twins();
    await Promise.all([pinImage(ours, "base:1", { name: "web-1" }), pinImage(theirs, "base:1", { name: "web-1" })]);
    const [o, t] = await Promise.all([cli(ours, ["rm", "base:1"]), msbImage(theirs, ["rm", "base:1"])]);
    expect(o.code).toBe(1);
    expect(t.code).toBe(1);
    expect(t.stderr).toMatch(/^error: image in use by sandbox\(es\): \d+\nerror: some images failed to remove\n$/);
    expect(o.stderr).toMatch(/^error: image in use: base:1 is used by sandbox web-1.*\nerror: some images failed to remove\n$/);
    expect(await refsOf(ours)).toContain("base:1");

    const before = await artifacts(ours);
    const forced = await cli(ours, ["rm", "-f", "base:1"]);
    expect(forced).toMatchObject({ code: 0, stdout: "", stderr: "   ✓ Removed      base:1\n" });
    expect(await refsOf(ours)).not.toContain("base:1");
    // the manifest is still pinned: its fsmeta, VMDK and layer stay (only the reference's JSON goes)
    const after = await artifacts(ours);
    expect(before.filter((f) => !after.includes(f)).every((f) => f.startsWith("manifests/"))).toBe(true);
  });

  it("--format json: one report per reference, errors included", async () => {
    const [ours] = await twins();
    const r = await cli(ours, ["rm", "app:1", "nope:1", "--format", "json"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("error: some images failed to remove\n");
    const [ok, bad] = JSON.parse(r.stdout) as Record<string, unknown>[];
    expect(ok).toMatchObject({ reference: "app:1", removed: true, error: null, image_refs_removed: 1, manifest_removed: false });
    expect(bad).toEqual({ reference: "nope:1", removed: false, error: "image not found: nope:1" });
  });
});

describe("prune, against msb image prune", () => {
  it.each([[["prune"]], [["prune", "-q"]], [["prune", "--format", "json"]]])("%j on a non-terminal without --yes: refused, nothing removed", async (args) => {
    const [ours, theirs] = await twins();
    const [o, t] = await Promise.all([cli(ours, args), msbImage(theirs, args)]);
    expectSameRun(o, t);
    expect(o).toMatchObject({ code: 1, stderr: "error: non-interactive terminal; use --yes to prune cached images\n" });
    expect(await refsOf(ours)).toEqual([...SAMPLE_REFERENCES].sort());
  });

  it("--yes: msb's summary lines, then 'Nothing to prune.'; a pinned image stays in both", async () => {
    const [ours, theirs] = await twins();
    await Promise.all([pinImage(ours, "app:1", { name: "pin" }), pinImage(theirs, "app:1", { name: "pin" })]);
    const [o, t] = await Promise.all([cli(ours, ["prune", "--yes"]), msbImage(theirs, ["prune", "--yes"])]);
    expectSameRun(o, t);
    expect(o.stderr).toBe("   ✓ Pruned       image cache\n");
    // app:1's manifest (also app:latest's and docker.io/library/app:2's) and the shared base layer stay
    expect(o.stdout).toMatch(/^ {2}Image refs: {3}4\n {2}Manifests: {4}4\n {2}Layers: {7}4\n {2}Fsmeta: {7}4\n {2}VMDK: {9}4\n {2}Reclaimed: {4}[\d.]+ KiB\n$/);
    expect(await refsOf(ours)).toEqual(["app:1", "app:latest", "docker.io/library/app:2"]);
    expect(await refsOf(ours)).toEqual(await refsOf(theirs));
    expect(await artifacts(ours)).toEqual(await artifacts(theirs));
    const [o2, t2] = await Promise.all([cli(ours, ["prune", "-y"]), msbImage(theirs, ["prune", "-y"])]);
    expectSameRun(o2, t2);
    expect(o2).toMatchObject({ code: 0, stdout: "", stderr: "Nothing to prune.\n" });
  });

  it("--yes --format json: msb's six keys and values, plus the full report; -q prints nothing", async () => {
    const [ours, theirs] = await twins();
    const [o, t] = await Promise.all([cli(ours, ["prune", "--yes", "--format", "json"]), msbImage(theirs, ["prune", "--yes", "--format", "json"])]);
    expect(o.code).toBe(0);
    const mine = JSON.parse(o.stdout) as Record<string, unknown>;
    const msb = JSON.parse(t.stdout) as Record<string, unknown>;
    for (const k of Object.keys(msb)) expect({ [k]: mine[k] }).toEqual({ [k]: msb[k] });
    expect(Object.keys(mine)).toEqual([...Object.keys(mine)].sort());
    expect(mine).toMatchObject({ dry_run: false, aborted: false, errors: [], layer_files_removed: 6, metadata_removed: 7 });
    expect((mine.removed as { references: unknown[] }).references).toHaveLength(7);
    const [q1, q2] = await twins();
    const [oq, tq] = await Promise.all([cli(q1, ["prune", "-y", "-q"]), msbImage(q2, ["prune", "-y", "-q"])]);
    expectSameRun(oq, tq);
    expect(oq).toMatchObject({ code: 0, stdout: "", stderr: "" });
  });
});

describe("prune beyond msb", () => {
  it("--dry-run changes nothing and reports exactly what the real run then does", async () => {
    const [ours] = await twins();
    await pinImage(ours, "tools:2.0", { name: "keeper" });
    const before = await artifacts(ours);
    const dry = await cli(ours, ["prune", "--dry-run", "--format", "json"]);
    // (a dry run tries msb's locks, so it may leave 0-byte manifests/*.lock files, as a pull does)
    expect(await artifacts(ours)).toEqual(before);
    const real = await cli(ours, ["prune", "--yes", "--format", "json"]);
    const d = JSON.parse(dry.stdout) as Record<string, unknown>;
    const r = JSON.parse(real.stdout) as Record<string, unknown>;
    expect(d.dry_run).toBe(true);
    // the file system's free space is measured after a real run (other files there change it too)
    // (a plain real prune does not walk the cache to measure it: bytes_before/after null)
    const fs = (x: Record<string, unknown>) => ({
      ...x,
      space: { ...(x.space as object), fs_free_before: 0, fs_free_after: 0, bytes_before: 0, bytes_after: 0 },
    });
    expect((r.space as { bytes_before: unknown }).bytes_before).toBeNull();
    expect(fs({ ...d, dry_run: false })).toEqual(fs(r));
    expect((d.space as { bytes_after: number }).bytes_after).toBeLessThan((d.space as { bytes_before: number }).bytes_before);
    // and the table form says what it would do, and what it keeps and why
    const [again] = await twins();
    await pinImage(again, "tools:2.0", { name: "keeper" });
    const table = await cli(again, ["prune", "--dry-run"]);
    expect(table.code).toBe(0);
    expect(table.stderr).toBe("   ✓ Would prune  image cache\n");
    expect(table.stdout).toContain("  Reclaimable:  ");
    expect(table.stdout).toMatch(/\n {2}On disk: +[\d.]+ KiB → [\d.]+ KiB\n {2}FS free: +.+ → .+ of /);
    expect(table.stdout).toMatch(/\nWould remove \(6\)\n {2}base:1\n/);
    expect(table.stdout).toMatch(/\nWould keep \(1\)\n {2}tools:2\.0 {4}pinned\n$/);
    expect((await cli(again, ["prune", "--dry-run", "-q"])).stdout.trim().split("\n").sort()).toEqual(SAMPLE_REFERENCES.filter((r) => r !== "tools:2.0").sort());
  });

  it("--keep, --filter, --min-age, --older-than, --max-size, --min-free, --reserved reach the library's policies", async () => {
    const [home] = await twins();
    const names = async (args: string[]) => {
      const r = await cli(home, ["prune", "--dry-run", "-q", ...args]);
      expect(r.code).toBe(0);
      return r.stdout.split("\n").filter(Boolean).sort();
    };
    expect(await names(["--keep", "app:*", "--keep", "base:1"])).toEqual(["docker.io/library/app:2", "localhost:5000/team/app:1", "plain", "tools:2.0"]);
    expect(await names(["--filter", "reference=*:1"])).toEqual(["app:1", "base:1"]);
    expect(await names(["--filter", "label=com.example.team=core"])).toEqual(["app:1", "app:latest", "docker.io/library/app:2"]);
    expect(await names(["--min-age", "1h"])).toEqual([]);
    expect(await names(["--older-than", "1h"])).toEqual([]);
    expect(await names(["--max-size", "1TiB"])).toEqual([]);
    expect(await names(["--max-size", "0"])).toEqual([...SAMPLE_REFERENCES].sort());
    expect(await names(["--max-size", "100%"])).toEqual([]);
    expect(await names(["--max-size", "0%"])).toEqual([...SAMPLE_REFERENCES].sort());
    expect(await names(["--min-free", "1KiB"])).toEqual([]); // already free
    expect(await names(["--min-free", "100%", "--reserved", "1TiB"])).toEqual([]); // the reserve wins
    const json = await cli(home, ["prune", "--dry-run", "--format", "json", "--min-free", "100%"]);
    const space = (JSON.parse(json.stdout) as { space: { budget: { min_free_space: number }; fs_size: number; met: boolean } }).space;
    expect(space.budget.min_free_space).toBe(space.fs_size);
    expect(space.met).toBe(false);
    for (const bad of [["--min-free", "101%"], ["--reserved", "10"], ["--max-size", "5"]]) {
      const r = await cli(home, ["prune", "--dry-run", ...bad]);
      expect(r.code, bad.join(" ")).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`^error: invalid value '${bad[1]}' for '${bad[0]} <SIZE>'`));
    }
    // a real run with a policy and --yes
    const r = await cli(home, ["prune", "--yes", "--filter", "reference=app:*"]);
    expect(r).toMatchObject({ code: 0, stderr: "   ✓ Pruned       image cache\n" });
    expect(await refsOf(home)).toEqual(["base:1", "docker.io/library/app:2", "localhost:5000/team/app:1", "plain", "tools:2.0"]);
  });
});

describe("df", () => {
  it("JSON: bytes by kind and image; reclaimable equals what prune then reclaims; -q the total", async () => {
    const [home] = await twins();
    const df = await cli(home, ["df", "--format", "json"]);
    expect(df.code).toBe(0);
    const u = JSON.parse(df.stdout) as { total_bytes: number; by_kind: Record<string, number>; reclaimable_bytes: number; images: { reference: string; digest: string }[] };
    expect(Object.keys(u)).toEqual(["allocated_bytes", "by_kind", "images", "reclaimable_bytes", "total_bytes"]);
    expect(u.total_bytes).toBe((await listFiles(join(home, "cache"))).reduce((n, f) => n + f.size, 0));
    expect(Object.values(u.by_kind).reduce((a, b) => a + b, 0)).toBe(u.total_bytes);
    expect(u.images.map((i) => i.reference).sort()).toEqual([...SAMPLE_REFERENCES].sort());
    expect((await cli(home, ["df", "-q"])).stdout).toBe(`${u.total_bytes}\n`);
    const table = await cli(home, ["df", "-v"]);
    expect(table.stdout).toMatch(/^KIND {15}SIZE\nlayers \(EROFS\) {5}/);
    expect(table.stdout).toMatch(/\nREFERENCE {20}DIGEST {17}VIRTUAL {5}UNIQUE {6}SHARED {6}LAST USED {14}PINNED BY\n/);
    const pruned = JSON.parse((await cli(home, ["prune", "-y", "--format", "json"])).stdout) as { bytes_reclaimed: number };
    expect(pruned.bytes_reclaimed).toBe(u.reclaimable_bytes);
  });
});

describe("verify", () => {
  it("a sound msb-made cache: 'Verified', exit 0; -q prints nothing", async () => {
    const r = await cli(master, ["verify"]);
    expect(r).toMatchObject({ code: 0, stderr: "   ✓ Verified     image cache\n" });
    expect(r.stdout).toMatch(/^ {2}References: {3}7\n {2}Manifests: {4}5\n {2}Layers: {7}6\n {2}Files: {8}\d+\n {2}Findings: {5}0\n$/);
    expect(await cli(master, ["verify", "-q"])).toMatchObject({ code: 0, stdout: "", stderr: "" });
  });

  it("planted faults: found with paths (exit 1, nothing changed); --repair fixes what it may, the missing file stays a finding", async () => {
    const home = await copyHome(master); // a copy: its VMDKs still point into the master home
    const cache = join(home, "cache");
    const orphan = join(cache, "layers", `sha256_${"e".repeat(64)}.erofs`);
    await writeFile(orphan, Buffer.alloc(4096));
    const tools = (JSON.parse((await cli(home, ["inspect", "tools:2.0", "--format", "json"])).stdout) as { layers: { diff_id: string }[] }).layers[0]!.diff_id;
    await rm(join(cache, "layers", `${tools.replace(":", "_")}.erofs`));

    const before = await artifacts(home);
    const found = await cli(home, ["verify", "--format", "json", "--grace", "0s"]);
    expect(found.code).toBe(1);
    expect(await artifacts(home)).toEqual(before);
    const report = JSON.parse(found.stdout) as { ok: boolean; dry_run: boolean; findings: { kind: string; path: string | null; references: string[]; repairable: boolean }[] };
    expect(report).toMatchObject({ ok: false, dry_run: true });
    const kinds = report.findings.map((f) => f.kind);
    // tools:2.0's VMDK names the missing file: a mismatch, not repairable; the other four only point elsewhere
    expect(kinds.filter((k) => k === "vmdk-foreign-path")).toHaveLength(4);
    expect(report.findings.find((f) => f.kind === "vmdk-mismatch")).toMatchObject({ references: ["tools:2.0"], repairable: false });
    expect(report.findings.find((f) => f.kind === "orphan-file")).toMatchObject({ path: orphan, repairable: true });
    expect(report.findings.find((f) => f.kind === "missing-file")).toMatchObject({ references: ["tools:2.0"], repairable: false });
    expect(await cli(home, ["verify", "-q", "--grace", "0s"])).toMatchObject({ code: 1, stdout: "", stderr: "" });

    const table = await cli(home, ["verify", "--grace", "0s"]);
    expect(table.code).toBe(1);
    expect(table.stdout).toMatch(/\nKIND {17}PATH {2,}REFERENCES {2,}SIZE {2,}REPAIR\n/);
    // Paths relative to the cache, digests shortened; every line fits 120 columns; each finding's
    // message under its row (word-wrapped, indented); --format json above has the full paths.
    expect(table.stdout).toMatch(new RegExp(`\norphan-file {10}layers/sha256_${"e".repeat(12)}…\\.erofs {2,}- {2,}4\\.0 KiB {2,}repairable\n {2}\\S`));
    expect(table.stdout).not.toContain(cache + "/");
    for (const line of table.stdout.split("\n")) expect([...line].length, line).toBeLessThanOrEqual(120);
    const flat = table.stdout.replace(/\n {2}(?=\S)/g, " ");
    for (const f of (report as unknown as { findings: { message: string }[] }).findings) expect(flat).toContain(f.message.split(cache + "/").join(""));
    expect(table.stdout).toMatch(/\nmissing-file {2,}layers\/sha256_[0-9a-f]{12}…\.erofs {2,}tools:2\.0 {2,}/);
    expect(table.stderr).toMatch(/^ {3}✓ Checked {6}image cache\nwarn: run with --repair/);

    const repaired = await cli(home, ["verify", "--repair", "--grace", "0s"]);
    expect(repaired.code).toBe(1); // the missing layer file cannot be repaired
    expect(repaired.stdout).toMatch(/ {2}Removed: {6}1\n {2}Rewritten: {4}4\n {2}Reclaimed: {4}4\.0 KiB\n/);
    expect(await readdir(join(cache, "layers"))).not.toContain(`sha256_${"e".repeat(64)}.erofs`);
    const pointing = [];
    for (const f of await readdir(join(cache, "vmdk"))) {
      if (f.endsWith(".vmdk") && (await readFile(join(cache, "vmdk", f), "utf8")).includes(master)) pointing.push(f);
    }
    expect(pointing).toHaveLength(1); // tools:2.0's, which names the missing file
    const after = JSON.parse((await cli(home, ["verify", "--format", "json", "--grace", "0s"])).stdout) as { findings: { kind: string }[] };
    expect(after.findings.map((f) => f.kind).sort()).toEqual(["missing-file", "vmdk-mismatch"]);
  });
});
