// The CLI's argument parser and value parsers in process (the commands themselves are tested by
// running the built binary next to msb in read/mutate/tty.test.ts).
import { describe, expect, it } from "vitest";

import { UsageError, parseCommandLine, parseDuration, parseFilters, parseSize } from "../../lib/cli/args";

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
