// Output exactly as msb 0.6.18 prints it (its CLI's ui.rs + microsandbox_utils::format, checked
// against the real binary): byte sizes, digests, times, the column table, the "key:" detail lines,
// the ✓ action lines and the colours of the `console` crate.
import type { PreciseTime } from "../image";

// ---- colours ---------------------------------------------------------------------------------

/**
 * The `console` crate's rule, which msb uses for every styled string, on stdout and stderr alike:
 * colours when STDOUT is a terminal, NO_COLOR is unset, TERM is set and not "dumb", and CLICOLOR
 * is not "0"; or whenever CLICOLOR_FORCE is set and not "0".
 */
export function colorsEnabled(env: NodeJS.ProcessEnv = process.env, stdoutIsTTY = process.stdout.isTTY === true): boolean {
  const supported = stdoutIsTTY && env.NO_COLOR === undefined && env.TERM !== undefined && env.TERM !== "dumb";
  return (supported && (env.CLICOLOR ?? "1") !== "0") || (env.CLICOLOR_FORCE ?? "0") !== "0";
}

export interface Styler {
  readonly enabled: boolean;
  green(s: string): string;
  red(s: string): string;
  redBold(s: string): string;
  cyan(s: string): string;
  cyanBold(s: string): string;
  yellowBold(s: string): string;
  bold(s: string): string;
  dim(s: string): string;
}

export function styler(enabled: boolean): Styler {
  // console writes each attribute as its own escape and one reset, even around an empty string.
  const wrap = (codes: number[]) => (s: string) => (enabled ? codes.map((c) => `\x1b[${c}m`).join("") + s + "\x1b[0m" : s);
  return {
    enabled,
    green: wrap([32]),
    red: wrap([31]),
    redBold: wrap([31, 1]),
    cyan: wrap([36]),
    cyanBold: wrap([36, 1]),
    yellowBold: wrap([33, 1]),
    bold: wrap([1]),
    dim: wrap([2]),
  };
}

// ---- widths ----------------------------------------------------------------------------------

/** Rust's `{:<n}`: pads with spaces to n characters (Unicode scalar values). */
export function padEnd(s: string, width: number): string {
  const n = [...s].length;
  return n >= width ? s : s + " ".repeat(width - n);
}

const ANSI = /\x1b\[[0-9;]*m/g;
const ZERO_WIDTH = /[\p{Mn}\p{Me}\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]/u;

// East Asian Width W and F ranges (Unicode's EastAsianWidth.txt), each ending where its block's wide characters do.
function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0x303e) ||
    (cp >= 0x3041 && cp <= 0x33ff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0xa000 && cp <= 0xa4c6) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff01 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f90c && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}

/** Columns a string takes on a terminal (console::measure_text_width: escapes dropped, East Asian wide = 2). */
export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s.replace(ANSI, "")) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || ZERO_WIDTH.test(ch)) continue;
    w += isWide(cp) ? 2 : 1;
  }
  return w;
}

// ---- values ----------------------------------------------------------------------------------

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/**
 * microsandbox_utils::format::format_bytes: "N B" below 1 KiB, else one decimal of KiB..TiB.
 * Rust prints `{:.1}` from the exact binary value, ties to even (1280 B → "1.2 KiB", not 1.3).
 * Negative sizes print as 0 (msb clamps i64 to u64).
 */
export function formatBytes(bytes: number): string {
  const b = Number.isFinite(bytes) && bytes > 0 ? Math.trunc(bytes) : 0;
  let value = b;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${b} B`;
  // value = b / 1024^unit exactly; round b*10 / 1024^unit to an integer, ties to even.
  const den = 1n << BigInt(10 * unit);
  const num = BigInt(b) * 10n;
  let q = num / den;
  const r2 = (num % den) * 2n;
  if (r2 > den || (r2 === den && q % 2n === 1n)) q += 1n;
  return `${q / 10n}.${q % 10n} ${UNITS[unit]}`;
}

/** msb's short digest: "sha256:" + 12 hex, else the first 19 characters. */
export function truncateDigest(digest: string): string {
  if (digest.startsWith("sha256:")) return "sha256:" + digest.slice(7, 19);
  return [...digest].slice(0, 19).join("");
}

const p2 = (n: number) => String(n).padStart(2, "0");
const year = (y: number) => (y >= 0 && y <= 9999 ? String(y).padStart(4, "0") : y > 9999 ? `+${y}` : `-${String(-y).padStart(4, "0")}`);

/** chrono `%Y-%m-%d %H:%M:%S` in the local time zone (TZ), as msb's table and detail views show times. */
export function formatLocal(ms: number): string {
  const d = new Date(ms);
  return `${year(d.getFullYear())}-${p2(d.getMonth() + 1)}-${p2(d.getDate())} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`;
}

/**
 * chrono's `DateTime<Utc>::to_rfc3339()`, as msb's `--format json` prints times: UTC with "+00:00",
 * and 0, 3, 6 or 9 fraction digits, the fewest that hold the value.
 */
export function formatRfc3339(t: PreciseTime | number): string {
  const { ms, subMsNanos } = typeof t === "number" ? { ms: t, subMsNanos: 0 } : t;
  const d = new Date(ms);
  const msOfSecond = ((ms % 1000) + 1000) % 1000;
  const nanos = Math.trunc(msOfSecond) * 1_000_000 + subMsNanos;
  let frac = "";
  if (nanos !== 0) {
    const nine = String(nanos).padStart(9, "0");
    frac = "." + (nanos % 1_000_000 === 0 ? nine.slice(0, 3) : nanos % 1000 === 0 ? nine.slice(0, 6) : nine);
  }
  return (
    `${year(d.getUTCFullYear())}-${p2(d.getUTCMonth() + 1)}-${p2(d.getUTCDate())}` +
    `T${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}${frac}+00:00`
  );
}

// ---- JSON ------------------------------------------------------------------------------------

/** Code point order (= UTF-8 byte order, as Rust's BTreeMap sorts String keys). */
function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1;
    const d = x.value.codePointAt(0)! - y.value.codePointAt(0)!;
    if (d !== 0) return d;
  }
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(o).sort(compareCodePoints)) out[k] = sortKeys(o[k]);
    return out;
  }
  return v;
}

/** serde_json::to_string_pretty of a serde_json::Value: keys sorted, two-space indent. */
export function toJsonPretty(v: unknown): string {
  return JSON.stringify(sortKeys(v), null, 2);
}

// ---- layout ----------------------------------------------------------------------------------

/**
 * msb's ui::Table: each column as wide as its widest cell (display width) or header, four spaces
 * between columns, the last column unpadded, the header line cyan and bold. Empty when no rows.
 */
export function renderTable(headers: string[], rows: string[][], st: Styler): string {
  if (rows.length === 0) return "";
  const widths = headers.map((h) => h.length);
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i]!, displayWidth(cell))));
  const last = headers.length - 1;
  const header = headers.map((h, i) => (i < last ? padEnd(h, widths[i]!) + "    " : h)).join("");
  let out = st.cyanBold(header) + "\n";
  for (const row of rows) {
    out += row.map((cell, i) => (i < last ? cell + " ".repeat(widths[i]! - displayWidth(cell) + 4) : cell)).join("") + "\n";
  }
  return out;
}

/** ui::detail_kv: `{:<16}` of a cyan "key:", then the value. */
export const detailKv = (st: Styler, key: string, value: string) => `${st.cyan(padEnd(key + ":", 16))}${value}`;
/** ui::detail_kv_indent: two spaces, `{:<14}` of a dim "key:", then the value. */
export const detailKvIndent = (st: Styler, key: string, value: string) => `  ${st.dim(padEnd(key + ":", 14))}${value}`;
/** ui::success / Spinner::finish_success: `   ✓ {verb:<12} {target}`. */
export const successLine = (st: Styler, verb: string, target: string, suffix?: string) =>
  `   ${st.green("✓")} ${padEnd(verb, 12)} ${target}${suffix === undefined ? "" : st.dim(suffix)}`;
/** ui::error. */
export const errorLine = (st: Styler, message: string) => `${st.redBold("error:")} ${message}`;
/** ui::warn. */
export const warnLine = (st: Styler, message: string) => `${st.yellowBold("warn:")} ${message}`;

/** microsandbox_utils::format::format_duration: "12.3s", or "2m5s" from a minute on. */
export function formatDuration(ms: number): string {
  const secs = ms / 1000;
  if (secs < 60) return `${secs.toFixed(1)}s`;
  return `${Math.floor(secs / 60)}m${Math.floor(secs) % 60}s`;
}
