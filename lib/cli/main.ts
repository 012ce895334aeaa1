#!/usr/bin/env node
// msb-image-cache: the command-line tool (package.json "bin"). See README "Command line".
import * as fs from "node:fs";
import * as path from "node:path";

import { ImageCache } from "../cache";
import { AbortError, ImageCacheError } from "../errors";
import { PROG, UsageError, commandHelp, parseCommandLine, topHelp } from "./args";
import { type Context, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, Interrupted, df, inspect, ls, prune, rm } from "./commands";
import { colorsEnabled, errorLine, styler } from "./format";
import { gc } from "./gc";
import { verify } from "./verify";

function version(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8")) as { version?: string };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}

/** Reads one line from a terminal stdin (cooked mode: the terminal echoes, Ctrl-C is SIGINT). */
function readLine(prompt: string, signal: AbortSignal): Promise<string | null> {
  process.stderr.write(prompt);
  return new Promise((resolve) => {
    const stdin = process.stdin;
    let buf = "";
    const done = (v: string | null) => {
      stdin.off("data", onData);
      stdin.off("end", onEnd);
      signal.removeEventListener("abort", onAbort);
      stdin.pause();
      resolve(v);
    };
    const onData = (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf("\n");
      if (nl >= 0) done(buf.slice(0, nl));
    };
    const onEnd = () => done(buf);
    const onAbort = () => {
      process.stderr.write("\n");
      done(null);
    };
    stdin.setEncoding("utf8");
    stdin.on("data", onData);
    stdin.on("end", onEnd);
    signal.addEventListener("abort", onAbort, { once: true });
    stdin.resume();
  });
}

export async function main(argv: string[]): Promise<number> {
  const st = styler(colorsEnabled());
  const err = (line: string) => process.stderr.write(line + "\n");
  let parsed;
  try {
    parsed = parseCommandLine(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`${errorLine(st, e.message)}\n\nUsage: ${e.usage}\n\nFor more information, try '--help'.`);
      return EXIT_USAGE;
    }
    throw e;
  }
  if (parsed.version) {
    process.stdout.write(`${PROG} ${version()}\n`);
    return EXIT_OK;
  }
  if (parsed.help) {
    process.stdout.write((parsed.command ? commandHelp(parsed.command) : topHelp(version())) + "\n");
    return EXIT_OK;
  }
  const command = parsed.command!;
  const values = parsed.values;

  // Ctrl-C: the first aborts the operation through its AbortSignal (a prune stops between batches
  // and reports what it did); a second one exits at once.
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts > 1) process.exit(EXIT_INTERRUPTED);
    controller.abort(new Error("interrupted (SIGINT)"));
  };
  process.on("SIGINT", onSigint);

  const cache = new ImageCache(typeof values.home === "string" ? { home: path.resolve(values.home) } : undefined);
  const ctx: Context = {
    cache,
    json: values.format === "json",
    quiet: values.quiet === true,
    st,
    signal: controller.signal,
    out: (line) => process.stdout.write(line + "\n"),
    err,
    write: (text) => void (text && process.stdout.write(text)),
    ask: (prompt) => readLine(prompt, controller.signal),
    stdinIsTTY: process.stdin.isTTY === true,
    usage: `${PROG} ${command.usage}`,
  };
  try {
    switch (command.name) {
      case "ls":
        return await ls(ctx);
      case "inspect":
        return await inspect(ctx, parsed.args[0]!);
      case "rm":
        return await rm(ctx, parsed.args, values.force === true);
      case "prune":
        return await prune(ctx, values);
      case "df":
        return await df(ctx, values.verbose === true);
      case "gc":
        return await gc(ctx, values);
      case "verify":
        return await verify(ctx, values.repair === true, typeof values.grace === "string" ? values.grace : undefined);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      err(`${errorLine(st, e.message)}\n\nUsage: ${e.usage}\n\nFor more information, try '--help'.`);
      return EXIT_USAGE;
    }
    if (e instanceof Interrupted || e instanceof AbortError || controller.signal.aborted) {
      err(errorLine(st, e instanceof Interrupted ? e.message : "interrupted"));
      return EXIT_INTERRUPTED;
    }
    if (e instanceof ImageCacheError) {
      err(errorLine(st, e.message));
      return EXIT_FAILED;
    }
    // Option values the library refuses (TypeError/RangeError naming the option) are usage errors.
    if (e instanceof TypeError || e instanceof RangeError) {
      err(`${errorLine(st, e.message)}\n\nUsage: ${ctx.usage}\n\nFor more information, try '--help'.`);
      return EXIT_USAGE;
    }
    err(errorLine(st, e instanceof Error ? e.message : String(e)));
    return EXIT_FAILED;
  } finally {
    process.off("SIGINT", onSigint);
    await cache.close().catch(() => {});
  }
}

if (require.main === module) {
  // A closed pipe (`… | head`) ends the output quietly, as for any Unix tool.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? EXIT_OK);
    throw e;
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = EXIT_FAILED;
    },
  );
}
