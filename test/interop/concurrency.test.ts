// Several caches, and several processes, on one home at once.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import { ImageCache, type ImagePruneReport, PruneInProgressError } from "../../lib/index";
import { cleanupHomes, holdFlock, holdWriteLock, listFiles, makeHome, msbImageJson, REPO_ROOT } from "../support/msb";
import { buildSampleCache, SAMPLE_REFERENCES } from "../support/sample-cache";

afterAll(cleanupHomes);

function runNode(script: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["-e", script], { env: { ...process.env, ...env }, cwd: REPO_ROOT });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("concurrent use of one home", () => {
  it("two ImageCache instances list and prune at once; one prune at a time, each reference removed once", async () => {
    // The overlap is made, not hoped for: another process holds SQLite's write lock, so prune A stops
    // after its first progress event (rows 0/1, before BEGIN); B is started on that event and reports
    // its own rows 0/1; only when both are in flight is the lock released.
    const home = await makeHome();
    await buildSampleCache(home);
    const a = new ImageCache({ home });
    const b = new ImageCache({ home });
    const holder = await holdWriteLock(home);
    const events: string[] = [];
    let pb: Promise<PromiseSettledResult<ImagePruneReport>> | undefined;
    let bStarted!: () => void;
    const bInFlight = new Promise<void>((r) => (bStarted = r));
    const lists: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++) lists.push((i % 2 ? a : b).list());
    const settle = (p: Promise<ImagePruneReport>) =>
      p.then((value) => ({ status: "fulfilled", value }) as const, (reason: unknown) => ({ status: "rejected", reason }) as const);
    const pa = settle(
      a.prune({
        onProgress: (e) => {
          events.push(`A ${e.phase} ${e.done}/${e.total}`);
          if (!pb) {
            pb = settle(
              b.prune({
                onProgress: (f) => {
                  events.push(`B ${f.phase} ${f.done}/${f.total}`);
                  bStarted();
                },
              }),
            );
            void pb.then(() => bStarted()); // a B that fails before any event must not hang the test
          }
        },
      }),
    );
    await bInFlight;
    expect(events.slice(0, 2)).toEqual(["A rows 0/1", "B rows 0/1"]); // both in flight, neither has begun
    holder.stdin!.end();
    const results = [await pa, await pb!];
    await Promise.all(lists);
    const done = results.filter((r) => r.status === "fulfilled").map((r) => (r as PromiseFulfilledResult<ImagePruneReport>).value);
    for (const r of results) {
      if (r.status === "rejected") expect(r.reason).toBeInstanceOf(PruneInProgressError);
    }
    expect(done.length).toBeGreaterThanOrEqual(1);
    expect(done.reduce((n, r) => n + r.imageRefsRemoved, 0)).toBe(SAMPLE_REFERENCES.length);
    expect(done.reduce((n, r) => n + r.manifestsRemoved, 0)).toBe(5);
    expect(done.flatMap((r) => r.errors)).toEqual([]);
    expect(await a.list()).toEqual([]);
    expect(await msbImageJson(home, ["ls"])).toEqual([]);
    await Promise.all([a.close(), b.close()]);
  });

  it("a prune while another process holds the prune lock rejects at once with PruneInProgressError, changing nothing", async () => {
    // The lock another prune (in any process) holds: <cache>/.msb-image-cache.prune.lock (flock).
    const home = await makeHome();
    await buildSampleCache(home);
    const release = await holdFlock(join(home, "cache", ".msb-image-cache.prune.lock"));
    const c = new ImageCache({ home });
    const before = (await listFiles(join(home, "cache"))).filter((f) => !f.path.endsWith(".lock"));
    try {
      await expect(c.prune()).rejects.toBeInstanceOf(PruneInProgressError);
      expect(await c.list()).toHaveLength(SAMPLE_REFERENCES.length);
      expect((await listFiles(join(home, "cache"))).filter((f) => !f.path.endsWith(".lock"))).toEqual(before);
    } finally {
      await release();
    }
    expect((await c.prune()).imageRefsRemoved).toBe(SAMPLE_REFERENCES.length); // and goes ahead once it is free
    await c.close();
  });

  it("many parallel reads on one instance share its connection pool", async () => {
    const home = await makeHome();
    await buildSampleCache(home);
    const c = new ImageCache({ home });
    const calls = [];
    for (let i = 0; i < 200; i++) {
      const ref = SAMPLE_REFERENCES[i % SAMPLE_REFERENCES.length]!;
      calls.push(i % 3 === 0 ? c.list().then((l) => l.length) : i % 3 === 1 ? c.get(ref).then((h) => h.reference) : c.inspect(ref).then((d) => d.reference));
    }
    const results = await Promise.all(calls);
    expect(results.filter((r) => r === SAMPLE_REFERENCES.length)).toHaveLength(67);
    await c.close();
  });

  it("two processes list and prune the same home at once", async () => {
    const home = await makeHome();
    await buildSampleCache(home);
    const script = `
      const { ImageCache } = require(${JSON.stringify(join(REPO_ROOT, "dist", "index.js"))});
      (async () => {
        const c = new ImageCache({ home: process.env.TARGET });
        let listed = 0;
        for (let i = 0; i < 30; i++) listed += (await c.list()).length;
        let r;
        try {
          r = await c.prune();
        } catch (e) {
          if (e.code !== "pruneInProgress") throw e;
          r = { imageRefsRemoved: 0, errors: [] }; // the other process is pruning: a coded error, at once
        }
        await c.close();
        console.log(JSON.stringify({ listed, refs: r.imageRefsRemoved, errors: r.errors }));
      })().catch((e) => { console.error(e); process.exit(1); });`;
    const [one, two] = await Promise.all([runNode(script, { TARGET: home }), runNode(script, { TARGET: home })]);
    expect(one.stderr).toBe("");
    expect(two.stderr).toBe("");
    const r1 = JSON.parse(one.stdout);
    const r2 = JSON.parse(two.stdout);
    expect(r1.refs + r2.refs).toBe(SAMPLE_REFERENCES.length);
    expect([...r1.errors, ...r2.errors]).toEqual([]);
    expect(await msbImageJson(home, ["ls"])).toEqual([]);
  });
});
