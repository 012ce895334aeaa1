// verify's findings as a table that fits 120 columns: kind, path relative to the cache (digests
// shortened as msb's tables do), references, size, repair state; under each row, its message.
// `--format json` keeps the full paths and everything else (lib/cli/verify.ts).
import type { VerifyFinding } from "../types";
import { type Styler, displayWidth, formatBytes, renderTable, truncateDigest } from "./format";

export const TABLE_WIDTH = 120;
const GAP = 4; // renderTable's space between columns
const INDENT = "  ";

// A finding's path is <cache dir>/<rel>, and rel is one of msb's layouts (native/operations/op_verify.cc).
const REL = /\/((?:layers|fsmeta|vmdk|manifests|tmp)\/[^/]+|flat\/(?:refs|blobs|locks)\/[^/]+)$/;

/** The cache directory the findings' paths are under, when one of them shows it. */
export function cacheRootOf(findings: readonly VerifyFinding[]): string | null {
  for (const f of findings) {
    const m = f.path === null ? null : REL.exec(f.path);
    if (m) return f.path!.slice(0, m.index);
  }
  return null;
}

/** `path` relative to `root` when under it, else as given. */
export function relativePath(path: string, root: string | null): string {
  return root !== null && path.startsWith(root + "/") ? path.slice(root.length + 1) : path;
}

/** sha256_<64 hex> in a file name → sha256_<12 hex>…, as msb shortens digests. */
const shortDigests = (s: string) => s.replace(/\b(sha256|sha512)([_:])([0-9a-f]{12})[0-9a-f]{20,}/g, "$1$2$3…");

/** The leading characters of `chars` that fit in `columns` terminal columns (a wide character takes 2). */
function takeColumns(chars: readonly string[], columns: number): string[] {
  const out: string[] = [];
  let used = 0;
  for (const ch of chars) {
    used += displayWidth(ch);
    if (used > columns) break;
    out.push(ch);
  }
  return out;
}

/** At most `max` columns, cutting the middle (the end of a path names its type). */
function fitMiddle(s: string, max: number): string {
  if (displayWidth(s) <= max) return s;
  const chars = [...s];
  const head = Math.ceil((max - 1) / 2);
  return takeColumns(chars, head).join("") + "…" + takeColumns(chars.reverse(), max - 1 - head).reverse().join("");
}

/** At most `max` columns, cutting the end. */
function fitEnd(s: string, max: number): string {
  return displayWidth(s) <= max ? s : takeColumns([...s], max - 1).join("") + "…";
}

function references(refs: readonly string[], max: number): string {
  if (refs.length === 0) return "-";
  const more = refs.length > 1 ? ` +${refs.length - 1}` : "";
  return fitEnd(refs[0]!, Math.max(4, max - more.length)) + more;
}

/** Word-wraps `text` to `width` columns (a wide character takes 2), each line after `indent`. */
export function wrap(text: string, width: number, indent: string): string[] {
  const room = width - indent.length;
  const lines: string[] = [];
  let line = "";
  for (let word of text.split(/\s+/).filter(Boolean)) {
    while (displayWidth(word) > room) {
      if (line) lines.push(line), (line = "");
      const chars = [...word];
      const fit = Math.max(1, takeColumns(chars, room).length);
      lines.push(chars.slice(0, fit).join(""));
      word = chars.slice(fit).join("");
    }
    if (!line) line = word;
    else if (displayWidth(line) + 1 + displayWidth(word) <= room) line += " " + word;
    else lines.push(line), (line = word);
  }
  if (line) lines.push(line);
  return lines.map((l) => indent + l);
}

export function findingsTable(findings: readonly VerifyFinding[], st: Styler): string {
  const root = cacheRootOf(findings);
  const cells = findings.map((f) => ({
    kind: f.kind,
    path: f.path !== null ? shortDigests(relativePath(f.path, root)) : f.digest ? truncateDigest(f.digest) : "-",
    size: formatBytes(f.bytes),
    repair: f.repaired ? "repaired" : f.repairable ? "repairable" : "-",
    message: root === null ? f.message : f.message.split(root + "/").join(""),
  }));
  const width = (xs: string[], header: string) => Math.max(header.length, ...xs.map(displayWidth));
  const kindW = width(cells.map((c) => c.kind), "KIND");
  const sizeW = width(cells.map((c) => c.size), "SIZE");
  const repairW = width(cells.map((c) => c.repair), "REPAIR");
  // What is left for PATH and REFERENCES, shared 2:1 (at least 20 and 10 columns).
  const left = TABLE_WIDTH - kindW - sizeW - repairW - 4 * GAP;
  const refsMax = Math.max(10, Math.min(24, Math.floor(left / 3)));
  const pathMax = Math.max(20, left - Math.min(refsMax, width(findings.map((f) => references(f.references, refsMax)), "REFERENCES")));
  const rows = cells.map((c, i) => [c.kind, fitMiddle(c.path, pathMax), references(findings[i]!.references, refsMax), c.size, c.repair]);
  const table = renderTable(["KIND", "PATH", "REFERENCES", "SIZE", "REPAIR"], rows, st).split("\n");
  // renderTable ends with "\n": lines[0] is the header, lines[i + 1] the row of finding i.
  const out = [table[0]!];
  cells.forEach((c, i) => {
    out.push(table[i + 1]!);
    for (const line of wrap(c.message, TABLE_WIDTH, INDENT)) out.push(st.dim(line));
  });
  return out.join("\n") + "\n";
}
