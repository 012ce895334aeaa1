// Results in columns made into objects (lib/columns.ts), in process with columns built here: the strings
// and numbers each record reads, slices of about 0.5 ms with a turn of the event loop between (the clock is
// a stub, so no test depends on how fast this machine is), and a signal honoured only between slices.
import { afterEach, describe, expect, it, vi } from "vitest";

import { type ColumnReader, type RawColumns, emptyColumns, fromColumns, fromColumnsSync } from "../../lib/columns";

/** Columns as native/js_values.h RecordColumns lays them out: UTF-8 text, [start, end) per string, numbers. */
function columns(records: Array<{ s: string[]; n: number[] }>): RawColumns {
  const parts: Buffer[] = [];
  const offsets: number[] = [];
  let at = 0;
  for (const r of records) {
    for (const s of r.s) {
      const b = Buffer.from(s, "utf8");
      offsets.push(at, at + b.length);
      parts.push(b);
      at += b.length;
    }
  }
  const text = Buffer.concat(parts);
  return {
    count: records.length,
    text: text.buffer.slice(text.byteOffset, text.byteOffset + text.length) as ArrayBuffer,
    offsets: Int32Array.from(offsets),
    numbers: Float64Array.from(records.flatMap((r) => r.n)),
  };
}

const make = (r: ColumnReader, i: number) => ({ a: r.str(i, 0), b: r.str(i, 1), x: r.num(i, 0), y: r.num(i, 1), z: r.num(i, 2) });
const records = (n: number) => Array.from({ length: n }, (_, i) => ({ s: [`ref-${i}`, i % 2 ? "é😀" : ""], n: [i, -i, i / 2] }));

afterEach(() => vi.restoreAllMocks());

describe("reading records", () => {
  it("each record's k-th string and number, multi-byte text included", async () => {
    const rows = [
      { s: ["app:1", "sha256:ab"], n: [1, 2.5, -3] },
      { s: ["", "日本"], n: [NaN, 0, 1e300] },
      { s: ["x", "y"], n: [7, 8, 9] },
    ];
    const want = rows.map((r) => ({ a: r.s[0], b: r.s[1], x: r.n[0], y: r.n[1], z: r.n[2] }));
    expect(await fromColumns(columns(rows), 2, 3, make)).toEqual(want);
    expect(fromColumnsSync(columns(rows), 2, 3, make)).toEqual(want);
  });

  it("ASCII and multi-byte windows alike, records read in any order", async () => {
    // 256 records' text is decoded at a time: the first and third windows are ASCII, the second has one
    // multi-byte string; a record is read on its own, out of order, and across window edges.
    const rows = Array.from({ length: 700 }, (_, i) => ({ s: [`ref-${i}`, i === 300 ? "é" : i % 5 === 2 ? "" : `d${i}`], n: [i] }));
    const c = columns(rows);
    const want = rows.map((r) => ({ a: r.s[0], b: r.s[1], x: r.n[0] }));
    const read = (r: ColumnReader, i: number) => ({ a: r.str(i, 0), b: r.str(i, 1), x: r.num(i, 0) });
    expect(await fromColumns(c, 2, 1, read)).toEqual(want);
    const order = [699, 0, 255, 256, 511, 512, 300, 1, 698, 257];
    let reader: ColumnReader | undefined;
    fromColumnsSync(c, 2, 1, (r) => (reader = r));
    expect(order.map((i) => read(reader!, i))).toEqual(order.map((i) => want[i]));
  });

  it("the record index is passed along", async () => {
    const c = columns(records(3));
    expect(await fromColumns(c, 2, 3, (_r, i) => i)).toEqual([0, 1, 2]);
    expect(fromColumnsSync(c, 2, 3, (_r, i) => i)).toEqual([0, 1, 2]);
  });

  it("no records", async () => {
    const e = emptyColumns();
    expect([e.count, e.text.byteLength, e.offsets.length, e.numbers.length]).toEqual([0, 0, 0, 0]);
    expect(await fromColumns(e, 2, 3, make)).toEqual([]);
    expect(fromColumnsSync(e, 2, 3, make)).toEqual([]);
  });
});

describe("slices", () => {
  /** performance.now() moving `step` ms per call, from 1000. */
  function clock(step: number) {
    let t = 1000;
    vi.spyOn(performance, "now").mockImplementation(() => (t += step));
  }
  function turns() {
    const spy = vi.spyOn(globalThis, "setImmediate");
    return () => spy.mock.calls.length;
  }

  it("a fast machine makes everything in one turn", async () => {
    clock(0);
    const count = turns();
    const out = await fromColumns(columns(records(3000)), 2, 3, make);
    expect(out).toHaveLength(3000);
    expect(out[2999]).toEqual({ a: "ref-2999", b: "é😀", x: 2999, y: -2999, z: 1499.5 });
    expect(count()).toBe(0);
  });

  it("a slow one yields after each batch of 256 that took 0.5 ms or more, never after the last", async () => {
    clock(0.5);
    const count = turns();
    const out = await fromColumns(columns(records(1000)), 2, 3, make);
    expect(out.map((o) => o.x)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(count()).toBe(3); // batches of 256, 256, 256, 232
    expect(await fromColumns(columns(records(512)), 2, 3, make)).toHaveLength(512);
    expect(count()).toBe(4); // 256 | 256
    expect(await fromColumns(columns(records(257)), 2, 3, make)).toHaveLength(257);
    expect(count()).toBe(5); // 256 | 1
    expect(await fromColumns(columns(records(256)), 2, 3, make)).toHaveLength(256);
    expect(count()).toBe(5); // one batch
  });

  it("under 0.5 ms a slice takes another batch", async () => {
    clock(0.2); // each read of the clock is 0.2 ms after the last
    const count = turns();
    await fromColumns(columns(records(256 * 6)), 2, 3, make);
    // a slice reads the clock as it starts and after each batch: 0.2 and 0.4 ms in → another batch; 0.6 → a turn.
    // So 3 batches per slice, and 6 batches are two slices with one turn between.
    expect(count()).toBe(1);
  });

  it("the batches are made in order, each record once", async () => {
    clock(1);
    const seen: number[] = [];
    await fromColumns(columns(records(700)), 2, 3, (_r, i) => seen.push(i));
    expect(seen).toEqual(Array.from({ length: 700 }, (_, i) => i));
  });

  it("the event loop runs between slices", async () => {
    clock(1);
    const order: string[] = [];
    setImmediate(() => order.push("other work"));
    await fromColumns(columns(records(300)), 2, 3, (_r, i) => {
      if (i === 0 || i === 299) order.push(`record ${i}`);
      return i;
    });
    expect(order).toEqual(["record 0", "other work", "record 299"]);
  });
});

describe("a signal", () => {
  const stopped = new Error("stopped");
  it("stops between slices with the caller's error", async () => {
    let t = 0;
    vi.spyOn(performance, "now").mockImplementation(() => (t += 1));
    const ac = new AbortController();
    let made = 0;
    const p = fromColumns(columns(records(1000)), 2, 3, () => made++, ac.signal, () => stopped);
    ac.abort();
    await expect(p).rejects.toBe(stopped);
    expect(made).toBe(256); // the first slice was done before the signal was looked at
  });

  it("is not looked at when everything fits in one slice, nor without an error to throw", async () => {
    let t = 0;
    vi.spyOn(performance, "now").mockImplementation(() => (t += 1));
    const ac = new AbortController();
    ac.abort();
    expect(await fromColumns(columns(records(256)), 2, 3, (_r, i) => i, ac.signal, () => stopped)).toHaveLength(256);
    expect(await fromColumns(columns(records(600)), 2, 3, (_r, i) => i, ac.signal)).toHaveLength(600);
    expect(await fromColumns(columns(records(600)), 2, 3, (_r, i) => i, new AbortController().signal, () => stopped)).toHaveLength(600);
  });
});
