// Command-line parsing with node:util's parseArgs (no dependency): global options anywhere on the
// line, one command, its own options; mistakes become UsageError (exit code 2), worded like clap's
// so the messages read like msb's.
import { parseArgs, type ParseArgsConfig } from "node:util";
import * as units from "../units";

export const PROG = "msb-image-cache";

export class UsageError extends Error {
  constructor(
    message: string,
    readonly usage: string,
  ) {
    super(message);
    this.name = "UsageError";
  }
}

type Options = NonNullable<ParseArgsConfig["options"]>;

const GLOBAL: Options = {
  home: { type: "string" },
  format: { type: "string" },
  quiet: { type: "boolean", short: "q" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
};

export type CommandName = "ls" | "inspect" | "rm" | "prune" | "df" | "verify" | "gc";

interface CommandSpec {
  name: CommandName;
  aliases: string[];
  options: Options;
  usage: string;
  summary: string;
  help: string;
  /** [min, max] positional arguments after the command. */
  args: [number, number];
  argName?: string;
}

export const COMMANDS: CommandSpec[] = [
  {
    name: "ls",
    aliases: ["list"],
    options: {},
    usage: "ls [OPTIONS]",
    summary: "List cached images [alias: list]",
    args: [0, 0],
    help: "  -q, --quiet            Show only image references",
  },
  {
    name: "inspect",
    aliases: [],
    options: {},
    usage: "inspect [OPTIONS] <REFERENCE>",
    summary: "Show detailed image information",
    args: [1, 1],
    argName: "<REFERENCE>",
    help: "  -q, --quiet            Show only the manifest digest",
  },
  {
    name: "rm",
    aliases: ["remove"],
    options: { force: { type: "boolean", short: "f" } },
    usage: "rm [OPTIONS] <REFERENCES>...",
    summary: "Delete one or more cached images [alias: remove]",
    args: [1, Infinity],
    argName: "<REFERENCES>...",
    help: [
      "  -f, --force            Remove the reference even if sandboxes or snapshots use the image",
      "                         (the image's files stay while it is in use)",
      "  -q, --quiet            Suppress output",
    ].join("\n"),
  },
  {
    name: "prune",
    aliases: [],
    options: {
      yes: { type: "boolean", short: "y" },
      "dry-run": { type: "boolean" },
      "older-than": { type: "string" },
      "min-age": { type: "string" },
      "max-size": { type: "string" },
      "min-free": { type: "string" },
      reserved: { type: "string" },
      keep: { type: "string", multiple: true },
      filter: { type: "string", multiple: true },
      grace: { type: "string" },
    },
    usage: "prune [OPTIONS]",
    summary: "Remove cached images not used by sandboxes",
    args: [0, 0],
    help: [
      "  -y, --yes              Do not prompt for confirmation",
      "      --dry-run          Change nothing; show what a real run would remove now",
      "      --older-than <DUR> Only images last used longer ago than DUR (e.g. 7d, 12h, 1h30m)",
      "      --min-age <DUR>    Never remove a reference pulled less than DUR ago (e.g. 10m)",
      "      --max-size <SIZE>  Remove least recently used images until the cache takes at most SIZE on disk",
      "                         (e.g. 20GiB, 500MB, or 40% of the file system; KiB/MiB/GiB/TiB or K/M/G/T =",
      "                         1024^n, KB/MB/GB/TB = 1000^n)",
      "      --min-free <SIZE>  Remove least recently used images until SIZE is free on the file system",
      "                         holding the cache (e.g. 10GiB, 15%)",
      "      --reserved <SIZE>  Never shrink the cache below SIZE on disk, even when a target stays unmet",
      "      --keep <REF|GLOB>  Never remove these references (repeatable)",
      "      --filter <F>       Only candidates matching reference=GLOB or label=KEY=VALUE (repeatable)",
      "      --grace <DUR>      tmp/ entries and flat/ blobs changed within DUR are left alone (default 1h)",
      "  -q, --quiet            Suppress output (with --dry-run: the references that would go)",
    ].join("\n"),
  },
  {
    name: "df",
    aliases: [],
    options: { verbose: { type: "boolean", short: "v" } },
    usage: "df [OPTIONS]",
    summary: "Show disk usage by kind, and what prune would reclaim",
    args: [0, 0],
    help: ["  -v, --verbose          Also show every image's virtual, unique and shared bytes", "  -q, --quiet            Show only the total, in bytes"].join(
      "\n",
    ),
  },
  {
    name: "verify",
    aliases: [],
    options: { repair: { type: "boolean" }, grace: { type: "string" } },
    usage: "verify [OPTIONS]",
    summary: "Check the cache's files against the database",
    args: [0, 0],
    help: [
      "      --repair           Remove orphan files and stale tmp entries; rewrite",
      "                         VMDK descriptors that point into another home",
      "      --grace <DUR>      Files changed within DUR are never called orphans or stale (default 1h)",
      "  -q, --quiet            No output; the exit code says whether the cache is sound",
    ].join("\n"),
  },
  {
    name: "gc",
    aliases: [],
    options: {
      interval: { type: "string" },
      high: { type: "string" },
      low: { type: "string" },
      "max-backoff": { type: "string" },
      "min-free": { type: "string" },
      reserved: { type: "string" },
      "max-size": { type: "string" },
      "older-than": { type: "string" },
      "min-age": { type: "string" },
      keep: { type: "string", multiple: true },
      filter: { type: "string", multiple: true },
      grace: { type: "string" },
      "metrics-address": { type: "string" },
    },
    usage: "gc [OPTIONS]",
    summary: "Keep the cache in bounds: collect when the disk fills (runs until stopped)",
    args: [0, 0],
    help: [
      "      --interval <DUR>   Time between checks (default 5m); a check is one statfs and a stat of the database",
      "      --high <SIZE|N%>   File-system usage that starts a collection (default 85%)",
      "      --low <SIZE|N%>    Usage a collection brings it down to, least recently used first (default 80%)",
      "      --max-backoff <DUR> Cap of the wait after a collection that could not reach --low (default 1h)",
      "      --min-free <SIZE|N%> Also keep this much free (prune's minFreeSpace)",
      "      --reserved <SIZE|N%> Never shrink the cache below this (prune's reservedSpace)",
      "      --max-size <SIZE|N%> Also keep the cache within this (prune's maxBytes)",
      "      --older-than <DUR> Only images last used longer ago than DUR",
      "      --min-age <DUR>    Never remove a reference pulled less than DUR ago (e.g. 10m)",
      "      --keep <REF|GLOB>  Never remove these references (repeatable)",
      "      --filter <F>       Only candidates matching reference=GLOB or label=KEY=VALUE (repeatable)",
      "      --grace <DUR>      tmp/ entries and flat/ blobs changed within DUR are left alone (default 1h)",
      "      --metrics-address <HOST:PORT> Serve Prometheus metrics at http://HOST:PORT/metrics (e.g. 127.0.0.1:9477)",
      "  -q, --quiet            Log only errors (with --format json: every event as a JSON line)",
    ].join("\n"),
  },
];

const GLOBAL_HELP = [
  "      --home <DIR>       The microsandbox home (default: MSB_HOME, config.json's home, ~/.microsandbox)",
  "      --format <FORMAT>  Output format [possible values: table, json] (default: table)",
  "  -h, --help             Print help",
  "  -V, --version          Print version",
].join("\n");

export function topHelp(version: string): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return [
    `${PROG} ${version}: list, inspect, remove and prune the images microsandbox (msb) caches`,
    "",
    `Usage: ${PROG} [OPTIONS] <COMMAND>`,
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    "",
    "Options:",
    "  -q, --quiet            Less output (per command; see <COMMAND> --help)",
    GLOBAL_HELP,
    "",
    `Exit status: 0 ok, 1 an operation failed, 2 a usage error, 130 interrupted (Ctrl-C).`,
  ].join("\n");
}

export function commandHelp(c: CommandSpec): string {
  return [
    c.summary,
    "",
    `Usage: ${PROG} ${c.usage}`,
    ...(c.argName ? ["", "Arguments:", `  ${c.argName}`] : []),
    "",
    "Options:",
    c.help,
    GLOBAL_HELP,
  ].join("\n");
}

export interface Parsed {
  command: CommandSpec | null;
  args: string[];
  values: Record<string, string | boolean | string[] | undefined>;
  help: boolean;
  version: boolean;
}

function allOptions(): Options {
  const all: Options = { ...GLOBAL };
  for (const c of COMMANDS) Object.assign(all, c.options);
  return all;
}

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name || c.aliases.includes(name));
}

/** Levenshtein distance (insertions, deletions, substitutions), for "did you mean". */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

/** The candidates close to `typed` (at most 1 edit for names of 3 characters or fewer, else 2), closest first. */
export function similar(typed: string, candidates: readonly string[]): string[] {
  const scored = candidates
    .map((c) => ({ c, d: editDistance(typed, c) }))
    .filter(({ c, d }) => d > 0 && d <= (c.length <= 3 ? 1 : 2));
  scored.sort((x, y) => x.d - y.d || x.c.localeCompare(y.c));
  const best = scored.length > 0 ? scored[0]!.d : 0;
  return scored.filter((x) => x.d === best).map((x) => x.c);
}

// clap's tip lines: "  tip: a similar subcommand exists: 'ls'", "some similar subcommands exist: 'list', 'ls'".
function tip(what: "subcommand" | "argument", matches: string[]): string {
  if (matches.length === 0) return "";
  const quoted = matches.map((m) => `'${m}'`).join(", ");
  return matches.length === 1 ? `\n\n  tip: a similar ${what} exists: ${quoted}` : `\n\n  tip: some similar ${what}s exist: ${quoted}`;
}

function unknownCommand(name: string, usage: string): UsageError {
  const names = COMMANDS.flatMap((c) => [c.name, ...c.aliases]).sort();
  return new UsageError(`unrecognized subcommand '${name}'${tip("subcommand", similar(name, names))}`, usage);
}

/** The placeholder the help text gives an option's value ("<REF|GLOB>"), else "<VALUE>". */
function placeholder(option: string, command: CommandSpec): string {
  const text = `${command.help}\n${GLOBAL_HELP}`;
  return new RegExp(`--${option} (<[^>]+>)`).exec(text)?.[1] ?? "<VALUE>";
}

/**
 * `--keep --dry-run`: a value option followed by another option (or by nothing) has no value. Said
 * so, rather than node's hint to write `--keep=--dry-run`. A value that merely starts with '-'
 * (`--older-than -5d`) is left to parseArgs, whose ambiguity hint fits it.
 */
function checkValuesPresent(argv: string[], options: Options, command: CommandSpec, usage: string): void {
  const shorts = new Set(Object.values(options).map((o) => o.short).filter((x): x is string => x !== undefined));
  for (let i = 0; i < argv.length; i++) {
    const t = argv[i]!;
    if (t === "--") return;
    if (!t.startsWith("--") || t.includes("=")) continue;
    const name = t.slice(2);
    if (options[name]?.type !== "string") continue;
    const next = argv[i + 1];
    const isOption = next !== undefined && (next.startsWith("--") || (/^-[A-Za-z]$/.test(next) && shorts.has(next.slice(1))));
    if (next === undefined || isOption) {
      throw new UsageError(`a value is required for '--${name} ${placeholder(name, command)}' but none was supplied`, usage);
    }
    i++; // the value
  }
}

/** Parses argv (without node and the script). Throws UsageError. */
export function parseCommandLine(argv: string[]): Parsed {
  const topUsage = `${PROG} [OPTIONS] <COMMAND>`;
  // First pass, lenient: which command, and was help or version asked for.
  let loose;
  try {
    loose = parseArgs({ args: argv, options: allOptions(), strict: false, allowPositionals: true, tokens: true });
  } catch (err) {
    throw translate(err, topUsage);
  }
  const first = loose.tokens!.find((t) => t.kind === "positional");
  const name = first && first.kind === "positional" ? first.value : undefined;
  const asked = (n: string) => loose.tokens!.some((t) => t.kind === "option" && t.name === n);
  let command: CommandSpec | undefined;
  if (name !== undefined && name !== "help") {
    command = findCommand(name);
    if (!command) throw unknownCommand(name, topUsage);
  }
  if (name === "help") {
    const target = loose.positionals[1];
    if (target === undefined) return { command: null, args: [], values: {}, help: true, version: false };
    const c = findCommand(target);
    if (!c) throw unknownCommand(target, topUsage);
    return { command: c, args: [], values: {}, help: true, version: false };
  }
  if (asked("help")) return { command: command ?? null, args: [], values: {}, help: true, version: false };
  if (asked("version")) return { command: command ?? null, args: [], values: {}, help: false, version: true };
  if (!command) throw new UsageError("a subcommand is required", topUsage);

  const usage = `${PROG} ${command.usage}`;
  const options = { ...GLOBAL, ...command.options };
  checkValuesPresent(argv, options, command, usage);
  let strict;
  try {
    strict = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (err) {
    throw translate(err, usage, options);
  }
  const args = strict.positionals.slice(1);
  const [min, max] = command.args;
  if (args.length < min) throw new UsageError(`the following required arguments were not provided:\n  ${command.argName}`, usage);
  if (args.length > max) throw new UsageError(`unexpected argument '${args[max]}' found`, usage);
  const values = strict.values as Parsed["values"];
  const format = values.format;
  if (format !== undefined && format !== "table" && format !== "json") {
    throw new UsageError(`invalid value '${format}' for '--format <FORMAT>'\n  [possible values: table, json]`, usage);
  }
  return { command, args, values, help: false, version: false };
}

function translate(err: unknown, usage: string, options?: Options): Error {
  const e = err as Error & { code?: string };
  const quoted = /'([^']+)'/.exec(e.message)?.[1];
  switch (e.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION": {
      const typed = quoted ?? "?";
      const longs = Object.keys(options ?? {}).map((n) => `--${n}`);
      const near = typed.startsWith("--") ? similar(typed.split("=")[0]!, longs) : [];
      return new UsageError(`unexpected argument '${typed}' found${tip("argument", near)}`, usage);
    }
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE": {
      const opt = /(--[\w-]+)/.exec(e.message)?.[1] ?? quoted ?? "?";
      if (/argument missing/.test(e.message)) return new UsageError(`a value is required for '${opt} <VALUE>' but none was supplied`, usage);
      if (/ambiguous/.test(e.message)) return new UsageError(`a value starting with '-' for '${opt}' must be written as ${opt}=VALUE`, usage);
      return new UsageError(`unexpected value for '${opt}': ${e.message}`, usage);
    }
    // (No ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL: both passes allow positionals; their count is checked above.)
    default:
      return e;
  }
}

// ---- values ----------------------------------------------------------------------------------

/** A duration option ("7d", "1h30m") → milliseconds; lib/units.ts holds the one parser. */
export function parseDuration(text: string, option: string, usage: string): number {
  return inUnits(() => units.parseDuration(text), text, option, usage);
}

/** A size option ("20GiB", "500MB"; a unit is required) → bytes. */
export function parseSize(text: string, option: string, usage: string): number {
  return inUnits(() => units.parseSize(text), text, option, usage);
}

/** A size or a share of the file system ("20GiB", "15%") → { bytes } or { percent }, kept as the library's string form. */
export function parseSizeOrShare(text: string, option: string, usage: string): string {
  inUnits(() => units.parseSizeOrShare(text), text, option, usage);
  return text.trim();
}

function inUnits<T>(parse: () => T, text: string, option: string, usage: string): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof units.UnitSyntaxError) throw new UsageError(`invalid value '${text}' for '${option}': ${e.message}`, usage);
    throw e;
  }
}

export interface PruneFilter {
  reference?: string[];
  label?: Record<string, string>;
}

/** `--filter reference=GLOB` (any of them) and `--filter label=KEY=VALUE` (all of them). */
export function parseFilters(items: string[], usage: string): PruneFilter | undefined {
  if (items.length === 0) return undefined;
  const filter: PruneFilter = {};
  for (const item of items) {
    const eq = item.indexOf("=");
    const key = eq < 0 ? item : item.slice(0, eq);
    const value = eq < 0 ? undefined : item.slice(eq + 1);
    if (key === "reference" && value !== undefined && value !== "") {
      (filter.reference ??= []).push(value);
    } else if (key === "label" && value !== undefined && value.indexOf("=") > 0) {
      const k = value.slice(0, value.indexOf("="));
      const v = value.slice(value.indexOf("=") + 1);
      const labels = (filter.label ??= {});
      if (Object.prototype.hasOwnProperty.call(labels, k) && labels[k] !== v) {
        throw new UsageError(`invalid value '${item}' for '--filter': label '${k}' is already filtered as '${labels[k]}'`, usage);
      }
      labels[k] = v;
    } else {
      throw new UsageError(`invalid value '${item}' for '--filter': expected reference=GLOB or label=KEY=VALUE`, usage);
    }
  }
  return filter;
}
