// Every relative link in README.md, CONTRIBUTING.md and docs/*.md resolves: the file (or directory) exists
// inside the repository, and a `#anchor` names a heading of the target Markdown file under GitHub's rules
// (github-slugger: lower case; every character but letters, digits, `_`, `-` and spaces dropped; spaces become
// `-`; a repeated slug gets `-1`, `-2`, …) or an explicit `<a name>`/`id` anchor. Links in code are not links.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(__dirname, "..");

function docFiles(): string[] {
  const docs = existsSync(join(ROOT, "docs"))
    ? readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => join("docs", f))
    : [];
  return ["README.md", "CONTRIBUTING.md", ...docs.sort()];
}

/** The text outside fenced code blocks, line by line (fenced lines become empty: line numbers stay). */
function proseLines(markdown: string): string[] {
  let fence: string | null = null;
  return markdown.split("\n").map((line) => {
    const m = /^\s{0,3}(`{3,}|~{3,})/.exec(line);
    if (fence === null && m) {
      fence = m[1]![0]!.repeat(m[1]!.length);
      return "";
    }
    if (fence !== null) {
      if (m && m[1]!.startsWith(fence)) fence = null;
      return "";
    }
    return line.replace(/(`+)(?:(?!\1).)+?\1/g, ""); // inline code
  });
}

/** GitHub's heading anchor (github-slugger) for a heading's Markdown text. */
export function githubSlug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1") // a link or image: its text
    .replace(/<[^>]+>/g, "") // inline HTML tags
    .replace(/`/g, "")
    .replace(/(\*\*|__|\*|_(?=\S)|(?<=\S)_)/g, (m) => (m === "_" ? "_" : "")); // emphasis markers (not snake_case)
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
    .replace(/ /g, "-");
}

function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const raw = markdown.split("\n");
  proseLines(markdown).forEach((line, i) => {
    const h = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line === "" ? "" : raw[i]!);
    if (h && line !== "") {
      const base = githubSlug(h[1]!);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      anchors.add(n === 0 ? base : `${base}-${n}`);
    }
    for (const a of line.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) anchors.add(a[1]!);
  });
  return anchors;
}

interface Link {
  file: string;
  line: number;
  target: string;
}

function relativeLinks(file: string): Link[] {
  const links: Link[] = [];
  proseLines(readFileSync(join(ROOT, file), "utf8")).forEach((line, i) => {
    const targets = [
      ...[...line.matchAll(/\]\(\s*<([^>]+)>[^)]*\)/g)].map((m) => m[1]!),
      ...[...line.matchAll(/\]\(\s*([^\s)<][^\s)]*)(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!),
      ...[...line.matchAll(/^\s{0,3}\[[^\]]+\]:\s*(\S+)/g)].map((m) => m[1]!),
    ];
    for (const target of targets) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("//")) continue; // absolute URL
      links.push({ file, line: i + 1, target });
    }
  });
  return links;
}

/** Why a link does not resolve, or null when it does. */
function brokenReason(link: Link): string | null {
  const [pathPart, anchor] = link.target.split("#", 2) as [string, string | undefined];
  const target = pathPart === "" ? join(ROOT, link.file) : resolve(ROOT, dirname(link.file), decodeURI(pathPart));
  const rel = relative(ROOT, target);
  if (rel.startsWith("..")) return `points outside the repository (${rel})`;
  if (!existsSync(target)) return `no such file: ${rel}`;
  if (anchor === undefined || anchor === "") return null;
  if (statSync(target).isDirectory() || !target.endsWith(".md")) return `#${anchor} on a file that is not Markdown: ${rel}`;
  const anchors = anchorsOf(readFileSync(target, "utf8"));
  if (anchors.has(decodeURIComponent(anchor))) return null;
  return `no heading with anchor #${anchor} in ${rel}`;
}

describe("GitHub anchor rules", () => {
  it.each([
    ["Where this differs from msb 0.6.18 (on purpose)", "where-this-differs-from-msb-0618-on-purpose"],
    ["Entry points: `Image` and `ImageCache`", "entry-points-image-and-imagecache"],
    ["cmake-js: not used", "cmake-js-not-used"],
    ["diskUsage()", "diskusage"],
    ["How prune stays out of msb's way", "how-prune-stays-out-of-msbs-way"],
    ["Command line: `msb-image-cache`", "command-line-msb-image-cache"],
    ["**Bold** and [a link](x.md) in a heading", "bold-and-a-link-in-a-heading"],
    ["snake_case stays", "snake_case-stays"],
    ["Größe — Ünïcode", "größe--ünïcode"],
  ])("%s → #%s", (heading, slug) => {
    expect(githubSlug(heading)).toBe(slug);
  });

  it("numbers repeated headings -1, -2, and ignores headings in code blocks", () => {
    const anchors = anchorsOf("# A\n## Usage\n```sh\n# Usage\n```\n## Usage\n### Usage\n");
    expect([...anchors]).toEqual(["a", "usage", "usage-1", "usage-2"]);
  });
});

describe("relative links in the documentation", () => {
  const files = docFiles();

  it("covers the README, CONTRIBUTING.md and the docs/ guides", () => {
    for (const f of ["README.md", "CONTRIBUTING.md", "docs/api.md", "docs/cli.md", "docs/safety.md", "docs/performance.md"]) {
      expect(files).toContain(f);
      expect(existsSync(join(ROOT, f)), f).toBe(true);
    }
    // The README links each guide (not vacuous: a link checker that finds no links checks nothing).
    const readmeTargets = relativeLinks("README.md").map((l) => l.target.split("#")[0]);
    for (const guide of ["docs/api.md", "docs/cli.md", "docs/safety.md", "docs/performance.md", "CONTRIBUTING.md"]) {
      expect(readmeTargets).toContain(guide);
    }
  });

  it.each(files)("%s: every relative link resolves", (file) => {
    const broken = relativeLinks(file)
      .map((link) => ({ link, reason: brokenReason(link) }))
      .filter((x) => x.reason !== null)
      .map(({ link, reason }) => `${link.file}:${link.line}: (${link.target}) ${reason}`);
    expect(broken).toEqual([]);
  });
});
