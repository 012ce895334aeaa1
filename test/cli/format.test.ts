// The CLI's formatters and value parsers, in process (the commands themselves are tested by
// running the built binary next to msb in read/mutate/tty.test.ts).
import { afterAll, describe, expect, it } from "vitest";

import { UsageError, parseCommandLine, parseDuration, parseFilters, parseSize } from "../../lib/cli/args";
import { cleanupHomes, makeHome, msbImage, sql, sqlTx } from "../support/msb";
import { buildSampleCache } from "../support/sample-cache";
import { colorsEnabled, displayWidth, formatBytes, formatRfc3339, renderTable, styler, truncateDigest } from "../../lib/cli/format";

const BYTES_ROWS: Array<[number, string]> = [
    [0, "0 B"],
    [1023, "1023 B"],
    [1024, "1.0 KiB"],
    [1152, "1.1 KiB"], // 1.125
    [1280, "1.2 KiB"], // 1.25: Rust rounds ties to even
    [1792, "1.8 KiB"], // 1.75
    [3328, "3.2 KiB"], // 3.25
    [16896, "16.5 KiB"],
    [1048535, "1024.0 KiB"], // 1023.96 KiB: the unit is chosen before rounding
    [1048576, "1.0 MiB"],
    [14_628_864, "14.0 MiB"],
    [1024 ** 3, "1.0 GiB"],
    [1024 ** 4, "1.0 TiB"],
    [5 * 1024 ** 5, "5120.0 TiB"],
    [-5, "0 B"],
];

describe("formatBytes: microsandbox_utils::format_bytes (checked against msb's ls)", () => {
  it.each(BYTES_ROWS)("%d → %s", (n, s) => expect(formatBytes(n)).toBe(s));

  afterAll(cleanupHomes);
  it("every row is what `msb image ls` prints in its SIZE column for that total_size_bytes", async () => {
    const home = await makeHome();
    await buildSampleCache(home);
    const manifests = (await sql<{ id: number; reference: string }>(home, "SELECT manifest_id AS id, min(reference) AS reference FROM image_ref GROUP BY manifest_id ORDER BY manifest_id"));
    expect(manifests.length).toBeGreaterThan(1);
    for (let i = 0; i < BYTES_ROWS.length; i += manifests.length) {
      const batch = BYTES_ROWS.slice(i, i + manifests.length);
      await sqlTx(home, batch.map(([n], k) => ({ sql: "UPDATE manifest SET total_size_bytes = ? WHERE id = ?", params: [n, manifests[k]!.id] })));
      const r = await msbImage(home, ["ls"]);
      expect(r.code).toBe(0);
      const [header, ...lines] = r.stdout.split("\n").filter((l) => l.length > 0);
      const from = header!.indexOf("SIZE");
      const to = header!.indexOf("CREATED");
      expect(from).toBeGreaterThan(0);
      const sizeOf = new Map(lines.map((l) => [l.split(/\s+/)[0]!, l.slice(from, to).trim()]));
      for (const [k, [n, text]] of batch.entries()) {
        const theirs = sizeOf.get(manifests[k]!.reference);
        expect({ n, msb: theirs }).toEqual({ n, msb: text });
        expect(formatBytes(n)).toBe(theirs);
      }
    }
  });
});

describe("formatRfc3339: chrono's to_rfc3339 (0, 3, 6 or 9 fraction digits)", () => {
  const ms = Date.UTC(2026, 0, 2, 3, 4, 5);
  it.each([
    [{ ms, subMsNanos: 0 }, "2026-01-02T03:04:05+00:00"],
    [{ ms: ms + 500, subMsNanos: 0 }, "2026-01-02T03:04:05.500+00:00"],
    [{ ms: ms + 123, subMsNanos: 456000 }, "2026-01-02T03:04:05.123456+00:00"],
    [{ ms: ms + 160, subMsNanos: 621718 }, "2026-01-02T03:04:05.160621718+00:00"],
    [{ ms, subMsNanos: 1 }, "2026-01-02T03:04:05.000000001+00:00"],
    [{ ms: Date.UTC(1969, 11, 31, 23, 59, 59, 999), subMsNanos: 999999 }, "1969-12-31T23:59:59.999999999+00:00"],
  ])("%j → %s", (t, s) => expect(formatRfc3339(t)).toBe(s));
});

it("truncateDigest", () => {
  expect(truncateDigest("sha256:" + "a".repeat(64))).toBe("sha256:aaaaaaaaaaaa");
  expect(truncateDigest("sha512:" + "b".repeat(128))).toBe("sha512:bbbbbbbbbbbb");
});

it("table: widest cell + 4 spaces, by display width; cyan bold header only with colours", () => {
  const rows = [["日本:1", "x"], ["abc", "y"]];
  expect(displayWidth("日本:1")).toBe(6);
  expect(renderTable(["REF", "V"], rows, styler(false))).toBe("REF       V\n日本:1    x\nabc       y\n");
  expect(renderTable(["REF", "V"], rows, styler(true)).split("\n")[0]).toBe("\x1b[36m\x1b[1mREF       V\x1b[0m");
  expect(renderTable(["REF"], [], styler(false))).toBe("");
});

it("colours follow the console crate: stdout a TTY, NO_COLOR, TERM, CLICOLOR, CLICOLOR_FORCE", () => {
  expect(colorsEnabled({ TERM: "xterm" }, true)).toBe(true);
  expect(colorsEnabled({ TERM: "xterm" }, false)).toBe(false);
  expect(colorsEnabled({ TERM: "xterm", NO_COLOR: "" }, true)).toBe(false);
  expect(colorsEnabled({ TERM: "dumb" }, true)).toBe(false);
  expect(colorsEnabled({}, true)).toBe(false);
  expect(colorsEnabled({ TERM: "xterm", CLICOLOR: "0" }, true)).toBe(false);
  expect(colorsEnabled({ CLICOLOR_FORCE: "1" }, false)).toBe(true);
});

describe("values", () => {
  const u = "usage";
  it("durations", () => {
    expect(parseDuration("7d", "--older-than", u)).toBe(7 * 86_400_000);
    expect(parseDuration("10m", "--min-age", u)).toBe(600_000);
    expect(parseDuration("1h30m", "--min-age", u)).toBe(5_400_000);
    expect(parseDuration("1.5h", "--min-age", u)).toBe(5_400_000);
    expect(parseDuration("500ms", "--min-age", u)).toBe(500);
    expect(parseDuration("2w", "--min-age", u)).toBe(14 * 86_400_000);
    for (const bad of ["7", "", "d", "7 d", "7dd", "-1d", "1h3"]) expect(() => parseDuration(bad, "--older-than", u)).toThrow(UsageError);
  });
  it("sizes", () => {
    expect(parseSize("20GiB", "--max-size", u)).toBe(20 * 1024 ** 3);
    expect(parseSize("20G", "--max-size", u)).toBe(20 * 1024 ** 3);
    expect(parseSize("20gb", "--max-size", u)).toBe(20e9);
    expect(parseSize("1.5MiB", "--max-size", u)).toBe(1.5 * 1024 ** 2);
    expect(parseSize("1048576B", "--max-size", u)).toBe(1048576);
    expect(parseSize("0", "--max-size", u)).toBe(0);
    for (const bad of ["", "1x", "-1", "GiB", "1e3"]) expect(() => parseSize(bad, "--max-size", u)).toThrow(UsageError);
    // a size without a unit is a usage error, not bytes: `--max-size 10` once meant 10 bytes and pruned everything
    expect(() => parseSize("10", "--max-size", u)).toThrow(/needs a unit: did you mean 10GiB/);
  });
  it("filters", () => {
    expect(parseFilters([], u)).toBeUndefined();
    expect(parseFilters(["reference=app:*", "reference=*/team/*", "label=a=b", "label=c=d=e", "label=empty="], u)).toEqual({
      reference: ["app:*", "*/team/*"],
      label: { a: "b", c: "d=e", empty: "" },
    });
    for (const bad of [["foo=bar"], ["label=novalue"], ["reference="], ["label==v"], ["label=a=b", "label=a=c"]]) expect(() => parseFilters(bad, u)).toThrow(UsageError);
  });
});

describe("parseCommandLine", () => {
  it("global options before or after the command; aliases; repeatable options", () => {
    const p = parseCommandLine(["--home", "/h", "prune", "--keep", "a", "-y", "--keep=b", "--format", "json", "-q"]);
    expect(p.command!.name).toBe("prune");
    expect(p.values).toMatchObject({ home: "/h", keep: ["a", "b"], yes: true, format: "json", quiet: true });
    expect(parseCommandLine(["list"]).command!.name).toBe("ls");
    expect(parseCommandLine(["remove", "-f", "a", "b"])).toMatchObject({ args: ["a", "b"], values: { force: true } });
    expect(parseCommandLine(["rm", "--", "-weird"]).args).toEqual(["-weird"]);
  });
  it("options of another command, missing and extra arguments are usage errors", () => {
    expect(() => parseCommandLine(["ls", "-f"])).toThrow(/unexpected argument '-f' found/);
    expect(() => parseCommandLine(["df", "--yes"])).toThrow(/unexpected argument '--yes' found/);
    expect(() => parseCommandLine(["inspect"])).toThrow(/required arguments were not provided/);
    expect(() => parseCommandLine(["ls", "x"])).toThrow(/unexpected argument 'x' found/);
    expect(() => parseCommandLine(["ls", "--format", "xml"])).toThrow(/invalid value 'xml' for '--format <FORMAT>'/);
    expect(() => parseCommandLine(["prune", "--max-size", "-1"])).toThrow(/--max-size=VALUE/);
    expect(() => parseCommandLine([])).toThrow(/a subcommand is required/);
  });
  it("--help and --version win anywhere", () => {
    expect(parseCommandLine(["prune", "--bogus", "--help"])).toMatchObject({ help: true });
    expect(parseCommandLine(["-V"])).toMatchObject({ version: true });
  });
});
