#!/usr/bin/env node
// Child-process runner for the official microsandbox Node addon (used by test/support/msb.ts).
//
// The addon resolves its home (MSB_HOME / config) at its FIRST call and keeps that database pool for the
// life of the process, so every home needs its own process. Usage:
//   MSB_HOME=<home> node official-runner.cjs <addon.node> '<json [{"fn":"imageList","args":[]}, ...]>'
// Prints one JSON line: {"results":[{"fn","sync","ok","value"|"error"}...]} with values in the tagged
// encoding below (keeps undefined vs missing vs null, Dates, key order, class names, getter-only props).
"use strict";

const addonPath = process.argv[2];
const calls = JSON.parse(process.argv[3] || "[]");

function enc(v, seen = new Set()) {
  if (v === undefined) return { $: "undefined" };
  if (v === null || typeof v === "boolean" || typeof v === "string") return v;
  if (typeof v === "number") {
    if (Number.isFinite(v) && !Object.is(v, -0)) return v;
    return { $: "number", v: Object.is(v, -0) ? "-0" : String(v) };
  }
  if (typeof v === "bigint") return { $: "bigint", v: v.toString() };
  if (typeof v === "symbol") return { $: "symbol", v: String(v.description) };
  if (typeof v === "function") return { $: "function", name: v.name };
  if (v instanceof Date) return { $: "date", v: Number.isNaN(v.getTime()) ? null : v.toISOString() };
  if (seen.has(v)) return { $: "cycle" };
  seen.add(v);
  try {
    if (v instanceof Error) {
      const props = [];
      for (const k of Object.getOwnPropertyNames(v)) {
        if (k === "stack" || k === "message") continue;
        props.push([k, enc(v[k], seen)]);
      }
      return { $: "error", class: v.constructor && v.constructor.name, name: v.name, message: v.message, props, stack: v.stack };
    }
    if (Array.isArray(v)) return { $: "array", v: v.map((x) => enc(x, seen)) };
    if (Buffer.isBuffer(v)) return { $: "buffer", v: v.toString("base64") };
    const proto = Object.getPrototypeOf(v);
    const plain = proto === Object.prototype || proto === null;
    const entries = [];
    const keys = new Set();
    for (const k of Object.keys(v)) {
      keys.add(k);
      entries.push([k, enc(v[k], seen)]);
    }
    if (!plain) {
      // napi classes (e.g. the ImageHandle imageGet resolves to) expose their fields as prototype getters.
      for (let p = proto; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
        for (const k of Object.getOwnPropertyNames(p)) {
          if (keys.has(k) || k === "constructor") continue;
          const d = Object.getOwnPropertyDescriptor(p, k);
          if (!d || typeof d.get !== "function") continue;
          keys.add(k);
          let val;
          try {
            val = enc(v[k], seen);
          } catch (e) {
            val = { $: "throws", v: enc(e, seen) };
          }
          entries.push([k, val]);
        }
      }
    }
    return { $: "object", class: plain ? null : (proto.constructor && proto.constructor.name) || "?", entries };
  } finally {
    seen.delete(v);
  }
}

(async () => {
  let addon;
  try {
    addon = require(addonPath);
  } catch (e) {
    process.stdout.write(JSON.stringify({ loadError: enc(e) }) + "\n");
    return;
  }
  const results = [];
  for (const c of calls) {
    const r = { fn: c.fn, sync: true, ok: true };
    try {
      const f = addon[c.fn];
      if (typeof f !== "function") throw new TypeError(`addon has no function ${c.fn}`);
      const ret = f.apply(addon, c.args || []);
      if (ret && typeof ret.then === "function") {
        r.sync = false;
        r.value = enc(await ret);
      } else {
        r.value = enc(ret);
      }
    } catch (e) {
      r.ok = false;
      r.error = enc(e);
    }
    results.push(r);
  }
  process.stdout.write(JSON.stringify({ results }) + "\n");
})().catch((e) => {
  process.stdout.write(JSON.stringify({ loadError: enc(e) }) + "\n");
});
