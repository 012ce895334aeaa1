// binding.formats.parseTimestamp: msb's UTC text timestamps (spec §2.2) → epoch milliseconds, or null.
import { describe, expect, it } from "vitest";

import { binding } from "../../lib/native";

const { parseTimestamp } = binding.formats;

/** What the reader must return: Date.parse of the equivalent ISO-8601 string (ms precision). */
const iso = (s: string) => {
  const ms = Date.parse(s);
  if (Number.isNaN(ms)) throw new Error(`bad test data: ${s}`);
  return ms;
};

describe("msb's own format", () => {
  it.each([
    ["2026-11-28 01:34:05.369265694", "2026-11-28T01:34:05.369Z"], // 9 digits, as msb writes
    ["2026-11-28 01:34:05.369265", "2026-11-28T01:34:05.369Z"], // 6
    ["2026-11-28 01:34:05.369", "2026-11-28T01:34:05.369Z"], // 3
    ["2026-11-28 01:34:05", "2026-11-28T01:34:05.000Z"], // none
    ["2026-11-28 01:34:05.3", "2026-11-28T01:34:05.300Z"],
    ["2026-11-28 01:34:05.03", "2026-11-28T01:34:05.030Z"],
    ["2026-11-28 01:34:05.000000001", "2026-11-28T01:34:05.000Z"],
  ])("%s", (text, expected) => {
    expect(parseTimestamp(text)).toBe(iso(expected));
  });

  it("fractions are truncated, never rounded", () => {
    expect(parseTimestamp("2024-01-01 00:00:00.9999")).toBe(iso("2024-01-01T00:00:00.999Z"));
    expect(parseTimestamp("2024-12-31 23:59:59.999999999")).toBe(iso("2024-12-31T23:59:59.999Z"));
    expect(parseTimestamp("2024-01-01 00:00:00.0009")).toBe(iso("2024-01-01T00:00:00.000Z"));
  });

  it("text order is time order for msb's fixed-width form", () => {
    const texts = [
      "1999-12-31 23:59:59.999999999",
      "2000-01-01 00:00:00.000000000",
      "2024-02-29 12:00:00.000000001",
      "2024-02-29 12:00:00.001000000",
      "2026-11-28 01:34:05.369265694",
    ];
    const times = texts.map((t) => parseTimestamp(t)!);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });
});

describe("accepted variants", () => {
  it.each([
    ["2024-05-06T07:08:09", "2024-05-06T07:08:09Z"],
    ["2024-05-06T07:08:09.123456789", "2024-05-06T07:08:09.123Z"],
    ["2024-05-06 07:08:09Z", "2024-05-06T07:08:09Z"],
    ["2024-05-06T07:08:09.5Z", "2024-05-06T07:08:09.500Z"],
    ["2024-05-06 07:08:09+00:00", "2024-05-06T07:08:09Z"],
    ["2024-05-06T07:08:09.123+00:00", "2024-05-06T07:08:09.123Z"],
    ["2024-05-06 07:08:09-00:00", "2024-05-06T07:08:09Z"],
  ])("%s", (text, expected) => {
    expect(parseTimestamp(text)).toBe(iso(expected));
  });

  it.each([
    ["2024-05-06 07:08:09+02:00", "2024-05-06T07:08:09+02:00"],
    ["2024-05-06 07:08:09.250-05:30", "2024-05-06T07:08:09.250-05:30"],
    ["2024-01-01 01:00:00+02:00", "2024-01-01T01:00:00+02:00"], // crosses back into 2023
    ["2023-12-31 22:00:00-05:00", "2023-12-31T22:00:00-05:00"], // crosses forward into 2024
    ["2024-05-06T07:08:09+23:59", "2024-05-06T07:08:09+23:59"],
  ])("offset %s is converted to UTC", (text, expected) => {
    expect(parseTimestamp(text)).toBe(iso(expected));
  });

  it("+02:00 is two hours before the same wall time in UTC", () => {
    expect(parseTimestamp("2024-05-06 07:08:09Z")! - parseTimestamp("2024-05-06 07:08:09+02:00")!).toBe(2 * 3600_000);
  });

  it.each([
    ["2024-02-29 00:00:00", "2024-02-29T00:00:00Z"], // leap year
    ["2000-02-29 00:00:00", "2000-02-29T00:00:00Z"], // divisible by 400
    ["1970-01-01 00:00:00", "1970-01-01T00:00:00Z"],
    ["1969-12-31 23:59:59.999", "1969-12-31T23:59:59.999Z"], // -1 ms
    ["1900-03-01 00:00:00", "1900-03-01T00:00:00Z"],
    ["0001-01-01 00:00:00", "0001-01-01T00:00:00Z"],
    ["9999-12-31 23:59:59.999", "9999-12-31T23:59:59.999Z"],
    ["2024-12-31 23:59:59", "2024-12-31T23:59:59Z"],
    ["2023-04-30 00:00:00", "2023-04-30T00:00:00Z"],
  ])("calendar edge %s", (text, expected) => {
    expect(parseTimestamp(text)).toBe(iso(expected));
  });
});

describe("rejected (null)", () => {
  it.each([
    ["2023-02-29 00:00:00", "not a leap year"],
    ["1900-02-29 00:00:00", "century, not a leap year"],
    ["2024-02-30 00:00:00", "February 30"],
    ["2024-04-31 00:00:00", "April 31"],
    ["2024-13-01 00:00:00", "month 13"],
    ["2024-00-10 00:00:00", "month 0"],
    ["2024-01-00 00:00:00", "day 0"],
    ["2024-01-32 00:00:00", "day 32"],
    ["2024-01-01 24:00:00", "hour 24"],
    ["2024-01-01 00:60:00", "minute 60"],
    ["2024-01-01 00:00:60", "leap second"],
    ["2024-01-01 00:00:00.1234567890", "10 fraction digits"],
    ["2024-01-01 00:00:00.", "empty fraction"],
    ["2024-01-01 00:00:00.12a", "junk in the fraction"],
    ["2024-01-01 00:00:00 ", "trailing space"],
    [" 2024-01-01 00:00:00", "leading space"],
    ["2024-01-01 00:00:00x", "trailing junk"],
    ["2024-01-01 00:00:00ZZ", "double Z"],
    ["2024-01-01 00:00:00Z+00:00", "Z and offset"],
    ["2024-01-01 00:00:00+0000", "offset without colon"],
    ["2024-01-01 00:00:00+00", "hours-only offset"],
    ["2024-01-01 00:00:00+24:00", "offset hour 24"],
    ["2024-01-01 00:00:00+00:60", "offset minute 60"],
    ["2024-01-01 00:00:00+00:00:00", "offset with seconds"],
    ["2024-01-01", "date only"],
    ["2024-01-01 00:00", "no seconds"],
    ["2024-1-01 00:00:00", "one-digit month"],
    ["24-01-01 00:00:00", "two-digit year"],
    ["+2024-01-01 00:00:00", "signed year"],
    ["2024/01/01 00:00:00", "slashes"],
    ["2024-01-01_00:00:00", "bad separator"],
    ["2024-01-01  00:00:00", "two spaces"],
    ["２０２４-01-01 00:00:00", "full-width digits"],
    ["1717171717", "epoch seconds"],
    ["Tue, 01 Jan 2024 00:00:00 GMT", "RFC 2822"],
    ["garbage", "garbage"],
    ["", "empty"],
    ["2024-01-01 00:00:00\0", "NUL"],
  ])("%j (%s)", (text) => {
    expect(parseTimestamp(text)).toBeNull();
  });

  it("rejects non-strings with a TypeError", () => {
    for (const bad of [undefined, null, 0, 1717171717000, new Date()]) {
      expect(() => parseTimestamp(bad as unknown as string)).toThrow(TypeError);
    }
  });
});

describe("round trip with Date", () => {
  it("every msb-formatted instant over a wide range parses back to its Date (ms precision)", () => {
    let seed = 42;
    const next = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    for (let i = 0; i < 2000; i++) {
      const ms = Math.floor((next() * 2 - 0.5) * 4102444800000); // ~1905 … 2230
      const d = new Date(ms);
      const pad = (n: number, w = 2) => String(n).padStart(w, "0");
      const text =
        `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
        `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.` +
        `${pad(d.getUTCMilliseconds(), 3)}${pad(Math.floor(next() * 1e6), 6)}`;
      expect(parseTimestamp(text), text).toBe(ms);
    }
  });
});

describe("parseTimestampPrecise: the nanoseconds below the millisecond (for the CLI's RFC 3339 times)", () => {
  const { parseTimestampPrecise } = binding.formats;
  it.each([
    ["2026-11-28 12:09:26.160621718", 160621718],
    ["2026-11-28 12:09:26.123456", 123456000],
    ["2026-11-28 12:09:26.120", 120000000],
    ["2026-11-28 12:09:26.5", 500000000],
    ["2026-11-28 12:09:26.000000001", 1],
    ["2026-11-28 12:09:26.0000015", 1500],
    ["2026-11-28 12:09:26", 0],
    ["2026-11-28T12:09:26.987654321Z", 987654321],
  ])("%s", (text, nanosOfSecond) => {
    const t = parseTimestampPrecise(text)!;
    expect(t.ms).toBe(parseTimestamp(text));
    expect((t.ms % 1000) * 1e6 + t.subMsNanos).toBe(nanosOfSecond);
  });
  it("null when parseTimestamp is null", () => {
    expect(parseTimestampPrecise("2026-11-28 12:09:26.1234567890")).toBeNull();
    expect(parseTimestampPrecise("garbage")).toBeNull();
  });
});
