// The CLI's formatters in process: times, digests, the table, colours (formatBytes against the real msb
// is in format.test.ts).
import { describe, expect, it } from "vitest";

import {
  colorsEnabled,
  detailKv,
  detailKvIndent,
  displayWidth,
  errorLine,
  formatBytes,
  formatDuration,
  formatLocal,
  formatRfc3339,
  padEnd,
  renderTable,
  styler,
  successLine,
  toJsonPretty,
  truncateDigest,
  warnLine,
} from "../../lib/cli/format";

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

// SGR codes (ECMA-48): 0 reset, 1 bold, 2 dim, 31 red, 32 green, 33 yellow, 36 cyan.
const sgr = (...codes: number[]) => codes.map((c) => `\x1b[${c}m`).join("");

describe("formatBytes, worked by hand", () => {
  it.each<[number, string]>([
    [0, "0 B"],
    [1, "1 B"],
    [1023, "1023 B"], // below 1 KiB: whole bytes
    [1024, "1.0 KiB"],
    [1536, "1.5 KiB"], // 1536 / 1024 = 1.5
    [1024 + 51, "1.0 KiB"], // 1.0498… rounds down
    [1024 + 52, "1.1 KiB"], // 1.0507… rounds up
    [2560, "2.5 KiB"],
    [2048 + 1024 / 4, "2.2 KiB"], // 2.25: tie, 22 is even
    [2048 + (3 * 1024) / 4, "2.8 KiB"], // 2.75: tie, 28 is even
    [10 * 1024 - 1, "10.0 KiB"], // 9.999 rounds to 10.0, still KiB
    [1024 * 1024 - 1, "1024.0 KiB"], // the unit is chosen before rounding
    [1024 * 1024, "1.0 MiB"],
    [3 * 1024 * 1024 + 512 * 1024, "3.5 MiB"],
    [1024 ** 3, "1.0 GiB"],
    [1.25 * 1024 ** 3, "1.2 GiB"], // tie to even
    [1024 ** 4, "1.0 TiB"],
    [1536 * 1024 ** 4, "1536.0 TiB"], // no unit above TiB
    [1536.9, "1.5 KiB"], // fractions of a byte are dropped
    [-1, "0 B"],
    [NaN, "0 B"],
    [Infinity, "0 B"],
  ])("%d → %s", (n, text) => expect(formatBytes(n)).toBe(text));
  it("exact ties round to even, from the exact binary value", () => {
    // in KiB a tenth is 102.4 bytes, so a whole number of bytes sits exactly halfway between two tenths
    // only at a multiple of 256 bytes (0.25, 0.75 KiB)
    expect(formatBytes(1280)).toBe("1.2 KiB"); // 1.25 → 12 (even)
    expect(formatBytes(1024 + 768)).toBe("1.8 KiB"); // 1.75 → 18 (even)
    expect(formatBytes(3 * 1024 + 256)).toBe("3.2 KiB"); // 3.25 → 32
    expect(formatBytes(3 * 1024 + 768)).toBe("3.8 KiB"); // 3.75 → 38
    expect(formatBytes(1024 * 1024 + 256 * 1024)).toBe("1.2 MiB");
    // just above a tie goes up
    expect(formatBytes(1024 + 257)).toBe("1.3 KiB");
    expect(formatBytes(1024 + 255)).toBe("1.2 KiB");
  });
});

describe("durations as msb prints them", () => {
  it.each<[number, string]>([
    [0, "0.0s"],
    [12_345, "12.3s"],
    [59_940, "59.9s"],
    [59_999, "60.0s"], // under a minute, {:.1} of 59.999
    [60_000, "1m0s"],
    [61_999, "1m1s"],
    [125_000, "2m5s"],
    [3_600_000, "60m0s"],
  ])("%d ms → %s", (ms, text) => expect(formatDuration(ms)).toBe(text));
});

describe("local times", () => {
  // The same instant through Intl (the ICU time zone database, not Date's local getters): what a wall clock in
  // this process's time zone shows. Setting TZ at run time is not seen by worker threads, so the zone is whatever
  // this process has; the cases cover single-digit fields, midnight and a year's last second.
  const intl = new Intl.DateTimeFormat("en-US", { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
  const wall = (ms: number) => {
    const p = Object.fromEntries(intl.formatToParts(ms).map((x) => [x.type, x.value]));
    return `${p.year!.padStart(4, "0")}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
  };
  it.each([Date.UTC(2026, 0, 2, 3, 4, 5, 999), Date.UTC(2026, 8, 9, 0, 0, 0), Date.UTC(2026, 11, 31, 23, 59, 59), Date.UTC(1999, 10, 30, 12, 30, 1), 0])("%d", (ms) => {
    expect(formatLocal(ms)).toBe(wall(ms));
  });
});

describe("RFC 3339 times: chrono's years and numbers", () => {
  it("a number is milliseconds", () => {
    expect(formatRfc3339(Date.UTC(2026, 0, 2, 3, 4, 5))).toBe("2026-01-02T03:04:05+00:00");
    expect(formatRfc3339(Date.UTC(2026, 0, 2, 3, 4, 5, 7))).toBe("2026-01-02T03:04:05.007+00:00");
  });
  it("years outside 0000..9999 carry a sign (ISO 8601 expanded years, as chrono's %Y)", () => {
    const at = (y: number) => {
      const d = new Date(0);
      d.setUTCFullYear(y, 5, 7);
      return d.getTime();
    };
    expect(formatRfc3339(at(0))).toBe("0000-06-07T00:00:00+00:00");
    expect(formatRfc3339(at(9))).toBe("0009-06-07T00:00:00+00:00");
    expect(formatRfc3339(at(9999))).toBe("9999-06-07T00:00:00+00:00");
    expect(formatRfc3339(at(10000))).toBe("+10000-06-07T00:00:00+00:00");
    expect(formatRfc3339(at(-1))).toBe("-0001-06-07T00:00:00+00:00");
    expect(formatRfc3339(at(-12345))).toBe("-12345-06-07T00:00:00+00:00");
  });
});

describe("digests", () => {
  it("sha256: 12 hex digits after the algorithm; anything else: its first 19 characters", () => {
    const hex = "0123456789abcdef".repeat(4);
    expect(truncateDigest(`sha256:${hex}`)).toBe("sha256:0123456789ab");
    expect(truncateDigest(`sha384:${hex}`)).toBe("sha384:0123456789ab");
    expect(truncateDigest("short")).toBe("short");
    expect(truncateDigest("ééééééééééééééééééééé")).toBe("é".repeat(19));
  });
});

describe("colours", () => {
  it("each style is its SGR codes, one per attribute, then a reset; nothing without colours", () => {
    const on = styler(true);
    const off = styler(false);
    expect(on.enabled).toBe(true);
    expect(off.enabled).toBe(false);
    const want: Record<string, number[]> = { green: [32], red: [31], redBold: [31, 1], cyan: [36], cyanBold: [36, 1], yellowBold: [33, 1], bold: [1], dim: [2] };
    for (const [name, codes] of Object.entries(want)) {
      const style = name as keyof typeof want & keyof ReturnType<typeof styler>;
      expect((on[style] as (s: string) => string)("x"), name).toBe(sgr(...codes) + "x" + sgr(0));
      expect((on[style] as (s: string) => string)(""), name).toBe(sgr(...codes) + sgr(0));
      expect((off[style] as (s: string) => string)("x"), name).toBe("x");
    }
  });

  it("without an explicit flag, whether stdout is a terminal decides", () => {
    const had = Object.getOwnPropertyDescriptor(process.stdout, "isTTY");
    const setTTY = (value: unknown) => Object.defineProperty(process.stdout, "isTTY", { value, configurable: true, writable: true });
    try {
      setTTY(true);
      expect(colorsEnabled({ TERM: "xterm" })).toBe(true);
      setTTY(false);
      expect(colorsEnabled({ TERM: "xterm" })).toBe(false);
      setTTY(undefined); // a pipe: Node leaves isTTY unset
      expect(colorsEnabled({ TERM: "xterm" })).toBe(false);
      setTTY(1); // only `true` is a terminal
      expect(colorsEnabled({ TERM: "xterm" })).toBe(false);
    } finally {
      if (had) Object.defineProperty(process.stdout, "isTTY", had);
      else delete (process.stdout as { isTTY?: boolean }).isTTY;
    }
  });

  it("CLICOLOR=0 and CLICOLOR_FORCE", () => {
    expect(colorsEnabled({ TERM: "xterm", CLICOLOR: "1" }, true)).toBe(true);
    expect(colorsEnabled({ TERM: "xterm", CLICOLOR: "" }, true)).toBe(true);
    expect(colorsEnabled({ TERM: "dumb", CLICOLOR_FORCE: "1" }, false)).toBe(true);
    expect(colorsEnabled({ TERM: "xterm", CLICOLOR_FORCE: "0" }, false)).toBe(false);
    expect(colorsEnabled({ TERM: "xterm", NO_COLOR: "1", CLICOLOR_FORCE: "yes" }, true)).toBe(true);
  });
});

describe("widths", () => {
  it("padEnd pads to a width in characters, never cuts", () => {
    expect(padEnd("ab", 4)).toBe("ab  ");
    expect(padEnd("abcd", 4)).toBe("abcd");
    expect(padEnd("abcdef", 3)).toBe("abcdef");
    expect(padEnd("😀", 3)).toBe("😀  "); // one character, though two UTF-16 units
  });

  it("escape sequences take no room", () => {
    expect(displayWidth(`${sgr(1, 36)}ab${sgr(0)}`)).toBe(2);
    expect(displayWidth("\x1b[38;5;208mx\x1b[0m")).toBe(1);
    expect(displayWidth("\x1b[mx")).toBe(1);
  });

  it("control and zero-width characters take none; a space takes one", () => {
    expect(displayWidth("a\u0007b")).toBe(2);
    expect(displayWidth("\u001f \u007e")).toBe(2);
    expect(displayWidth("\u007f\u0085\u009f")).toBe(0);
    expect(displayWidth("\u00a0")).toBe(1);
    expect(displayWidth("e\u0301")).toBe(1); // a combining accent
    expect(displayWidth("a\u200bb\ufeff")).toBe(2);
  });

  // East Asian Width W/F characters at the edges of each range the table holds, and N/H neighbours.
  it.each<[number, number]>([
    [0x10ff, 1], [0x1100, 2], [0x115f, 2], [0x1160, 1], // Hangul Jamo leading consonants
    [0x2e7f, 1], [0x2e80, 2], [0x303e, 2], [0x303f, 1], // CJK radicals .. ideographic description
    [0x3041, 2], [0x33ff, 2], // Hiragana .. CJK compatibility
    [0x3400, 2], [0x4dbf, 2], [0x4dc0, 1], // CJK extension A; Yijing hexagrams are narrow
    [0x4dff, 1], [0x4e00, 2], [0x9fff, 2], // CJK unified ideographs
    [0xa000, 2], [0xa4c6, 2], [0xa4c7, 1], [0xa4d0, 1], // Yi (A4C7..A4CF unassigned: N); Lisu is narrow
    [0xabff, 1], [0xac00, 2], [0xd7a3, 2], [0xd7b0, 1], // Hangul syllables
    [0xf8ff, 1], [0xf900, 2], [0xfaff, 2], [0xfb00, 1], // CJK compatibility ideographs
    [0xfe30, 2], [0xfe4f, 2], // CJK compatibility forms
    [0xff00, 1], [0xff01, 2], [0xff60, 2], [0xff61, 1], // fullwidth forms (FF00 unassigned: N); halfwidth katakana is narrow
    [0xffe0, 2], [0xffe6, 2], [0xffe8, 1], // fullwidth signs
    [0x1f300, 2], [0x1f64f, 2], [0x1f650, 1], // emoji: pictographs, emoticons
    [0x1f8ff, 1], [0x1f90b, 1], [0x1f90c, 2], [0x1f910, 2], [0x1f9ff, 2], [0x1fa00, 1], // supplemental symbols and pictographs (1F900..1F90B, circled cross formée etc., are N)
    [0x1ffff, 1], [0x20000, 2], [0x3fffd, 2], [0x3fffe, 1], // planes 2 and 3
    [0x41, 1], [0xe9, 1],
  ])("U+%s is %d wide", (cp, width) => {
    expect(displayWidth(String.fromCodePoint(cp))).toBe(width);
    expect(displayWidth("a" + String.fromCodePoint(cp) + "b")).toBe(width + 2);
  });
});

describe("msb's line shapes", () => {
  const on = styler(true);
  const off = styler(false);
  it("detail_kv: the key and colon padded to 16, then the value", () => {
    expect(detailKv(off, "Digest", "sha256:x")).toBe("Digest:" + " ".repeat(9) + "sha256:x");
    expect(detailKv(on, "Os", "linux")).toBe(sgr(36) + "Os:" + " ".repeat(13) + sgr(0) + "linux");
    expect(detailKv(off, "A very long key here", "v")).toBe("A very long key here:v");
  });
  it("detail_kv_indent: two spaces, the key and colon padded to 14", () => {
    expect(detailKvIndent(off, "Size", "1 B")).toBe("  Size:" + " ".repeat(9) + "1 B");
    expect(detailKvIndent(on, "Size", "1 B")).toBe("  " + sgr(2) + "Size:" + " ".repeat(9) + sgr(0) + "1 B");
  });
  it("success: three spaces, a green tick, the verb padded to 12, the target, a dim suffix", () => {
    expect(successLine(off, "Removed", "app:1")).toBe("   ✓ Removed      app:1");
    expect(successLine(off, "Removed", "app:1", " (3 layers)")).toBe("   ✓ Removed      app:1 (3 layers)");
    expect(successLine(on, "Removed", "app:1", " (x)")).toBe(`   ${sgr(32)}✓${sgr(0)} Removed      app:1${sgr(2)} (x)${sgr(0)}`);
    expect(successLine(on, "Removed", "app:1")).toBe(`   ${sgr(32)}✓${sgr(0)} Removed      app:1`);
  });
  it("error and warn prefixes", () => {
    expect(errorLine(off, "boom")).toBe("error: boom");
    expect(errorLine(on, "boom")).toBe(`${sgr(31, 1)}error:${sgr(0)} boom`);
    expect(warnLine(off, "careful")).toBe("warn: careful");
    expect(warnLine(on, "careful")).toBe(`${sgr(33, 1)}warn:${sgr(0)} careful`);
  });
  it("table: the header's width counts when it is the widest; the last column is never padded", () => {
    expect(renderTable(["NAME", "SIZE", "X"], [["a", "1 B", "last"], ["bb", "10 B", "z"]], off)).toBe(
      "NAME    SIZE    X\n" + "a       1 B     last\n" + "bb      10 B    z\n",
    );
    expect(renderTable(["A", "B"], [["\x1b[1mwide\x1b[0m", "y"]], off)).toBe("A       B\n\x1b[1mwide\x1b[0m    y\n");
  });
});

describe("JSON as serde_json's to_string_pretty of a BTreeMap", () => {
  it("keys in code point order at every depth, arrays kept in order, two-space indent", () => {
    const value = { b: 1, a: { d: [{ z: 1, y: [2, { x: null }] }], c: "s" }, B: 0, "é": true, "😀": 1, "\uffff": 2, ab: 3 };
    const expected = [
      "{",
      '  "B": 0,',
      '  "a": {',
      '    "c": "s",',
      '    "d": [',
      "      {",
      '        "y": [',
      "          2,",
      "          {",
      '            "x": null',
      "          }",
      "        ],",
      '        "z": 1',
      "      }",
      "    ]",
      "  },",
      '  "ab": 3,',
      '  "b": 1,',
      '  "é": true,',
      '  "\uffff": 2,', // U+FFFF before U+1F600, though UTF-16 order would put the emoji's surrogates first
      '  "😀": 1',
      "}",
    ].join("\n");
    expect(toJsonPretty(value)).toBe(expected);
  });
  it("a key sorts before the longer keys it begins, whichever was inserted first; shared beginnings compare on", () => {
    expect(toJsonPretty({ ab: 1, a: 2 })).toBe('{\n  "a": 2,\n  "ab": 1\n}');
    expect(toJsonPretty({ a: 2, ab: 1 })).toBe('{\n  "a": 2,\n  "ab": 1\n}');
    expect(toJsonPretty({ ac: 1, ab: 2 })).toBe('{\n  "ab": 2,\n  "ac": 1\n}');
    expect(Object.keys(JSON.parse(toJsonPretty({ abc: 0, b: 0, ab: 0, "": 0, a: 0, abd: 0, aa: 0 })))).toEqual(["", "a", "aa", "ab", "abc", "abd", "b"]);
  });
  it("scalars and empty containers", () => {
    expect(toJsonPretty(null)).toBe("null");
    expect(toJsonPretty("x")).toBe('"x"');
    expect(toJsonPretty([])).toBe("[]");
    expect(toJsonPretty({})).toBe("{}");
    expect(toJsonPretty({ "": 1, a: [] })).toBe('{\n  "": 1,\n  "a": []\n}');
  });
});
