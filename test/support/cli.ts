/**
 * Helpers for the command-line tool's tests: run the built `dist/cli/main.js` (what the package's
 * `bin` points at) as a child process, on pipes or on a pseudo-terminal (pty-run.py), next to the
 * real msb with the same environment.
 */
import { mkdir, readdir, rmdir, stat } from "node:fs/promises";
import { join } from "node:path";

import { REPO_ROOT, type RunOptions, type RunResult, msbEnv, run, MSB_BIN } from "./msb";

export const CLI = join(REPO_ROOT, "dist", "cli", "main.js");

async function newestMtime(dir: string): Promise<number> {
  let newest = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, await newestMtime(p));
    else if (e.name.endsWith(".ts") || e.name.endsWith(".mjs")) newest = Math.max(newest, (await stat(p)).mtimeMs);
  }
  return newest;
}

/**
 * Compiles lib/ to dist/ (tsc -p tsconfig.build.json) when a source is newer than the built CLI, so
 * the tests never run a stale binary. Test files run in parallel: a lock directory lets one build.
 */
export async function ensureCliBuilt(): Promise<void> {
  const lock = join(REPO_ROOT, "dist", ".cli-build.lock");
  const fresh = async () => {
    const built = await stat(CLI).then((s) => s.mtimeMs, () => 0);
    return built >= (await newestMtime(join(REPO_ROOT, "lib")));
  };
  for (let waited = 0; waited < 120_000; waited += 200) {
    if (await fresh()) return;
    await mkdir(join(REPO_ROOT, "dist"), { recursive: true });
    const mine = await mkdir(lock).then(() => true, () => false);
    if (mine) {
      try {
        if (await fresh()) return;
        const tsc = join(REPO_ROOT, "node_modules", "typescript", "bin", "tsc");
        const r = await run(process.execPath, [tsc, "-p", join(REPO_ROOT, "tsconfig.build.json")], process.env);
        if (r.code !== 0) throw new Error(`tsc failed:\n${r.stdout}${r.stderr}`);
        const esm = await run(process.execPath, [join(REPO_ROOT, "scripts", "write-esm-entry.js")], process.env);
        if (esm.code !== 0) throw new Error(`write-esm-entry failed: ${esm.stderr}`);
        return;
      } finally {
        await rmdir(lock).catch(() => {});
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${lock}`);
}

/** `msb-image-cache <args>` with MSB_HOME=home, TZ=UTC, NO_COLOR=1 (msbEnv), stdin empty (not a TTY). */
export function cli(home: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return run(process.execPath, [CLI, ...args], msbEnv(home, opts.env), { timeoutMs: 60_000, ...opts });
}

/** msb prints how long a remove took when it took over 0.5 s; drop that from its lines. */
export function dropDurations(text: string): string {
  return text.replace(/ \(\d+(?:\.\d+)?s\)$/gm, "").replace(/ \(\d+m\d+s\)$/gm, "");
}

export interface PtyStep {
  waitFor: string;
  send: string;
}

export interface PtyResult {
  /** Everything written to the terminal (stdout and stderr, CRLF line ends, echoed input). */
  output: string;
  code: number | null;
  signal: number | null;
  timedOut: boolean;
}

/** Runs `cmd args` on a pseudo-terminal (stdin, stdout and stderr all the terminal, unless stdoutFile). */
export async function runPty(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  opts: { steps?: PtyStep[]; timeoutMs?: number; stdoutFile?: string } = {},
): Promise<PtyResult> {
  const spec = {
    cmd,
    args,
    env,
    steps: opts.steps ?? [],
    timeout: (opts.timeoutMs ?? 30_000) / 1000,
    stdoutFile: opts.stdoutFile,
  };
  const r = await run("python3", [join(__dirname, "pty-run.py")], process.env, { input: JSON.stringify(spec), timeoutMs: (opts.timeoutMs ?? 30_000) + 10_000 });
  if (r.code !== 0) throw new Error(`pty-run.py failed (${r.code}): ${r.stderr}`);
  const res = JSON.parse(r.stdout) as { output: string; code: number | null; signal: number | null; timedOut: boolean };
  return { ...res, output: Buffer.from(res.output, "base64").toString("utf8") };
}

/** The environment for a terminal: msbEnv without NO_COLOR, with TERM set (colours as a user sees them). */
export function ttyEnv(home: string, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return msbEnv(home, { NO_COLOR: undefined, TERM: "xterm-256color", ...extra });
}

export const cliPty = (home: string, args: string[], env: NodeJS.ProcessEnv, opts?: Parameters<typeof runPty>[3]) =>
  runPty(process.execPath, [CLI, ...args], env, opts);
export const msbPty = (home: string, args: string[], env: NodeJS.ProcessEnv, opts?: Parameters<typeof runPty>[3]) =>
  runPty(MSB_BIN, args, env, opts);
