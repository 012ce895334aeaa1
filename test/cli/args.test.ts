// The CLI's argument parser and value parsers in process (the commands themselves are tested by
// running the built binary next to msb in read/mutate/tty.test.ts).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import {
  COMMANDS,
  PROG,
  UsageError,
  commandHelp,
  editDistance,
  findCommand,
  parseCommandLine,
  parseDuration,
  parseFilters,
  parseSize,
  parseSizeOrShare,
  similar,
  topHelp,
} from "../../lib/cli/args";

const ROOT = join(__dirname, "..", "..");
const PKG = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string; bin: Record<string, string> };

/** The UsageError `argv` gives (fails when it parses). */
function usageError(argv: string[]): UsageError {
  try {
    parseCommandLine(argv);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return e as UsageError;
  }
  throw new Error(`${JSON.stringify(argv)} parsed`);
}

describe("values", () => {
  const u = "usage";
  it("durations", () => {
    expect(parseDuration("7d", "--older-than", u)).toBe(7 * 86_400_000);
    expect(parseDuration("10m", "--min-age", u)).toBe(600_000);
    expect(parseDuration("1h30m", "--min-age", u)).toBe(5_400_000);
    expect(parseDuration("1.5h", "--min-age", u)).toBe(5_400_000);
    expect(parseDuration("500ms", "--min-age", u)).toBe(500);
    expect(parseDuration("2w", "--min-age", u)).toBe(14 * 86_400_000);
    for (const bad of ["7", "", "d", "7 d", "7dd", "-1d", "1h3"]) expect(() => parseDuration(bad, "--older-than", u)).toThrow(UsageError);
  });
  it("sizes", () => {
    expect(parseSize("20GiB", "--max-size", u)).toBe(20 * 1024 ** 3);
    expect(parseSize("20G", "--max-size", u)).toBe(20 * 1024 ** 3);
    expect(parseSize("20gb", "--max-size", u)).toBe(20e9);
    expect(parseSize("1.5MiB", "--max-size", u)).toBe(1.5 * 1024 ** 2);
    expect(parseSize("1048576B", "--max-size", u)).toBe(1048576);
    expect(parseSize("0", "--max-size", u)).toBe(0);
    for (const bad of ["", "1x", "-1", "GiB", "1e3"]) expect(() => parseSize(bad, "--max-size", u)).toThrow(UsageError);
    // a size without a unit is a usage error, not bytes: `--max-size 10` once meant 10 bytes and pruned everything
    expect(() => parseSize("10", "--max-size", u)).toThrow(/needs a unit: did you mean 10GiB/);
  });
  it("filters", () => {
    expect(parseFilters([], u)).toBeUndefined();
    expect(parseFilters(["reference=app:*", "reference=*/team/*", "label=a=b", "label=c=d=e", "label=empty="], u)).toEqual({
      reference: ["app:*", "*/team/*"],
      label: { a: "b", c: "d=e", empty: "" },
    });
    for (const bad of [["foo=bar"], ["label=novalue"], ["reference="], ["label==v"], ["label=a=b", "label=a=c"]]) expect(() => parseFilters(bad, u)).toThrow(UsageError);
  });
});

describe("parseCommandLine", () => {
  it("global options before or after the command; aliases; repeatable options", () => {
    const p = parseCommandLine(["--home", "/h", "prune", "--keep", "a", "-y", "--keep=b", "--format", "json", "-q"]);
    expect(p.command!.name).toBe("prune");
    expect(p.values).toMatchObject({ home: "/h", keep: ["a", "b"], yes: true, format: "json", quiet: true });
    expect(parseCommandLine(["list"]).command!.name).toBe("ls");
    expect(parseCommandLine(["remove", "-f", "a", "b"])).toMatchObject({ args: ["a", "b"], values: { force: true } });
    expect(parseCommandLine(["rm", "--", "-weird"]).args).toEqual(["-weird"]);
  });
  it("options of another command, missing and extra arguments are usage errors", () => {
    expect(() => parseCommandLine(["ls", "-f"])).toThrow(/unexpected argument '-f' found/);
    expect(() => parseCommandLine(["df", "--yes"])).toThrow(/unexpected argument '--yes' found/);
    expect(() => parseCommandLine(["inspect"])).toThrow(/required arguments were not provided/);
    expect(() => parseCommandLine(["ls", "x"])).toThrow(/unexpected argument 'x' found/);
    expect(() => parseCommandLine(["ls", "--format", "xml"])).toThrow(/invalid value 'xml' for '--format <FORMAT>'/);
    expect(() => parseCommandLine(["prune", "--max-size", "-1"])).toThrow(/--max-size=VALUE/);
    expect(() => parseCommandLine([])).toThrow(/a subcommand is required/);
  });
  it("--help and --version win anywhere", () => {
    expect(parseCommandLine(["prune", "--bogus", "--help"])).toMatchObject({ help: true });
    expect(parseCommandLine(["-V"])).toMatchObject({ version: true });
  });
});

describe("the commands, their names and their usage lines", () => {
  it("the program is the package's bin, and a UsageError says it is one", () => {
    expect(Object.keys(PKG.bin)).toEqual([PROG]);
    const e = usageError([]);
    expect(e.name).toBe("UsageError");
    expect(e).toBeInstanceOf(Error);
    expect(String(e)).toBe("UsageError: a subcommand is required");
    expect(e.usage).toBe(`${PROG} [OPTIONS] <COMMAND>`);
  });

  // docs/cli.md: the commands and their aliases
  const WORDS: Array<[string, string]> = [
    ["ls", "ls"],
    ["list", "ls"],
    ["inspect", "inspect"],
    ["rm", "rm"],
    ["remove", "rm"],
    ["prune", "prune"],
    ["df", "df"],
    ["verify", "verify"],
    ["gc", "gc"],
  ];
  it("exactly the documented command words are accepted", () => {
    for (const [word, name] of WORDS) expect(findCommand(word)?.name, word).toBe(name);
    const accepted = COMMANDS.flatMap((c) => [c.name, ...c.aliases]).sort();
    expect(accepted).toEqual(WORDS.map(([w]) => w).sort());
    for (const word of ["", "help", "LS", "rmi", "Stryker was here"]) expect(findCommand(word), word).toBeUndefined();
  });

  it("each summary is a sentence, and names its aliases as clap does", () => {
    for (const c of COMMANDS) {
      expect(c.summary, c.name).toMatch(/^[A-Z][a-z]+ \S/);
      const aliasNote = c.aliases.length === 0 ? null : `[alias: ${c.aliases.join(", ")}]`;
      if (aliasNote) expect(c.summary.endsWith(" " + aliasNote), c.name).toBe(true);
      else expect(c.summary, c.name).not.toContain("[alias");
    }
  });

  it("a usage line is the command, [OPTIONS], then its arguments; errors carry it after the program", () => {
    for (const c of COMMANDS) {
      expect(c.usage, c.name).toBe(`${c.name} [OPTIONS]${c.argName ? ` ${c.argName}` : ""}`);
      // a command taking arguments names them; one taking none has no name for them
      expect(c.argName === undefined, c.name).toBe(c.args[1] === 0);
      const extra = usageError(c.args[1] === Infinity ? [c.name] : [c.name, ...Array(c.args[1] + 1).fill("app:1")]);
      expect(extra.usage, c.name).toBe(`${PROG} ${c.usage}`);
    }
  });

  it("how many arguments each command takes", () => {
    expect(parseCommandLine(["inspect", "app:1"]).args).toEqual(["app:1"]);
    expect(usageError(["inspect"]).message).toBe("the following required arguments were not provided:\n  <REFERENCE>");
    expect(usageError(["inspect", "a", "b"]).message).toBe("unexpected argument 'b' found");
    expect(parseCommandLine(["rm", "a", "b", "c", "d"]).args).toEqual(["a", "b", "c", "d"]);
    expect(usageError(["rm"]).message).toBe("the following required arguments were not provided:\n  <REFERENCES>...");
    for (const name of ["ls", "prune", "df", "verify", "gc"]) {
      expect(parseCommandLine([name]).args, name).toEqual([]);
      expect(usageError([name, "extra", "more"]).message, name).toBe("unexpected argument 'extra' found");
    }
  });

  it("each command's own options", () => {
    expect(parseCommandLine(["df", "-v"]).values.verbose).toBe(true);
    expect(parseCommandLine(["df", "--verbose"]).values.verbose).toBe(true);
    expect(parseCommandLine(["verify", "--repair", "--grace", "10m"]).values).toMatchObject({ repair: true, grace: "10m" });
    expect(parseCommandLine(["rm", "--force", "a"]).values.force).toBe(true);
    const gc = parseCommandLine([
      "gc", "--interval", "1m", "--high", "90%", "--low", "70%", "--max-backoff", "2h", "--min-free", "1GiB", "--reserved", "2GiB",
      "--max-size", "50%", "--older-than", "7d", "--min-age", "1h", "--keep", "a", "--keep", "b", "--filter", "reference=x",
      "--filter", "label=k=v", "--grace", "5m", "--metrics-address", "127.0.0.1:9477",
    ]);
    expect(gc.values).toMatchObject({
      interval: "1m", high: "90%", low: "70%", "max-backoff": "2h", "min-free": "1GiB", reserved: "2GiB", "max-size": "50%",
      "older-than": "7d", "min-age": "1h", keep: ["a", "b"], filter: ["reference=x", "label=k=v"], grace: "5m",
      "metrics-address": "127.0.0.1:9477",
    });
    expect(parseCommandLine(["prune", "--filter", "reference=a", "--filter", "reference=b"]).values.filter).toEqual(["reference=a", "reference=b"]);
    expect(parseCommandLine(["prune", "--filter", "reference=a"]).values.filter).toEqual(["reference=a"]);
  });

  it("a command's options may come before its name, as global ones", () => {
    const p = parseCommandLine(["--older-than", "7d", "-y", "prune"]);
    expect(p.command!.name).toBe("prune");
    expect(p.values).toMatchObject({ "older-than": "7d", yes: true });
  });

  it("--format is table or json", () => {
    expect(parseCommandLine(["ls", "--format", "table"]).values.format).toBe("table");
    expect(parseCommandLine(["ls", "--format=json"]).values.format).toBe("json");
    expect(usageError(["ls", "--format", ""]).message).toBe("invalid value '' for '--format <FORMAT>'\n  [possible values: table, json]");
  });

  it("a parsed line: the command, its arguments and values, neither help nor version", () => {
    const p = parseCommandLine(["rm", "-q", "app:1"]);
    expect(p).toEqual({ command: findCommand("rm"), args: ["app:1"], values: { quiet: true }, help: false, version: false });
  });
});

describe("help and version", () => {
  it("`help` alone, `help CMD` (aliases too), and an unknown CMD", () => {
    expect(parseCommandLine(["help"])).toEqual({ command: null, args: [], values: {}, help: true, version: false });
    expect(parseCommandLine(["help", "remove"])).toEqual({ command: findCommand("rm"), args: [], values: {}, help: true, version: false });
    const e = usageError(["help", "nope"]);
    expect(e.message).toBe("unrecognized subcommand 'nope'");
    expect(e.usage).toBe(`${PROG} [OPTIONS] <COMMAND>`);
  });
  it("--help and --version, with or without a command", () => {
    expect(parseCommandLine(["--help"])).toEqual({ command: null, args: [], values: {}, help: true, version: false });
    expect(parseCommandLine(["prune", "-h", "extra"])).toEqual({ command: findCommand("prune"), args: [], values: {}, help: true, version: false });
    expect(parseCommandLine(["--version"])).toEqual({ command: null, args: [], values: {}, help: false, version: true });
    expect(parseCommandLine(["df", "-V"])).toEqual({ command: findCommand("df"), args: [], values: {}, help: false, version: true });
  });
  it("an unknown command is refused before --help is looked at", () => {
    expect(usageError(["lsit", "--help"]).message).toBe("unrecognized subcommand 'lsit'\n\n  tip: a similar subcommand exists: 'list'");
  });

  const OPTION = /^(?: {2}-([A-Za-z]), --([a-z-]+)| {6}--([a-z-]+))(?: (<[^>]+>))?(?: +|$)/;
  /** The Options block of a help text: { short, long, placeholder, description column } per option line. */
  function optionLines(help: string) {
    const block = help.split("\n\nOptions:\n")[1]!.split("\n\n")[0]!.split("\n");
    return block.map((line) => {
      const m = OPTION.exec(line);
      if (!m) return { line, continuation: true as const };
      return { line, continuation: false as const, short: m[1], long: m[2] ?? m[3]!, placeholder: m[4], column: m[0].length };
    });
  }

  it("every command's help documents each of its options and the global ones, and nothing else", () => {
    for (const c of COMMANDS) {
      const lines = optionLines(commandHelp(c));
      const documented = lines.filter((l) => !l.continuation);
      const expected = new Set([...Object.keys(c.options), "quiet", "home", "format", "help", "version"]);
      expect(new Set(documented.map((l) => l.long!)), c.name).toEqual(expected);
      for (const l of documented) {
        const spec = c.options[l.long!] ?? { quiet: { short: "q" }, help: { short: "h" }, version: { short: "V" } }[l.long!as "quiet"];
        expect(l.short, `${c.name} --${l.long}`).toBe(spec?.short);
        const type = c.options[l.long!]?.type ?? (["home", "format"].includes(l.long!) ? "string" : "boolean");
        expect(l.placeholder !== undefined, `${c.name} --${l.long} takes a value`).toBe(type === "string");
      }
      // descriptions start in one column (25, clap's) unless the option is too long for it
      for (const l of documented) {
        const head = l.line.slice(0, l.column).trimEnd();
        expect(l.column, l.line).toBe(head.length <= 23 ? 25 : head.length + 1);
      }
      // continuation lines carry on in that column; there are no blank lines
      for (const l of lines.filter((x) => x.continuation)) expect(l.line, c.name).toMatch(/^ {25}\S/);
    }
  });

  it("top help: title, usage, every command with its summary in one column, the global options, exit codes", () => {
    const text = topHelp("9.8.7");
    const [title, blank1, usage, blank2, commandsHeader, ...rest] = text.split("\n");
    expect(title).toMatch(new RegExp(`^${PROG} 9\\.8\\.7: \\S`));
    expect([blank1, usage, blank2, commandsHeader]).toEqual(["", `Usage: ${PROG} [OPTIONS] <COMMAND>`, "", "Commands:"]);
    const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2; // "inspect" + 2 spaces
    expect(width).toBe(9);
    expect(rest.slice(0, COMMANDS.length)).toEqual(COMMANDS.map((c) => `  ${c.name}${" ".repeat(width - c.name.length)}${c.summary}`));
    expect(rest[COMMANDS.length]).toBe("");
    const lines = optionLines(text);
    expect(lines.map((l) => (l.continuation ? l.line : l.long))).toEqual(["quiet", "home", "format", "help", "version"]);
    const tail = text.split("\n").slice(-2);
    expect(tail[0]).toBe("");
    // main.ts's exit codes
    const main = readFileSync(join(ROOT, "lib", "cli", "main.ts"), "utf8") + readFileSync(join(ROOT, "lib", "cli", "commands.ts"), "utf8");
    for (const [name, code] of [...main.matchAll(/const (EXIT_\w+) = (\d+)/g)].map((m) => [m[1], m[2]])) expect(tail[1], name).toContain(` ${code} `);
    expect(tail[1]).toMatch(/^Exit status: 0 ok, 1 .+, 2 .+, 130 .+\.$/);
  });

  it("command help: summary, usage, arguments when it takes them, options", () => {
    for (const c of COMMANDS) {
      const lines = commandHelp(c).split("\n");
      expect(lines.slice(0, 3), c.name).toEqual([c.summary, "", `Usage: ${PROG} ${c.usage}`]);
      const next = c.argName ? ["", "Arguments:", `  ${c.argName}`, "", "Options:"] : ["", "Options:"];
      expect(lines.slice(3, 3 + next.length), c.name).toEqual(next);
    }
  });

  // docs/cli.md shows the help users get; it must not drift from what is printed.
  it("docs/cli.md shows every help text as printed", () => {
    const md = readFileSync(join(ROOT, "docs", "cli.md"), "utf8");
    const blocks = [...md.matchAll(/```console\n\$ msb-image-cache (--help|help (\w+))\n([\s\S]*?)\n```/g)];
    const shown = blocks.map((m) => m[2] ?? "");
    expect(shown.sort()).toEqual(["", ...COMMANDS.filter((c) => c.name !== "gc").map((c) => c.name)].sort());
    for (const m of blocks) expect(m[3], m[1]).toBe(m[2] ? commandHelp(findCommand(m[2])!) : topHelp(PKG.version));
    // gc's section shows its summary and usage, and names every option in its table
    const gcSection = md.split("\n## gc\n")[1]!.split("\n## ")[0]!;
    const gc = findCommand("gc")!;
    expect(commandHelp(gc).startsWith(/```text\n([\s\S]*?)\n```/.exec(gcSection)![1]!)).toBe(true);
    for (const name of Object.keys(gc.options)) expect(gcSection, name).toContain(`\`--${name}`);
  });
});

describe("mistakes", () => {
  it("an unknown command, with clap's tips", () => {
    expect(usageError(["pune", "--dry-run"]).message).toBe("unrecognized subcommand 'pune'\n\n  tip: a similar subcommand exists: 'prune'");
    expect(usageError(["lst"]).message).toBe("unrecognized subcommand 'lst'\n\n  tip: some similar subcommands exist: 'list', 'ls'");
    expect(usageError(["frobnicate"]).message).toBe("unrecognized subcommand 'frobnicate'");
    expect(usageError(["x"]).usage).toBe(`${PROG} [OPTIONS] <COMMAND>`);
  });

  it("an unknown option, with a tip from the command's own options", () => {
    const e = usageError(["prune", "--dry-rn"]);
    expect(e.message).toBe("unexpected argument '--dry-rn' found\n\n  tip: a similar argument exists: '--dry-run'");
    expect(e.usage).toBe(`${PROG} prune [OPTIONS]`);
    // an inline value does not hide the name
    expect(usageError(["prune", "--kep=a"]).message).toBe("unexpected argument '--kep' found\n\n  tip: a similar argument exists: '--keep'");
    // another command's option is no candidate; short options get no tips
    expect(usageError(["ls", "--dry-run"]).message).toBe("unexpected argument '--dry-run' found");
    expect(usageError(["ls", "-f"]).message).toBe("unexpected argument '-f' found");
    expect(usageError(["ls", "-y"]).message).toBe("unexpected argument '-y' found");
  });

  it("a boolean option given a value", () => {
    expect(usageError(["prune", "--dry-run=yes"]).message).toBe("unexpected value for '--dry-run': Option '--dry-run' does not take an argument");
  });

  describe("an option without its value", () => {
    it.each([
      [["prune", "--keep", "--dry-run"], "--keep <REF|GLOB>"],
      [["prune", "--keep", "-y"], "--keep <REF|GLOB>"],
      [["prune", "--older-than"], "--older-than <DUR>"],
      [["prune", "-y", "--filter"], "--filter <F>"],
      [["gc", "--high", "--low", "80%"], "--high <SIZE|N%>"],
      [["gc", "--metrics-address", "-q"], "--metrics-address <HOST:PORT>"],
      [["ls", "--home"], "--home <DIR>"],
      [["ls", "--home", "--format", "json"], "--home <DIR>"],
      [["verify", "--format"], "--format <FORMAT>"],
    ])("%j", (argv, what) => {
      const e = usageError(argv);
      expect(e.message).toBe(`a value is required for '${what}' but none was supplied`);
      expect(e.usage).toBe(`${PROG} ${findCommand(argv[0]!)!.usage}`);
    });
    it("a value that only starts with '-' is a value to be written with '='", () => {
      expect(usageError(["prune", "--older-than", "-5d"]).message).toBe("a value starting with '-' for '--older-than' must be written as --older-than=VALUE");
      expect(usageError(["prune", "--keep", "-x"]).message).toBe("a value starting with '-' for '--keep' must be written as --keep=VALUE");
      expect(usageError(["prune", "--keep", "-yy"]).message).toBe("a value starting with '-' for '--keep' must be written as --keep=VALUE");
      expect(parseCommandLine(["prune", "--older-than=-5d"]).values["older-than"]).toBe("-5d");
      expect(parseCommandLine(["prune", "--keep=--dry-run"]).values.keep).toEqual(["--dry-run"]);
    });
    it("a boolean option before a value option is no value", () => {
      expect(parseCommandLine(["prune", "--dry-run", "--keep", "a"]).values).toMatchObject({ "dry-run": true, keep: ["a"] });
    });
    it("after --, everything is an argument, however it looks", () => {
      expect(parseCommandLine(["rm", "--", "--home"]).args).toEqual(["--home"]);
      expect(parseCommandLine(["rm", "-f", "--", "--keep", "--force"])).toMatchObject({ args: ["--keep", "--force"], values: { force: true } });
    });
    it("an argument is never taken for an option, even when it ends like one", () => {
      expect(parseCommandLine(["rm", "myhome"]).args).toEqual(["myhome"]);
      expect(parseCommandLine(["inspect", "xxformat"]).args).toEqual(["xxformat"]);
    });
  });
});

describe("did you mean", () => {
  it.each([
    ["kitten", "sitting", 3],
    ["", "abc", 3],
    ["abc", "", 3],
    ["", "", 0],
    ["ls", "ls", 0],
    ["a", "b", 1],
    ["flaw", "lawn", 2],
    ["prnue", "prune", 2], // a swap is two edits
    ["pune", "prune", 1],
    ["--dry-rn", "--dry-run", 1],
    ["list", "ls", 2],
    ["abcdef", "azced", 3],
  ])("editDistance(%j, %j) = %d, either way round", (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
    expect(editDistance(b, a)).toBe(d);
  });

  it("at most one edit for names of three letters or fewer, two for longer ones; never the name itself", () => {
    expect(similar("lx", ["ls"])).toEqual(["ls"]);
    expect(similar("xy", ["ls"])).toEqual([]); // 2 edits from a 2-letter name
    expect(similar("rmm", ["rm"])).toEqual(["rm"]);
    expect(similar("df", ["df"])).toEqual([]);
    expect(similar("pr", ["prune"])).toEqual([]); // 3 edits
    expect(similar("prue", ["prune"])).toEqual(["prune"]);
    expect(similar("prnue", ["prune"])).toEqual(["prune"]);
    expect(similar("vrfy", ["verify"])).toEqual(["verify"]);
    expect(similar("abcd", ["abc"])).toEqual(["abc"]); // 1 edit, candidate of 3 letters
    expect(similar("a", ["abc"])).toEqual([]); // 2 edits, candidate of 3 letters
    expect(similar("ab", ["abcd"])).toEqual(["abcd"]); // 2 edits, candidate of 4 letters
  });

  it("only the closest, in alphabetical order among equals", () => {
    expect(similar("lsit", ["remove", "ls", "list"])).toEqual(["list"]); // a swap (2 edits); "ls" is 2 deletions away, too many for a 2-letter name
    expect(similar("rmove", ["remove", "rm", "move"])).toEqual(["move", "remove"]);
    expect(similar("lt", ["ls", "list", "la"])).toEqual(["la", "ls"]);
    expect(similar("lt", ["ls", "la"])).toEqual(["la", "ls"]);
    expect(similar("lt", ["la", "ls"])).toEqual(["la", "ls"]);
    expect(similar("zzzz", ["ls"])).toEqual([]);
  });
});

describe("more values", () => {
  const u = "msb-image-cache gc [OPTIONS]";
  it("sizes or shares are kept in the library's string form, trimmed", () => {
    expect(parseSizeOrShare(" 15% ", "--high", u)).toBe("15%");
    expect(parseSizeOrShare("20GiB", "--low", u)).toBe("20GiB");
    const e = (() => {
      try {
        parseSizeOrShare("lots", "--high", u);
      } catch (err) {
        return err as UsageError;
      }
      throw new Error("accepted");
    })();
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toBe("invalid value 'lots' for '--high': expected a size such as 20GiB or 500MB, or a share of the file system such as 15%");
    expect(e.usage).toBe(u);
    expect(() => parseSizeOrShare("150%", "--high", u)).toThrow("invalid value '150%' for '--high': a share of the file system must be between 0% and 100%, got 150%");
  });
  it("a value error names the option and the value as typed", () => {
    expect(() => parseDuration("7", "--older-than", u)).toThrow(/^invalid value '7' for '--older-than': expected a duration such as 7d/);
    expect(() => parseSize(" 10 ", "--max-size", u)).toThrow(/^invalid value ' 10 ' for '--max-size': a size needs a unit: did you mean 10GiB/);
  });
  it("filters: the exact mistakes", () => {
    const err = (items: string[]) => {
      try {
        parseFilters(items, u);
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        expect((e as UsageError).usage).toBe(u);
        return (e as Error).message;
      }
      throw new Error(`${JSON.stringify(items)} accepted`);
    };
    const shape = (item: string) => `invalid value '${item}' for '--filter': expected reference=GLOB or label=KEY=VALUE`;
    for (const item of ["reference", "label", "reference=", "label=", "label=k", "label==v", "foo=a=b", "=x", "tag=a", "referencex=a"]) {
      expect(err([item]), item).toBe(shape(item));
    }
    expect(err(["label=a=b", "label=a=c"])).toBe("invalid value 'label=a=c' for '--filter': label 'a' is already filtered as 'b'");
    // the same label twice with the same value is one condition
    expect(parseFilters(["label=a=b", "label=a=b"], u)).toEqual({ label: { a: "b" } });
    // a label value may contain '=' and be empty; a reference glob may contain '='
    expect(parseFilters(["reference=a=b"], u)).toEqual({ reference: ["a=b"] });
    expect(parseFilters(["label=k=="], u)).toEqual({ label: { k: "=" } });
  });
});

describe("the parser's less travelled paths", () => {
  /** Runs `fn` with `extra` added to the ls command's options (no shipped option has these shapes). */
  function withLsOptions(extra: Record<string, { type: "string" | "boolean"; short?: string }>, fn: () => void): void {
    const ls = findCommand("ls")!;
    const saved = ls.options;
    ls.options = { ...saved, ...extra };
    try {
      fn();
    } finally {
      ls.options = saved;
    }
  }

  it("a value option the help text gives no placeholder is shown with <VALUE>", () => {
    withLsOptions({ bogus: { type: "string" } }, () => {
      expect(usageError(["ls", "--bogus"]).message).toBe("a value is required for '--bogus <VALUE>' but none was supplied");
      expect(usageError(["ls", "--bogus", "-q"]).message).toBe("a value is required for '--bogus <VALUE>' but none was supplied");
    });
  });

  it("a value option with a short name: node's own messages, reworded with the long name", () => {
    withLsOptions({ bogus: { type: "string", short: "k" } }, () => {
      // node: "Option '-k, --bogus <value>' argument missing"
      const missing = usageError(["ls", "-k"]);
      expect(missing.message).toBe("a value is required for '--bogus <VALUE>' but none was supplied");
      expect(missing.usage).toBe(`${PROG} ls [OPTIONS]`);
      // node: "Option '-k' argument is ambiguous. ... use '--bogus=-XYZ' or '-k-XYZ'."
      expect(usageError(["ls", "-k", "-q"]).message).toBe("a value starting with '-' for '--bogus' must be written as --bogus=VALUE");
      expect(parseCommandLine(["ls", "-k", "v"]).values.bogus).toBe("v");
    });
  });

  it("argv that is not an array is the caller's bug: node's TypeError comes through, not a usage error", () => {
    let e: unknown;
    try {
      parseCommandLine(42 as unknown as string[]);
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(TypeError);
    expect(e).not.toBeInstanceOf(UsageError);
    expect((e as { code?: string }).code).toBe("ERR_INVALID_ARG_TYPE");
    expect((e as Error).message).toMatch(/must be an instance of Array\. Received type number \(42\)$/);
  });

  it("an error that is not a unit syntax error is rethrown as it is, not called a usage error", () => {
    // a non-string (a caller's bug) makes units.parseDuration fail on text.trim()
    let e: unknown;
    try {
      parseDuration(undefined as unknown as string, "--older-than", "usage");
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(TypeError);
    expect(e).not.toBeInstanceOf(UsageError);
  });

  it("`help` with and without a command after it", () => {
    expect(parseCommandLine(["help"]).command).toBeNull();
    expect(parseCommandLine(["help", "ls"]).command).toBe(findCommand("ls"));
    expect(usageError(["help", "lsit"]).message).toBe("unrecognized subcommand 'lsit'\n\n  tip: a similar subcommand exists: 'list'");
  });
});
