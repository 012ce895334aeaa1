// verify's findings table (lib/cli/verify-table.ts) in process, as docs/cli.md describes it: at most 120
// columns; paths relative to the cache directory with digests shortened (`sha256_aaaaaaaaaaaa…`); a long
// path cut in the middle; REFERENCES the first reference and how many more; each message under its row,
// wrapped. Expected tables below are worked out by hand from those rules.
import { describe, expect, it } from "vitest";

import { displayWidth, styler } from "../../lib/cli/format";
import { TABLE_WIDTH, cacheRootOf, findingsTable, relativePath, wrap } from "../../lib/cli/verify-table";
import type { VerifyFinding } from "../../lib/types";

const H64 = "0123456789abcdef".repeat(4);
const plain = styler(false);

function finding(f: Partial<VerifyFinding>): VerifyFinding {
  return { kind: "orphan-file", path: null, digest: null, references: [], message: "m", bytes: 0, repairable: false, repaired: false, ...f } as VerifyFinding;
}

describe("the cache directory and relative paths", () => {
  it.each([
    "/r/layers/sha256_x.erofs",
    "/r/fsmeta/x.erofs",
    "/r/vmdk/x.vmdk",
    "/r/manifests/x.json",
    "/r/tmp/x.download",
    "/r/flat/refs/x",
    "/r/flat/blobs/x",
    "/r/flat/locks/x",
    "/r/flat/blobs/sha256_0123",
    "/r/flat/refs/app-1.ref",
  ])("%s is under /r", (path) => {
    expect(cacheRootOf([finding({ path })])).toBe("/r");
  });

  it("other shapes name no cache directory", () => {
    for (const path of ["/r/flat/other/x", "/r/layers/x/y", "/r/layersx/y", "/r/layers/", "layers/x", "/r/db/msb.db"]) {
      expect(cacheRootOf([finding({ path })]), path).toBeNull();
    }
    expect(cacheRootOf([])).toBeNull();
    expect(cacheRootOf([finding({ path: null, digest: `sha256:${H64}` })])).toBeNull();
  });

  it("the first finding that shows it decides", () => {
    const findings = [finding({ path: null }), finding({ path: "/elsewhere/file" }), finding({ path: "/a/b/layers/x" }), finding({ path: "/c/layers/y" })];
    expect(cacheRootOf(findings)).toBe("/a/b");
  });

  it("relativePath: only under the directory, at a separator", () => {
    expect(relativePath("/r/layers/x", "/r")).toBe("layers/x");
    expect(relativePath("/rr/layers/x", "/r")).toBe("/rr/layers/x");
    expect(relativePath("/r", "/r")).toBe("/r");
    expect(relativePath("/r/layers/x", null)).toBe("/r/layers/x");
  });
});

describe("wrap", () => {
  it("no room at all after the indent: one character a line, never stuck", () => {
    expect(wrap("ab c", 2, "  ")).toEqual(["  a", "  b", "  c"]);
  });
  it("greedy, each line after the indent, at most the width", () => {
    expect(wrap("aaa bbb ccc", 9, "  ")).toEqual(["  aaa bbb", "  ccc"]); // room 7: "aaa bbb" is exactly 7
    expect(wrap("ab cd", 7, "  ")).toEqual(["  ab cd"]);
    expect(wrap("ab cde", 7, "  ")).toEqual(["  ab", "  cde"]);
  });
  it("whitespace of any kind separates words; none is kept", () => {
    expect(wrap("  a \n\t b  ", 80, "> ")).toEqual(["> a b"]);
    expect(wrap("", 80, "  ")).toEqual([]);
    expect(wrap(" \n ", 80, "  ")).toEqual([]);
  });
  it("a word longer than a line is cut into lines of its own", () => {
    expect(wrap("x abcdefghijkl y", 7, "  ")).toEqual(["  x", "  abcde", "  fghij", "  kl y"]);
    expect(wrap("abcde", 7, "  ")).toEqual(["  abcde"]);
    expect(wrap("abcdef", 7, "  ")).toEqual(["  abcde", "  f"]);
    // a wide character takes two columns; an astral one is one character, not two UTF-16 units
    expect(wrap("日本語テキスト", 5, "")).toEqual(["日本", "語テ", "キス", "ト"]);
    expect(wrap("a 日本 b", 6, "")).toEqual(["a 日本", "b"]);
    expect(wrap("😀😀😀😀😀😀", 6, "")).toEqual(["😀😀😀", "😀😀😀"]);
    expect(wrap("日本", 1, "")).toEqual(["日", "本"]); // never stuck on a character wider than the room
  });
});

describe("findingsTable", () => {
  it("a short table, worked by hand", () => {
    const root = "/home/u/.microsandbox/cache";
    const f = finding({
      kind: "orphan-file",
      path: `${root}/layers/sha256_${H64}.erofs`,
      message: `no row names ${root}/layers/sha256_${H64}.erofs; repair removes it`,
      bytes: 1536,
      repairable: true,
    });
    // KIND 11 wide (orphan-file), PATH 33 (layers/sha256_0123456789ab….erofs), REFERENCES 10 (its header), SIZE 7
    // (1.5 KiB), REPAIR last; four spaces between columns.
    const path = "layers/sha256_0123456789ab….erofs";
    expect(path.length).toBe(33);
    expect(findingsTable([f], plain)).toBe(
      [
        "KIND" + " ".repeat(11) + "PATH" + " ".repeat(33) + "REFERENCES    SIZE       REPAIR",
        "orphan-file    " + path + "    -             1.5 KiB    repairable",
        `  no row names layers/sha256_${H64}.erofs; repair removes it`,
        "",
      ].join("\n"),
    );
  });

  it("no path: the digest shortened as msb does, else a dash; repaired beats repairable", () => {
    const out = findingsTable(
      [
        finding({ kind: "dangling-manifest", digest: `sha256:${H64}`, references: ["app:1"], repaired: true, repairable: true, message: "gone" }),
        finding({ kind: "missing-file", message: "lost" }),
      ],
      plain,
    );
    const [header, row1, msg1, row2, msg2, end] = out.split("\n");
    expect(header!.replace(/ +/g, " ")).toBe("KIND PATH REFERENCES SIZE REPAIR");
    expect(row1!.split(/ {2,}/)).toEqual(["dangling-manifest", "sha256:0123456789ab", "app:1", "0 B", "repaired"]);
    expect(row2!.split(/ {2,}/)).toEqual(["missing-file", "-", "-", "0 B", "-"]);
    expect([msg1, msg2, end]).toEqual(["  gone", "  lost", ""]);
  });

  it("without a cache directory, messages are left whole", () => {
    const out = findingsTable([finding({ path: "/x/y/file", message: "see /x/y/file and /x/y/other" })], plain);
    expect(out.split("\n")[2]).toBe("  see /x/y/file and /x/y/other");
    expect(out.split("\n")[1]).toContain("/x/y/file");
  });

  it("sha512 digests in names are shortened too; short hex runs are not", () => {
    const out = findingsTable(
      [finding({ path: `/c/flat/blobs/sha512:${H64}${H64}` }), finding({ path: `/c/tmp/sha256_${H64.slice(0, 31)}` })],
      plain,
    );
    expect(out).toContain("flat/blobs/sha512:0123456789ab…");
    expect(out).toContain(`tmp/sha256_${H64.slice(0, 31)}`); // 12 + 19: too short to be a digest
    expect(out).toContain(`tmp/sha256_${H64.slice(0, 31)}    `);
  });

  it("a long path is cut in the middle; references: the first, cut at the end, and how many more", () => {
    const name = "x".repeat(100);
    const f = finding({
      kind: "vmdk-foreign-path",
      path: `/c/vmdk/${name}.vmdk`,
      references: ["docker.io/library/averylongname:1", "b:1", "c:1"],
      bytes: 1023,
    });
    // KIND 17, SIZE 6 ("1023 B"), REPAIR 6 ("REPAIR"): 120 - 17 - 6 - 6 - 16 = 75 left; REFERENCES gets
    // min(24, 75 / 3) = 24, PATH the other 51: 25 characters, "…", the last 25.
    const row = findingsTable([f], plain).split("\n")[1]!;
    const path = "vmdk/" + "x".repeat(20) + "…" + "x".repeat(20) + ".vmdk";
    const refs = "docker.io/library/av… +2";
    expect(row).toBe(["vmdk-foreign-path", path, refs, "1023 B", "-"].join("    "));
    expect(displayWidth(row)).toBe(17 + 4 + 51 + 4 + 24 + 4 + 6 + 4 + 1);
  });

  it("narrow room: REFERENCES keeps 10 columns and PATH 20; a long count leaves 3 characters of the reference", () => {
    const f = finding({ kind: "k".repeat(70) as never, path: "/some/where/that/is/not/msb/layout/file.bin", references: Array(12346).fill("abcdefgh"), repaired: true });
    // 120 - 70 - 4 ("SIZE") - 8 ("repaired") - 16 = 22 left: REFERENCES 10, PATH max(20, 22 - 10) = 20
    const row = findingsTable([f], plain).split("\n")[1]!;
    expect(row).toBe(["k".repeat(70), "/some/wher…/file.bin", "abc… +12345", "0 B ", "repaired"].join("    "));
  });

  it("REFERENCES narrower than 24 when the references are short; the header is its least width", () => {
    const f = finding({ path: `/c/layers/${"y".repeat(90)}`, references: ["a:1"] });
    // KIND 11, SIZE 4, REPAIR 6: 120 - 11 - 4 - 6 - 16 = 83; REFERENCES 10 (its header), PATH 73
    const row = findingsTable([f], plain).split("\n")[1]!;
    const path = "layers/" + "y".repeat(29) + "…" + "y".repeat(36);
    expect(path.length).toBe(73);
    expect(row).toBe(["orphan-file", path, "a:1       ", "0 B ", "-"].join("    "));
  });

  it("a single long reference is cut to 24 columns", () => {
    const f = finding({ references: ["registry.example.com/team/app:1"] });
    expect(findingsTable([f], plain).split("\n")[1]).toContain("    registry.example.com/te…    ");
  });

  it("wide characters are measured in columns: the table still fits", () => {
    const f = finding({ kind: "orphan-file", path: `/日本/${"語".repeat(80)}/file`, references: ["app:語語語語語語語語語語語語語語語語"], message: "m" });
    for (const line of findingsTable([f], plain).split("\n")) expect(displayWidth(line), line).toBeLessThanOrEqual(TABLE_WIDTH);
    const row = findingsTable([f], plain).split("\n")[1]!;
    expect(row).toContain("/日本/語語");
    expect(row).toContain("語/file    ");
  });

  it("every line fits 120 columns, whatever the findings", () => {
    let seed = 7;
    const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
    const word = () => ["a", "layer", "sha256_" + H64, "x".repeat(rand(200)), "docker.io/library/app:1", "日本語"][rand(6)]!;
    for (let round = 0; round < 50; round++) {
      const findings = Array.from({ length: 1 + rand(4) }, () =>
        finding({
          kind: (["orphan-file", "missing-file", "invalid-erofs", "vmdk-foreign-path", "dangling-manifest", "stale-tmp"] as const)[rand(6)],
          path: rand(3) === 0 ? null : `/c/${["layers", "vmdk", "tmp", "flat/blobs"][rand(4)]}/${word()}${word()}`,
          digest: rand(2) ? `sha256:${H64}` : null,
          references: Array.from({ length: rand(4) }, word),
          message: Array.from({ length: rand(40) }, word).join(" "),
          bytes: rand(2) ? rand(1 << 30) : 0,
          repairable: rand(2) === 0,
          repaired: rand(4) === 0,
        }),
      );
      const out = findingsTable(findings, plain);
      const lines = out.split("\n");
      expect(lines.pop()).toBe("");
      for (const line of lines) expect(displayWidth(line), line).toBeLessThanOrEqual(TABLE_WIDTH);
      // the header, then each finding's row and its message's words, in order
      expect(lines[0]!.startsWith("KIND")).toBe(true);
      let at = 1;
      for (const f of findings) {
        expect(lines[at++]!.startsWith(f.kind + " ")).toBe(true);
        const words: string[] = [];
        while (at < lines.length && lines[at]!.startsWith("  ")) words.push(lines[at++]!.slice(2));
        expect(words.join(" ").replace(/\s+/g, ""), f.message).toBe(f.message.split("/c/").join("").replace(/\s+/g, ""));
      }
      expect(at).toBe(lines.length);
    }
  });

  it("exactly as wide as the room: a path or a reference is shown whole", () => {
    // KIND 11, SIZE 4, REPAIR 6: 83 left; REFERENCES 10 (its header), PATH 73
    const rel = "layers/" + "y".repeat(66);
    expect(rel.length).toBe(73);
    const row = findingsTable([finding({ path: `/c/${rel}`, references: ["a:1"] })], plain).split("\n")[1]!;
    expect(row).toBe(["orphan-file", rel, "a:1       ", "0 B ", "-"].join("    "));
    // one reference of 24 columns, REFERENCES' most: whole, not cut to 23 and "…"
    const ref = "registry.example.com/a:1";
    expect(ref.length).toBe(24);
    expect(findingsTable([finding({ references: [ref] })], plain).split("\n")[1]).toBe(["orphan-file", "-   ", ref, "0 B ", "-"].join("    "));
  });

  it("with no cache directory, text that begins with \"null/\" is not taken for one", () => {
    expect(relativePath("null/layers/x", null)).toBe("null/layers/x");
    const out = findingsTable([finding({ path: "null/x", message: "see null/x" })], plain).split("\n");
    expect(out[1]!.split(/ {2,}/)[1]).toBe("null/x");
    expect(out[2]).toBe("  see null/x");
  });

  it("with colours: the header cyan and bold, each message line dim", () => {
    const out = findingsTable([finding({ message: "one two" })], styler(true)).split("\n");
    expect(out[0]).toMatch(/^\x1b\[36m\x1b\[1mKIND {11}PATH/);
    expect(out[2]).toBe("\x1b[2m  one two\x1b[0m");
  });
});
