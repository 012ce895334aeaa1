// `msb-image-cache gc`: the collector as a long-lived command on an msb-made cache: a JSON line per run,
// /metrics over HTTP (checked by promtool), a clean exit 0 on SIGTERM and on SIGINT, usage errors for bad flags.
import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { CLI, cli, ensureCliBuilt } from "../support/cli";
import { cleanupHomes, makeHome, msbEnv, msbImageJson, pinImage } from "../support/msb";
import { buildSampleCache } from "../support/sample-images";

beforeAll(ensureCliBuilt);
afterAll(cleanupHomes);

/** A running `gc`: its JSON lines as they come, stderr, and its exit. */
function startGc(home: string, args: string[]) {
  const child: ChildProcess = spawn(process.execPath, [CLI, "gc", "--home", home, "--format", "json", ...args], {
    env: msbEnv(home),
    stdio: ["ignore", "pipe", "pipe"],
  });
  const events: Record<string, unknown>[] = [];
  let stderr = "";
  let buf = "";
  const waiters: { match: (e: Record<string, unknown>) => boolean; resolve: (e: Record<string, unknown>) => void }[] = [];
  child.stdout!.on("data", (c: Buffer) => {
    buf += c.toString("utf8");
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const e = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>;
      buf = buf.slice(nl + 1);
      events.push(e);
      for (const w of [...waiters]) if (w.match(e)) waiters.splice(waiters.indexOf(w), 1), w.resolve(e);
    }
  });
  child.stderr!.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on("close", (code, signal) => resolve({ code, signal })));
  const next = (match: (e: Record<string, unknown>) => boolean) =>
    new Promise<Record<string, unknown>>((resolve) => {
      const seen = events.find(match);
      if (seen) resolve(seen);
      else waiters.push({ match, resolve });
    });
  return { child, events, next, exited, stderr: () => stderr };
}

/**
 * The signal's "stop" line is logged at once; a run that was in progress then ends at its next safe point and
 * logs its own line, so at most one "run" may follow the stop, and nothing else.
 */
function expectStoppedBy(events: Record<string, unknown>[], signal: string) {
  const stops = events.filter((e) => e.event === "stop");
  expect(stops).toMatchObject([{ event: "stop", signal }]);
  const after = events.slice(events.indexOf(stops[0]!) + 1).map((e) => e.event);
  expect(after.length <= 1 && after.every((e) => e === "run"), `after the stop: ${after.join(", ")}`).toBe(true);
}

function promtool(text: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const p = spawn("promtool", ["check", "metrics"], { stdio: ["pipe", "inherit", "inherit"] });
    p.on("error", reject);
    p.on("close", resolve);
    p.stdin.end(text);
  });
}

describe("gc", () => {
  it("collects, logs a JSON line per run, serves /metrics, and exits 0 on SIGTERM", async () => {
    const home = await makeHome("msbgc-");
    await buildSampleCache(home);
    await pinImage(home, "base:1");
    const gc = startGc(home, ["--interval", "200ms", "--high", "0", "--low", "0", "--keep", "tools:*", "--metrics-address", "127.0.0.1:0"]);
    try {
      const listening = await gc.next((e) => e.event === "listening");
      expect(listening.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const run = await gc.next((e) => e.event === "run");
      expect(run.trigger).toBe("watermark");
      expect(run.error).toBeNull();
      expect(run.imagesRemoved).toBeGreaterThan(0);
      expect(run.references).not.toContain("base:1");
      expect(run.references).not.toContain("tools:2.0");
      const res = await fetch(listening.url as string);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
      const text = await res.text();
      expect(await promtool(text)).toBe(0);
      expect(text).toMatch(/^msb_image_cache_collector_runs_total [1-9]\d*$/m);
      expect((await fetch(String(listening.url).replace("/metrics", "/other"))).status).toBe(404);
    } finally {
      gc.child.kill("SIGTERM");
    }
    const exit = await gc.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expectStoppedBy(gc.events, "SIGTERM");
    const left = (await msbImageJson<{ reference: string }[]>(home, ["ls"])).map((x) => x.reference).sort();
    expect(left).toEqual(["base:1", "tools:2.0"]);
  }, 60_000);

  it("exits 0 on SIGINT while idle, and its timer alone would not keep it alive (it stays up until told)", async () => {
    const home = await makeHome("msbgc-");
    await buildSampleCache(home);
    const gc = startGc(home, ["--interval", "100ms", "--high", "100%"]);
    await gc.next((e) => e.event === "start");
    await new Promise((r) => setTimeout(r, 600));
    expect(gc.child.exitCode).toBeNull(); // still running
    gc.child.kill("SIGINT");
    expect(await gc.exited).toEqual({ code: 0, signal: null });
    expect(gc.events.filter((e) => e.event === "run")).toEqual([]); // below the high mark: nothing ran
    expectStoppedBy(gc.events, "SIGINT");
  }, 30_000);

  it("refuses bad flags with exit 2 before starting", async () => {
    const home = await makeHome("msbgc-");
    for (const args of [
      ["gc", "--high", "120%"],
      ["gc", "--interval", "soon"],
      ["gc", "--metrics-address", "nowhere"],
      ["gc", "--high", "80%", "--low", "90%"],
      ["gc", "--bogus"],
    ]) {
      const r = await cli(home, args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toMatch(/^error: /);
    }
  });
});
