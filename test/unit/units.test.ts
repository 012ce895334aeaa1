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
});
