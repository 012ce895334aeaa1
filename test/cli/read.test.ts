// The CLI's read commands (ls, inspect) and its argument handling, against `msb image …` 0.6.18 on
// the same msb-made homes: byte-for-byte output, same streams, same exit codes.
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { cli, ensureCliBuilt } from "../support/cli";
import { cleanupHomes, copyHome, makeHome, msbImage, sql, sqlTx, type RunResult } from "../support/msb";
import { SAMPLE_REFERENCES, buildSampleCache } from "../support/sample-cache";

const LONG_REF = "registry.example.com:5000/a/very/long/repository/name/for/column/widths:v1.2.3";

let home: string; // the sample cache, as msb loaded it
let odd: string; // the same with hand-set timestamps, sizes and a long reference (msb-written rows, edited)

beforeAll(async () => {
  await ensureCliBuilt();
  home = await makeHome();
  await buildSampleCache(home);
  odd = await copyHome(home);
  // Fraction digits 0/1/3/6/9 and a `T…Z` form; sizes on rounding ties (Rust rounds 1.25 to 1.2),
  // just under a unit (1023.96 KiB prints as 1024.0 KiB), NULL and negative.
  const refs = await sql<{ id: number; manifest_id: number }>(odd, "SELECT id, manifest_id FROM image_ref ORDER BY id");
  const times = ["2026-01-02 03:04:05", "2026-01-02 03:04:05.5", "2026-01-02 03:04:05.123456", "2026-01-02 03:04:05.120000", "2026-07-02T03:04:05Z", "2026-01-02 03:04:05.000000001", "1999-12-31 23:59:59.999999999"];
  // One size per manifest (the sample has five): NULL and -5 must land on manifests that exist.
  const manifests = [...new Set(refs.map((r) => r.manifest_id))];
  const sizes = [1280, null, 1048535, -5, 3328];
  expect(manifests).toHaveLength(sizes.length);
  await sqlTx(odd, [
    ...refs.map((r, i) => ({ sql: "UPDATE image_ref SET created_at = ? WHERE id = ?", params: [times[i]!, r.id] })),
    ...manifests.map((m, i) => ({ sql: "UPDATE manifest SET total_size_bytes = ? WHERE id = ?", params: [sizes[i]!, m] })),
    { sql: "UPDATE image_ref SET reference = ? WHERE reference = 'plain'", params: [LONG_REF] },
    { sql: "UPDATE layer SET compressed_size_bytes = NULL WHERE id = (SELECT min(id) FROM layer)" },
  ]);
  // The odd rows are really there: a NULL and a negative size on manifests that references name.
  const [got] = await sql<{ nulls: number; negatives: number }>(
    odd,
    "SELECT sum(m.total_size_bytes IS NULL) AS nulls, sum(m.total_size_bytes < 0) AS negatives FROM image_ref r JOIN manifest m ON m.id = r.manifest_id",
  );
  expect(got!.nulls).toBeGreaterThan(0);
  expect(got!.negatives).toBeGreaterThan(0);
});
afterAll(cleanupHomes);

/** Runs ours and msb at once (read-only commands), then expects the same output. */
async function same(h: string, ours: string[], theirs: string[], env?: Record<string, string>): Promise<RunResult> {
  const [o, t] = await Promise.all([cli(h, ours, { env }), msbImage(h, theirs, { env })]);
  expectSame(o, t);
  return o;
}

function expectSame(ours: RunResult, theirs: RunResult): void {
  expect({ code: ours.code, stdout: ours.stdout, stderr: ours.stderr }).toEqual({ code: theirs.code, stdout: theirs.stdout, stderr: theirs.stderr });
}

/** Our JSON with the keys msb does not print removed (they may only be added, never renamed). */
function withoutExtras(text: string, extra: RegExp): string {
  return text.replace(extra, "");
}

describe("ls", () => {
  it.each([
    // Homes by name: the table is built when the file is collected, before beforeAll() made them
    // (a `[home, odd]` here was `[undefined, undefined]`, so both tools listed an empty default home).
    [["ls"], ["ls"], ["home", "odd"]],
    [["list", "--format", "table"], ["list"], ["odd"]],
    [["ls", "-q"], ["ls", "-q"], ["home"]],
    [["--quiet", "ls"], ["ls", "--quiet"], ["odd"]],
  ])("%j equals msb image %j", async (ours, theirs, names) => {
    const homes = names.map((n) => (n === "home" ? home : odd));
    for (const h of homes) expect(h).toBeTruthy();
    const outs = await Promise.all(homes.map((h) => same(h, ours, theirs)));
    for (const o of outs) expect(o.stdout).toContain(ours.some((a) => a === "-q" || a === "--quiet") ? "tools:2.0" : "REFERENCE");
  });

  it("the table shows CREATED in the local time zone, as msb does", async () => {
    const seen = new Set<string>();
    for (const TZ of ["Asia/Kolkata", "America/New_York"]) seen.add((await same(odd, ["ls"], ["ls"], { TZ })).stdout);
    expect(seen.size).toBe(2);
  });

  it("--format json: msb's keys, values and times (9-digit fractions, +00:00), plus last_used_at", async () => {
    for (const h of [odd]) {
      const ours = await cli(h, ["ls", "--format", "json"]);
      const theirs = await msbImage(h, ["ls", "--format", "json"]);
      expect(ours.code).toBe(0);
      expect(withoutExtras(ours.stdout, /^ {4}"last_used_at": .*\n/gm)).toBe(theirs.stdout);
      const rows = JSON.parse(ours.stdout) as Record<string, unknown>[];
      expect(rows.map((r) => Object.keys(r))).toEqual(
        rows.map(() => ["architecture", "created_at", "digest", "last_used_at", "layer_count", "os", "reference", "size_bytes"]),
      );
    }
    const times = (JSON.parse((await cli(odd, ["ls", "--format", "json"])).stdout) as { created_at: string }[]).map((r) => r.created_at);
    expect(times).toEqual(
      expect.arrayContaining(["2026-07-02T03:04:05+00:00", "2026-01-02T03:04:05.500+00:00", "2026-01-02T03:04:05.123456+00:00", "2026-01-02T03:04:05.000000001+00:00", "1999-12-31T23:59:59.999999999+00:00"]),
    );
  });

  it("an empty home: 'No images found.' on stderr, [] in JSON, nothing with -q", async () => {
    const empty = await makeHome();
    const mine = await cli(empty, ["ls"]);
    // msb creates its database on first use; run it on its own empty home.
    const theirs = await msbImage(await makeHome(), ["ls"]);
    expectSame(mine, theirs);
    expect(mine.stderr).toBe("No images found.\n");
    expect((await cli(empty, ["ls", "--format", "json"])).stdout).toBe("[]\n");
    expect(await cli(empty, ["ls", "-q"])).toMatchObject({ code: 0, stdout: "", stderr: "" });
    // and it never creates msb's database
    await expect(stat(join(empty, "db"))).rejects.toThrow();
  });

  it("--home DIR wins over MSB_HOME", async () => {
    const ours = await cli("/nonexistent/msb-home", ["--home", home, "ls"]);
    expectSame(ours, await msbImage(home, ["ls"]));
    const eq = await cli("/nonexistent/msb-home", [`--home=${home}`, "ls", "-q"]);
    expect(eq.stdout.trim().split("\n").sort()).toEqual([...SAMPLE_REFERENCES].sort());
  });
});

describe("inspect", () => {
  it("the detail view equals msb's for every reference", async () => {
    await Promise.all(["app:1", "localhost:5000/team/app:1", "plain", "tools:2.0"].map((ref) => same(home, ["inspect", ref], ["inspect", ref])));
    // NULL and odd sizes, old times, the first layer's size NULL ("-")
    await Promise.all([LONG_REF, "base:1", "app:latest"].map((ref) => same(odd, ["inspect", ref], ["inspect", ref])));
  });

  it("--format json equals msb's, plus last_used_at and the layers' real erofs_size_bytes", async () => {
    for (const ref of ["app:1", "localhost:5000/team/app:1", "tools:2.0"]) {
      const ours = await cli(home, ["inspect", ref, "--format", "json"]);
      const theirs = await msbImage(home, ["inspect", ref, "--format", "json"]);
      expect(ours.code).toBe(0);
      const plain = withoutExtras(ours.stdout, /^ {2}"last_used_at": .*\n/gm).replace(/"erofs_size_bytes": \d+/g, '"erofs_size_bytes": null');
      expect(plain).toBe(theirs.stdout);
      // msb never fills erofs_size_bytes; ours is each layer file's size (EROFS superblock).
      const detail = JSON.parse(ours.stdout) as { layers: { diff_id: string; erofs_size_bytes: number }[] };
      for (const l of detail.layers) {
        const file = join(home, "cache", "layers", `${l.diff_id.replace(":", "_")}.erofs`);
        expect(l.erofs_size_bytes).toBe((await stat(file)).size);
      }
    }
  });

  it("-q prints the manifest digest", async () => {
    const json = JSON.parse((await cli(home, ["inspect", "app:1", "--format", "json"])).stdout) as { digest: string };
    expect(await cli(home, ["inspect", "-q", "app:1"])).toMatchObject({ code: 0, stdout: json.digest + "\n" });
  });

  it("a missing image: msb's error line and exit code 1", async () => {
    for (const args of [["inspect", "nope:1", "--format", "json"]]) {
      const ours = await cli(home, args);
      expectSame(ours, await msbImage(home, args));
      expect(ours).toMatchObject({ code: 1, stdout: "", stderr: "error: image not found: nope:1\n" });
    }
  });
});

describe("usage", () => {
  it.each([
    [["ls", "--bogus"], ["ls", "--bogus"]],
    [["inspect"], ["inspect"]],
    [["inspect", "a", "b"], ["inspect", "a", "b"]],
    [["rm"], ["rm"]],
    [["ls", "--format", "yaml"], ["ls", "--format", "yaml"]],
  ])("%j: exit 2 with clap's first line, like msb image %j", async (ours, theirs) => {
    const o = await cli(home, ours);
    const t = await msbImage(home, theirs);
    expect(o.code).toBe(2);
    expect(t.code).toBe(2);
    expect(o.stdout).toBe("");
    expect(o.stderr.split("\n")[0]).toBe(t.stderr.split("\n")[0]);
    expect(o.stderr).toMatch(/\n\nUsage: msb-image-cache .*\n\nFor more information, try '--help'\.\n$/);
  });

  it("unknown or missing command, bad option values: exit 2", async () => {
    expect(await cli(home, ["frobnicate"])).toMatchObject({ code: 2, stdout: "" });
    expect((await cli(home, ["frobnicate"])).stderr).toMatch(/^error: unrecognized subcommand 'frobnicate'/);
    expect(await cli(home, [])).toMatchObject({ code: 2 });
    expect(await cli(home, ["--home"])).toMatchObject({ code: 2 });
    for (const bad of [["--older-than", "7"], ["--min-age", "1h3"], ["--max-size=-1"], ["--filter", "label=novalue"]]) {
      const r = await cli(home, ["prune", "--dry-run", ...bad]);
      expect({ bad, code: r.code, stdout: r.stdout }).toEqual({ bad, code: 2, stdout: "" });
      expect(r.stderr).toMatch(/^error: invalid value/);
    }
  });

  it("a mistyped command or flag: exit 2 with clap's 'tip: a similar … exists' (edit distance); nothing near, no tip", async () => {
    const tipOf = async (args: string[]) => {
      const r = await cli(home, args);
      expect({ args, code: r.code, stdout: r.stdout }).toEqual({ args, code: 2, stdout: "" });
      return r.stderr;
    };
    expect(await tipOf(["lss"])).toMatch(/^error: unrecognized subcommand 'lss'\n\n {2}tip: a similar subcommand exists: 'ls'\n\nUsage: msb-image-cache \[OPTIONS\] <COMMAND>\n/);
    expect(await tipOf(["pune", "--dry-run"])).toMatch(/tip: a similar subcommand exists: 'prune'\n/);
    expect(await tipOf(["help", "verfy"])).toMatch(/^error: unrecognized subcommand 'verfy'\n\n {2}tip: a similar subcommand exists: 'verify'\n/);
    expect(await tipOf(["prune", "--dry-rn"])).toMatch(/^error: unexpected argument '--dry-rn' found\n\n {2}tip: a similar argument exists: '--dry-run'\n\nUsage: msb-image-cache prune/);
    expect(await tipOf(["rm", "--forc", "x"])).toMatch(/tip: a similar argument exists: '--force'\n/);
    expect(await tipOf(["ls", "--frmat=json"])).toMatch(/^error: unexpected argument '--frmat' found\n\n {2}tip: a similar argument exists: '--format'\n/);
    // msb's own wording for a flag it suggests (clap), first two lines identical
    const theirs = await msbImage(home, ["rm", "--forc", "x"]);
    expect((await tipOf(["rm", "--forc", "x"])).split("\n").slice(0, 3)).toEqual(theirs.stderr.split("\n").slice(0, 3));
    expect(await tipOf(["frobnicate"])).not.toMatch(/tip:/);
    expect(await tipOf(["ls", "--bogus"])).not.toMatch(/tip:/);
  });

  it("an option whose value is missing says so (not '--keep=--dry-run'), and nothing runs", async () => {
    const before = await cli(home, ["ls", "-q"]);
    for (const [args, expected] of [
      [["prune", "--keep", "--dry-run"], "'--keep <REF|GLOB>'"],
      [["prune", "--dry-run", "--keep"], "'--keep <REF|GLOB>'"],
      [["prune", "--older-than", "-y"], "'--older-than <DUR>'"],
      [["verify", "--grace", "--repair"], "'--grace <DUR>'"],
      [["ls", "--format", "-q"], "'--format <FORMAT>'"],
    ] as [string[], string][]) {
      const r = await cli(home, args);
      expect({ args, code: r.code, stdout: r.stdout }).toEqual({ args, code: 2, stdout: "" });
      expect(r.stderr.split("\n")[0]).toBe(`error: a value is required for ${expected} but none was supplied`);
    }
    // A value that only starts with '-' keeps the hint to write it with '='.
    expect((await cli(home, ["prune", "--older-than", "-5d"])).stderr).toMatch(/^error: a value starting with '-' for '--older-than' must be written as --older-than=VALUE/);
    expect(await cli(home, ["ls", "-q"])).toEqual(before);
  });

  it("--help and --version print on stdout and exit 0", async () => {
    const version = (JSON.parse(await readFile(join(__dirname, "..", "..", "package.json"), "utf8")) as { version: string }).version;
    expect(await cli(home, ["--version"])).toMatchObject({ code: 0, stdout: `msb-image-cache ${version}\n`, stderr: "" });
    const top = await cli(home, ["--help"]);
    expect(top.code).toBe(0);
    for (const c of ["ls", "inspect", "rm", "prune", "df", "verify"]) expect(top.stdout).toMatch(new RegExp(`^  ${c} `, "m"));
    const prune = await cli(home, ["prune", "--help"]);
    expect(prune.stdout).toMatch(/Usage: msb-image-cache prune \[OPTIONS\]/);
    for (const o of ["--yes", "--dry-run", "--older-than", "--min-age", "--max-size", "--keep", "--filter"]) expect(prune.stdout).toContain(o);
    expect((await cli(home, ["help", "rm"])).stdout).toMatch(/Usage: msb-image-cache rm \[OPTIONS\] <REFERENCES>\.\.\./);
  });
});
