// The CLI's formatters in process: times, digests, the table, colours (formatBytes against the real msb
// is in format.test.ts).
import { describe, expect, it } from "vitest";

import { colorsEnabled, displayWidth, formatRfc3339, renderTable, styler, truncateDigest } from "../../lib/cli/format";

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
