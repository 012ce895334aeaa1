// The CLI on a pseudo-terminal (python3's pty module, test/support/pty-run.py), next to msb on its
// own: colours, prune's prompt answered y and n, the progress bar (only on a terminal, never with
// -q, --format json or a redirected stdout), and Ctrl-C during a prune and at the prompt.
import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { cli, cliPty, dropDurations, ensureCliBuilt, msbPty, ttyEnv } from "../support/cli";
import { buildFixture } from "../support/fixture";
import { cleanupHomes, copyHome, makeHome, msbImageJson } from "../support/msb";
import { SAMPLE_REFERENCES, buildSampleCache } from "../support/sample-cache";

let master: string;

beforeAll(async () => {
  await ensureCliBuilt();
  master = await makeHome();
  await buildSampleCache(master);
});
afterAll(cleanupHomes);

const FRAME = /\r\x1b\[2K(?: {3}[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] [^\r\n]*)?/g;
/** The terminal's text without our progress frames (each starts with CR + erase-line; the last only erases). */
const withoutFrames = (s: string) => s.replace(FRAME, "");
const refsOf = async (home: string) => ((await msbImageJson(home, ["ls"])) as { reference: string }[]).map((r) => r.reference).sort();
const PROMPT = "Remove all cached images not used by sandboxes\\? \\[y/N\\] ";

describe("colours and layout on a terminal, as msb's", () => {
  const variants: [string[], Record<string, string>[]][] = [
    [["ls"], [{}, { NO_COLOR: "1" }]],
    [["inspect", "app:1"], [{}]],
    [["inspect", "nope:1"], [{}]],
  ];
  it.each(variants)("%j", async (args, extras) => {
    for (const extra of extras) {
      const env = ttyEnv(master, extra);
      const [o, t] = await Promise.all([cliPty(master, args, env), msbPty(master, ["image", ...args], env)]);
      expect({ code: o.code, output: o.output }).toEqual({ code: t.code, output: t.output });
      expect(o.output.includes("\x1b[")).toBe(!("NO_COLOR" in extra));
    }
  });
});

describe("prune's prompt", () => {
  it("n: 'Aborted.', exit 0, nothing removed — as msb", async () => {
    const [ours, theirs] = await Promise.all([copyHome(master), copyHome(master)]);
    const steps = [{ waitFor: PROMPT, send: "n\n" }];
    const [o, t] = await Promise.all([cliPty(ours, ["prune"], ttyEnv(ours), { steps }), msbPty(theirs, ["image", "prune"], ttyEnv(theirs), { steps })]);
    expect({ code: o.code, output: o.output }).toEqual({ code: t.code, output: t.output });
    expect(o.output).toBe("Remove all cached images not used by sandboxes? [y/N] n\r\nAborted.\r\n");
    expect(await refsOf(ours)).toEqual([...SAMPLE_REFERENCES].sort());
  });

  it("y: msb's summary once the progress frames are erased; the bar was drawn on stderr", async () => {
    const [ours, theirs] = await Promise.all([copyHome(master), copyHome(master)]);
    const steps = [{ waitFor: PROMPT, send: "y\n" }];
    const [o, t] = await Promise.all([cliPty(ours, ["prune"], ttyEnv(ours), { steps }), msbPty(theirs, ["image", "prune"], ttyEnv(theirs), { steps })]);
    expect(o.code).toBe(0);
    expect(withoutFrames(o.output)).toBe(t.output);
    expect(o.output).toMatch(/\r\x1b\[2K {3}⠋ (Pruning|Deleting) /);
    expect(o.output).toMatch(/\r\x1b\[2K {3}[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] Deleting {5}[━╌]{30} +\d+% {2}\d+\/18 files/);
    expect(await refsOf(ours)).toEqual([]);
  });

  it("with a policy the question names what would go, and the run takes exactly that plan", async () => {
    const home = await copyHome(master);
    const steps = [{ waitFor: "\\[y/N\\] ", send: "y\n" }];
    const o = await cliPty(home, ["prune", "--keep", "app:*"], ttyEnv(home, { NO_COLOR: "1" }), { steps });
    expect(o.code).toBe(0);
    // First the size on disk now → after and the file system's free space, then the question.
    expect(withoutFrames(o.output)).toMatch(/^ {2}On disk: {6}[\d.]+ KiB → [\d.]+ KiB\r\n {2}FS free: {6}.+ → .+ of .+\r\nRemove 5 cached image references \([\d.]+ KiB\) not used by sandboxes\? \[y\/N\] y\r\n {3}✓ Pruned {7}image cache\r\n {2}Image refs: {3}5\r\n/);
    expect(await refsOf(home)).toEqual(["app:1", "app:latest"]);
  });
});

describe("the progress bar", () => {
  it("never with --format json, -q, or when stdout is not the terminal", async () => {
    for (const args of [["prune", "--yes", "--format", "json"], ["prune", "--yes", "-q"], ["df", "-q"]]) {
      const home = await copyHome(master);
      const o = await cliPty(home, args, ttyEnv(home));
      expect({ args, code: o.code, frames: o.output.includes("\x1b[2K") }).toEqual({ args, code: 0, frames: false });
    }
    const home = await copyHome(master);
    const stdoutFile = join(home, "stdout.txt");
    const o = await cliPty(home, ["prune", "--yes"], ttyEnv(home), { stdoutFile });
    expect(o).toMatchObject({ code: 0, output: "   ✓ Pruned       image cache\r\n" }); // stderr only; no colour: stdout is a file
    expect(await readFile(stdoutFile, "utf8")).toMatch(/^ {2}Image refs: {3}7\n/);
  });

  it("df shows a spinner on a terminal, then its table; verify a bar", async () => {
    const o = await cliPty(master, ["df"], ttyEnv(master, { NO_COLOR: "1" }));
    expect(o.code).toBe(0);
    expect(o.output).toMatch(/^\r\x1b\[2K {3}⠋ Measuring/);
    expect(withoutFrames(o.output).replace(/\r\n/g, "\n")).toBe((await cli(master, ["df"])).stdout);
    const v = await cliPty(master, ["verify"], ttyEnv(master, { NO_COLOR: "1" }));
    expect(v.code).toBe(0);
    expect(v.output).toMatch(/\r\x1b\[2K {3}⠋ (Scanning|Checking) /);
    expect(withoutFrames(v.output)).toMatch(/^ {3}✓ Verified {5}image cache\r\n/);
  });
});

describe("Ctrl-C", () => {
  let big: string | undefined;
  afterAll(async () => {
    if (big) await rm(big, { recursive: true, force: true });
  });

  it("during a prune: stops between batches, prints what was done, exit 130; the counts match the disk", async () => {
    // 2,000 images (≈16,000 files) from the fixture builder, on tmpfs when there is one.
    big = await mkdtemp(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "msb-cli-sigint-"));
    const fixtureHome = join(big, "fixture");
    const fx = await buildFixture(fixtureHome, { images: 2000, layersPerImage: 3 });
    const manifests = fx.manifests.length;
    const count = (home: string, dir: string, ext: string) => readdir(join(home, "cache", dir)).then((n) => n.filter((f) => f.endsWith(ext)).length);
    const layerFiles = await count(fixtureHome, "layers", ".erofs");
    // Ctrl-C when the files start going ("Deleting": the rows are committed). The test needs at least
    // one interrupt in the file phase (else "the counts match the disk" was never checked): should a
    // fast machine finish every file first (exit 0), it tries again on a fresh copy, up to three times.
    let fileInterrupts = 0;
    const outcomes: string[] = [];
    for (let attempt = 0; attempt < 3 && fileInterrupts === 0; attempt++) {
      const home = attempt === 0 ? fixtureHome : join(big, `again-${attempt}`);
      if (home !== fixtureHome) await buildFixture(home, { images: 2000, layersPerImage: 3 });
      const o = await cliPty(home, ["prune", "--yes"], ttyEnv(home, { NO_COLOR: "1" }), { steps: [{ waitFor: "Deleting", send: "\x03" }], timeoutMs: 60_000 });
      const text = withoutFrames(o.output);
      if (o.code === 0) {
        expect(text).toMatch(/Image refs: {3}2000\r\n/); // it finished first
        outcomes.push("finished");
        continue;
      }
      expect(o.code).toBe(130);
      // stopped among the files: the summary says what went, and the disk agrees
      expect(text).toMatch(/ {3}✓ Pruned {7}image cache\r\n {2}Image refs: {3}2000\r\n/);
      expect(text).toMatch(/\r\nerror: interrupted; the counts above are what was removed\r\n$/);
      const fsmeta = Number(/Fsmeta: +(\d+)/.exec(text)?.[1] ?? 0);
      const vmdk = Number(/VMDK: +(\d+)/.exec(text)?.[1] ?? 0);
      expect(await count(home, "fsmeta", ".erofs")).toBe(manifests - fsmeta);
      expect(await count(home, "vmdk", ".vmdk")).toBe(manifests - vmdk);
      // part-way: layer files (deleted after fsmeta and VMDKs) are left
      expect(await count(home, "layers", ".erofs")).toBeGreaterThan(0);
      expect(await count(home, "layers", ".erofs")).toBeLessThanOrEqual(layerFiles);
      // the rows went in one transaction before the files: nothing is listed any more
      expect(await cli(home, ["ls", "-q"])).toMatchObject({ code: 0, stdout: "" });
      fileInterrupts++;
    }
    expect({ fileInterrupts, outcomes }).toMatchObject({ fileInterrupts: 1 });
  });

  it("as the prune starts: in the row transaction nothing is removed (exit 130); any outcome matches the disk", async () => {
    // Ctrl-C as soon as the prune starts ("Pruning"): it lands in the row transaction (nothing removed)
    // or, on a fast machine, among the files; each outcome is checked against the disk.
    big ??= await mkdtemp(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "msb-cli-sigint-"));
    const home = join(big, "rows");
    const fx = await buildFixture(home, { images: 2000, layersPerImage: 3 });
    const o = await cliPty(home, ["prune", "--yes"], ttyEnv(home, { NO_COLOR: "1" }), { steps: [{ waitFor: "Pruning", send: "\x03" }], timeoutMs: 60_000 });
    const text = withoutFrames(o.output);
    const fsmetaLeft = (await readdir(join(home, "cache", "fsmeta"))).filter((f) => f.endsWith(".erofs")).length;
    const listed = (await cli(home, ["ls", "-q"])).stdout.split("\n").filter(Boolean).length;
    if (/interrupted; nothing was removed/.test(text)) {
      expect(o.code).toBe(130);
      expect(text).toBe("\r\nerror: interrupted; nothing was removed\r\n".slice(text.startsWith("\r\n") ? 0 : 2));
      expect({ fsmetaLeft, listed }).toEqual({ fsmetaLeft: fx.manifests.length, listed: 2000 });
    } else {
      const fsmeta = Number(/Fsmeta: +(\d+)/.exec(text)?.[1] ?? 0);
      expect({ fsmetaLeft, listed }).toEqual({ fsmetaLeft: fx.manifests.length - fsmeta, listed: 0 });
    }
  });

  it("at the prompt: exit 130, nothing removed", async () => {
    const home = await copyHome(master);
    const o = await cliPty(home, ["prune"], ttyEnv(home, { NO_COLOR: "1" }), { steps: [{ waitFor: PROMPT, send: "\x03" }] });
    expect(o.code).toBe(130);
    expect(o.output).toMatch(/\r\nerror: interrupted; nothing was removed\r\n$/);
    expect(await refsOf(home)).toEqual([...SAMPLE_REFERENCES].sort());
  });
});

void dropDurations;
