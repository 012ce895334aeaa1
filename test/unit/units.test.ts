import { describe, expect, it } from "vitest";
import { UnitSyntaxError, parseDuration, parseSize, parseSizeOrShare } from "../../lib/units";

// The one parser behind the CLI's --older-than/--max-size and the library's string options.
describe("units", () => {
  it("durations: units summed, bare numbers refused", () => {
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("1.5h")).toBe(5_400_000);
    expect(parseDuration(" 7d ")).toBe(7 * 86_400_000);
    expect(parseDuration("500ms")).toBe(500);
    for (const bad of ["7", "", "d", "7 d", "7dd", "-1d", "1h3"]) expect(() => parseDuration(bad)).toThrow(UnitSyntaxError);
  });
  it("sizes: binary and decimal units, a unit required except for 0", () => {
    expect(parseSize("20GiB")).toBe(20 * 1024 ** 3);
    expect(parseSize("20G")).toBe(20 * 1024 ** 3);
    expect(parseSize("20gb")).toBe(20e9);
    expect(parseSize("500 MB")).toBe(500e6);
    expect(parseSize("1.5MiB")).toBe(1.5 * 1024 ** 2);
    expect(parseSize("4096B")).toBe(4096);
    expect(parseSize("0")).toBe(0);
    expect(() => parseSize("10")).toThrow(/needs a unit/);
    for (const bad of ["", "1x", "-1", "GiB", "1e3", "15%"]) expect(() => parseSize(bad)).toThrow(UnitSyntaxError);
  });
  it("sizes or shares: a percentage within 0..100, else a size", () => {
    expect(parseSizeOrShare("15%")).toEqual({ percent: 15 });
    expect(parseSizeOrShare("0.5 %")).toEqual({ percent: 0.5 });
    expect(parseSizeOrShare("100%")).toEqual({ percent: 100 });
    expect(parseSizeOrShare("2GiB")).toEqual({ bytes: 2 * 1024 ** 3 });
    expect(() => parseSizeOrShare("101%")).toThrow(/between 0% and 100%/);
    expect(() => parseSizeOrShare("-5%")).toThrow(/between 0% and 100%/);
    expect(() => parseSizeOrShare("10")).toThrow(/needs a unit/);
    expect(() => parseSizeOrShare("lots")).toThrow(/share of the file system/);
  });
  it("fractions take every digit: 1.25h, 1.25KiB, 12.5%", () => {
    expect(parseDuration("1.25h")).toBe(4_500_000); // 1 h 15 min
    expect(parseDuration("0.125s")).toBe(125);
    expect(parseSize("1.25KiB")).toBe(1280);
    expect(parseSize("1536B")).toBe(1536);
    expect(parseSize("1.5KiB")).toBe(1536);
    expect(parseSizeOrShare("12.5%")).toEqual({ percent: 12.5 });
    expect(parseSizeOrShare("12.25%")).toEqual({ percent: 12.25 });
  });
  it("whitespace around the whole value is ignored, anything else around it is refused", () => {
    expect(parseSize(" 1GiB ")).toBe(1024 ** 3);
    expect(parseSize("\t2 KiB\n")).toBe(2048);
    expect(parseSizeOrShare(" 15% ")).toEqual({ percent: 15 });
    expect(parseSizeOrShare("15 %")).toEqual({ percent: 15 });
    expect(parseSizeOrShare(" 1KB ")).toEqual({ bytes: 1000 });
    for (const bad of ["x1GiB", "1GiB x", "1GiB 2", "1 Gi B"]) expect(() => parseSize(bad), bad).toThrow(UnitSyntaxError);
    for (const bad of ["15%x", "x15%", "15%%", "15% 1"]) expect(() => parseSizeOrShare(bad), bad).toThrow(/expected a size such as 20GiB or 500MB, or a share/);
  });
  it("0% and 100% are shares; out of range names the value as typed, trimmed", () => {
    expect(parseSizeOrShare("0%")).toEqual({ percent: 0 });
    expect(parseSizeOrShare("100.0%")).toEqual({ percent: 100 });
    const range = (v: string) => `a share of the file system must be between 0% and 100%, got ${v}`;
    expect(() => parseSizeOrShare(" 100.5% ")).toThrow(range("100.5%"));
    // negative shares are not shares at all to the first pattern; they are still told the range
    for (const [typed, shown] of [[" -5% ", "-5%"], ["-15%", "-15%"], ["-1.25%", "-1.25%"], ["-1.5%", "-1.5%"], ["-5 %", "-5 %"], ["-5%\t", "-5%"], ["  -0.5 % ", "-0.5 %"]]) {
      const e = (() => {
        try {
          parseSizeOrShare(typed!);
        } catch (err) {
          return err as Error;
        }
        throw new Error(`${typed} was accepted`);
      })();
      expect(e, typed).toBeInstanceOf(UnitSyntaxError);
      expect(e.message, typed).toBe(range(shown!));
    }
  });
  it("the error is a UnitSyntaxError by name too (it reaches users' logs)", () => {
    let e: unknown;
    try {
      parseDuration("soon");
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(UnitSyntaxError);
    expect(e).toBeInstanceOf(Error);
    expect((e as Error).name).toBe("UnitSyntaxError");
    expect(String(e)).toMatch(/^UnitSyntaxError: expected a duration/);
  });
  it("each error lists the units the parser accepts, and its examples parse", () => {
    const message = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return (e as Error).message;
      }
      throw new Error("accepted");
    };
    // durations: "(units ms, s, m, h, d, w)"; each listed unit works, and nothing else is one
    const d = message(() => parseDuration("7"));
    const dUnits = /\(units ([^)]+)\)/.exec(d)![1]!.split(", ");
    expect(dUnits.sort()).toEqual(["d", "h", "m", "ms", "s", "w"]);
    for (const u of dUnits) expect(parseDuration(`2${u}`), u).toBeGreaterThan(0);
    for (const example of /such as (.+) \(units/.exec(d)![1]!.split(", ")) expect(parseDuration(example), example).toBeGreaterThan(0);
    expect(() => parseDuration("2y")).toThrow(UnitSyntaxError);
    // sizes: every listed unit and example parses
    const s = message(() => parseSize("1 parsec"));
    const sUnits = /\(units ([^;]+);/.exec(s)![1]!.split(", ");
    expect(sUnits).toHaveLength(9);
    for (const u of sUnits) expect(parseSize(`3${u}`), u).toBeGreaterThanOrEqual(3);
    for (const u of ["K", "M", "G", "T"]) expect(parseSize(`1${u}`)).toBe(parseSize(`1${u}iB`));
    const sExamples = /such as (.+?) \(units/.exec(s)![1]!.split(/, | or /);
    expect(sExamples).toEqual(["20GiB", "500MB", "512KiB", "0"]);
    for (const example of sExamples) expect(() => parseSize(example), example).not.toThrow();
    // shares: the examples are a size and a share
    const share = message(() => parseSizeOrShare("lots"));
    expect(share).toBe("expected a size such as 20GiB or 500MB, or a share of the file system such as 15%");
    expect(parseSizeOrShare("20GiB")).toEqual({ bytes: 20 * 1024 ** 3 });
    expect(parseSizeOrShare("15%")).toEqual({ percent: 15 });
    // a size that needs a unit suggests three that parse, each the typed number in some unit
    const unitless = message(() => parseSizeOrShare("10"));
    const suggested = /did you mean (\S+), (\S+) or (\S+)\?/.exec(unitless)!.slice(1);
    expect(suggested.map((x) => parseSize(x))).toEqual([10 * 1024 ** 3, 10 * 1024 ** 2, 10]);
  });
  it("values too large for a safe integer are refused, not rounded", () => {
    expect(parseSize("8191TiB")).toBe(8191 * 1024 ** 4);
    expect(() => parseSize("8192TiB")).toThrow(UnitSyntaxError); // 2^53 bytes
    expect(() => parseDuration(`${"9".repeat(400)}ms`)).toThrow(UnitSyntaxError); // Infinity
  });
});
