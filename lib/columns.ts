// Results that can hold 100,000 records arrive from the addon in columns (native/runtime/js_values.h
// RecordColumns); the objects are made here in slices of about 0.5 ms with a turn of the event
// loop between, so no single turn is stalled by a big result.

export interface RawColumns {
  count: number;
  text: ArrayBuffer;
  offsets: Int32Array;
  numbers: Float64Array;
}

export function emptyColumns(): RawColumns {
  return { count: 0, text: new ArrayBuffer(0), offsets: new Int32Array(0), numbers: new Float64Array(0) };
}

/** Reads record `i`'s k-th string or number (`strings`/`numbers` per record). */
export interface ColumnReader {
  str(i: number, k: number): string;
  num(i: number, k: number): number;
}

// Records whose text is decoded at once, when it is ASCII: one string for the window, then a substring
// per field (V8 makes a substring of 13 or more characters a view, not a copy), instead of one UTF-8
// decode call per field. A view keeps its window's string alive: a caller that keeps one field of each
// window keeps the result's whole text (about 10 MB at 100,000 images), never more.
const WINDOW = 256;
const NOT_ASCII = /[^\x00-\x7f]/;

function reader(c: RawColumns, strings: number, numbers: number): ColumnReader {
  const text = Buffer.from(c.text);
  const o = c.offsets;
  const n = c.numbers;
  let from = 0;
  let to = 0; // records [from, to) are in `window` (from byte `base`) when `ascii`
  let window = "";
  let base = 0;
  let ascii = false;
  const utf8 = (i: number, k: number) => text.toString("utf8", o[2 * (i * strings + k)], o[2 * (i * strings + k) + 1]);
  return {
    str: (i, k) => {
      if (i < from || i >= to) {
        from = i;
        to = Math.min(c.count, i + WINDOW);
        base = o[2 * from * strings]!;
        window = text.toString("latin1", base, o[2 * to * strings - 1]);
        ascii = !NOT_ASCII.test(window);
      }
      return ascii ? window.slice(o[2 * (i * strings + k)]! - base, o[2 * (i * strings + k) + 1]! - base) : utf8(i, k);
    },
    num: (i, k) => n[i * numbers + k]!,
  };
}

const SLICE_MS = 0.5;

/**
 * The records as objects. `signal`: stop between slices when it fires (reads); omitted for
 * writes, whose report is made whole once their work is done.
 */
export async function fromColumns<T>(
  c: RawColumns,
  strings: number,
  numbers: number,
  make: (r: ColumnReader, i: number) => T,
  signal?: AbortSignal,
  onAbort?: () => Error,
): Promise<T[]> {
  const r = reader(c, strings, numbers);
  const out = new Array<T>(c.count);
  let done = 0;
  while (done < c.count) {
    const sliceStart = performance.now();
    do {
      const to = Math.min(c.count, done + 256);
      for (let i = done; i < to; i++) out[i] = make(r, i);
      done = to;
    } while (done < c.count && performance.now() - sliceStart < SLICE_MS);
    if (done < c.count) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (signal?.aborted && onAbort) throw onAbort();
    }
  }
  return out;
}

/** The same at once (error paths, where a report must be attached synchronously). */
export function fromColumnsSync<T>(c: RawColumns, strings: number, numbers: number, make: (r: ColumnReader, i: number) => T): T[] {
  const r = reader(c, strings, numbers);
  const out = new Array<T>(c.count);
  for (let i = 0; i < c.count; i++) out[i] = make(r, i);
  return out;
}
