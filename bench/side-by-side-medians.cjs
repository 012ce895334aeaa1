// Reads "<impl> <ms>" lines (impl: this, other or floor) from stdin; prints each impl's times and the medians,
// with this/floor and other/floor. Shared by bench/prune-side-by-side.sh and bench/du-side-by-side.sh.
"use strict";
let s = "";
process.stdin.on("data", (d) => (s += d)).on("end", () => {
  const by = {};
  for (const l of s.trim().split("\n")) {
    const [k, v] = l.split(" ");
    (by[k] ??= []).push(Number(v));
  }
  for (const [k, v] of Object.entries(by)) console.log(`${k}: ${v.join(" ")}`);
  const med = (xs) => {
    const a = [...xs].sort((x, y) => x - y), m = a.length >> 1;
    return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
  };
  const m = Object.fromEntries(Object.entries(by).map(([k, v]) => [k, med(v)]));
  console.log("medians (ms):", JSON.stringify(m), "this/floor", (m.this / m.floor).toFixed(2),
    m.other ? "other/floor " + (m.other / m.floor).toFixed(2) : "");
});
