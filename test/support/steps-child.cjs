// One ImageCache instance in its own process, driven a call at a time: each stdin line is
// {"call": "remove", "args": [...]}; each answer one stdout line, {"ok": true, "value"} or
// {"ok": false, "code", "message"}; {"call": "now"} answers this process's Date.now(), and
// {"call": "setClockAhead", "args": [seconds]} moves a clock-ahead.c clock (it reads its variable at
// every call; between calls no thread of the library reads the clock). Lets a test change
// the cache between two calls of the same instance, and run that instance under an environment of its
// own (test/interop/in-flight.test.ts runs it with its wall clock two hours ahead: clock-ahead.c).
// usage: node steps-child.cjs <dist/index.js> <home>
"use strict";
const readline = require("node:readline");

const [, , entry, home] = process.argv;
const { ImageCache } = require(entry);
const cache = new ImageCache({ home });

const lines = readline.createInterface({ input: process.stdin });
(async () => {
  for await (const line of lines) {
    const { call, args } = JSON.parse(line);
    try {
      let value;
      if (call === "now") value = Date.now();
      else if (call === "setClockAhead") process.env.MSB_CLOCK_AHEAD_SEC = String(args[0]);
      else value = await cache[call](...(args ?? []));
      process.stdout.write(JSON.stringify({ ok: true, value }) + "\n");
    } catch (e) {
      process.stdout.write(JSON.stringify({ ok: false, code: e.code, message: e.message }) + "\n");
    }
  }
  await cache.close();
})().catch((e) => {
  process.stderr.write(String(e && e.stack) + "\n");
  process.exit(1);
});
