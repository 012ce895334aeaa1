// The human forms of sizes, durations and shares of a file system, one parser for the library and the CLI
// (spec/api.md "Sizes, durations and shares"). Numbers stay numbers (bytes, milliseconds); a string always
// carries its unit, because a bare "10" is a fat-fingered "10GiB" far more often than ten bytes.

/** A string that is not a size, duration or share; callers turn it into a RangeError or a usage error. */
export class UnitSyntaxError extends Error {
  override name = "UnitSyntaxError";
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

export const DURATION_EXAMPLES = "a duration such as 7d, 12h, 10m, 1h30m (units ms, s, m, h, d, w)";
export const SIZE_EXAMPLES = "a size such as 20GiB, 500MB, 512KiB or 0 (units B, KiB, MiB, GiB, TiB, KB, MB, GB, TB; K, M, G, T = KiB..TiB)";
export const SHARE_EXAMPLES = "a size such as 20GiB or 500MB, or a share of the file system such as 15%";

/** "7d", "10m", "1h30m", "90s", "1.5h", "500ms" → milliseconds. A bare number is refused (which unit?). */
export function parseDuration(text: string): number {
  const s = text.trim();
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;
  let total = 0;
  let at = 0;
  let m: RegExpExecArray | null;
  while ((m = part.exec(s)) !== null) {
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    at = part.lastIndex;
  }
  if (s.length === 0 || at !== s.length || !Number.isFinite(total)) {
    throw new UnitSyntaxError(`expected ${DURATION_EXAMPLES}`);
  }
  return Math.round(total);
}

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  k: 1024,
  kib: 1024,
  kb: 1000,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  mb: 1000 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  gb: 1000 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
  tb: 1000 ** 4,
};

/**
 * "20GiB", "20G", "500MB", "4096B" → bytes (K/M/G/T and KiB.. are powers of 1024; KB.. of 1000). The unit is
 * required; only "0" may stand alone (zero bytes is zero in every unit).
 */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (m && m[2] === "") {
    if (Number(m[1]) === 0) return 0;
    throw new UnitSyntaxError(`a size needs a unit: did you mean ${m[1]}GiB, ${m[1]}MiB or ${m[1]}B? (expected ${SIZE_EXAMPLES})`);
  }
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  const bytes = m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!Number.isSafeInteger(bytes)) throw new UnitSyntaxError(`expected ${SIZE_EXAMPLES}`);
  return bytes;
}

/** A size in bytes, or a share of the file system that holds the cache (resolved against statfs at run time). */
export type SizeOrShare = { bytes: number } | { percent: number };

/** "15%", "0.5%" → { percent }; anything else as parseSize → { bytes }. A share is 0..100. */
export function parseSizeOrShare(text: string): SizeOrShare {
  const m = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(text);
  if (m) {
    const percent = Number(m[1]);
    if (!(percent >= 0 && percent <= 100)) throw new UnitSyntaxError(`a share of the file system must be between 0% and 100%, got ${text.trim()}`);
    return { percent };
  }
  try {
    return { bytes: parseSize(text) };
  } catch (e) {
    if (/^\s*-?\d+(?:\.\d+)?\s*%\s*$/.test(text)) throw new UnitSyntaxError(`a share of the file system must be between 0% and 100%, got ${text.trim()}`);
    throw e instanceof UnitSyntaxError && !/needs a unit/.test(e.message) ? new UnitSyntaxError(`expected ${SHARE_EXAMPLES}`) : e;
  }
}
