// Reference normalization (spec §3.1), manifests/ file names, digest checks (§3) and checkReference.
import { createHash } from "node:crypto";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import { ImageCacheError, InvalidReferenceError } from "../../lib/errors";
import { binding } from "../../lib/native";
import { checkReference, MAX_REFERENCE_LENGTH } from "../../lib/validate";
import { cleanupHomes, makeHome } from "../support/msb";
import { oracleNormalize } from "../support/oracle";
import { buildSampleCache, SAMPLE_IMAGES } from "../support/sample-cache";

const { normalizeReference, metadataFileName, isValidDigest } = binding.formats;

const HEX64 = "0123456789abcdef".repeat(4);
const HEX128 = HEX64 + HEX64;
const D = `sha256:${HEX64}`;
const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

afterAll(cleanupHomes);

// ---------------------------------------------------------------------------------------------- normalize

describe("normalizeReference", () => {
  it.each([
    // docker.io defaults
    ["c:1", "docker.io/library/c:1"],
    ["python", "docker.io/library/python:latest"],
    ["python:3.12-slim", "docker.io/library/python:3.12-slim"],
    ["user/repo", "docker.io/user/repo:latest"],
    ["user/repo:tag", "docker.io/user/repo:tag"],
    ["a/b/c/d", "docker.io/a/b/c/d:latest"],
    ["docker.io/library/ubuntu:22.04", "docker.io/library/ubuntu:22.04"],
    ["docker.io/ubuntu", "docker.io/library/ubuntu:latest"],
    ["index.docker.io/foo/bar", "docker.io/foo/bar:latest"],
    ["index.docker.io/bar:1", "docker.io/library/bar:1"],
    // registries: first component with "." or ":" or exactly "localhost"
    ["localhost:5000/team/app:1", "localhost:5000/team/app:1"],
    ["localhost/app", "localhost/app:latest"],
    ["localhost", "docker.io/library/localhost:latest"],
    ["localhost:5000", "docker.io/library/localhost:5000"], // no slash: ":5000" is a tag
    ["ghcr.io/a/b", "ghcr.io/a/b:latest"],
    ["Registry.Example.COM:443/x", "Registry.Example.COM:443/x:latest"], // domains may be mixed case
    ["my-registry:5000/x", "my-registry:5000/x:latest"],
    ["xn--n3h.com/img:xn--n3h.com", "xn--n3h.com/img:xn--n3h.com"],
    ["[::1]:5000/x:1", "[::1]:5000/x:1"],
    ["[fe80::1]/x", "[fe80::1]/x:latest"],
    ["foo/foo_bar.com:8080", "docker.io/foo/foo_bar.com:8080"], // "foo" is no registry
    ["test.com:tag", "docker.io/library/test.com:tag"],
    // digests: kept, and no ":latest" added
    [`ghcr.io/a/b@${D}`, `ghcr.io/a/b@${D}`],
    [`a/b:tag@${D}`, `docker.io/a/b:tag@${D}`],
    [`alpine@${D}`, `docker.io/library/alpine@${D}`],
    [`x@sha512:${HEX128}`, `docker.io/library/x@sha512:${HEX128}`],
    // separators and tags
    ["g/a.b_c__d-e---f", "docker.io/g/a.b_c__d-e---f:latest"],
    ["a.b/c", "a.b/c:latest"], // "a.b" has a dot: a registry
    ["a:_tag", "docker.io/library/a:_tag"],
    ["a:UPPER.case-Tag_1", "docker.io/library/a:UPPER.case-Tag_1"],
    [`a:${"t".repeat(128)}`, `docker.io/library/a:${"t".repeat(128)}`],
    [`a/${"b".repeat(253)}`, `docker.io/a/${"b".repeat(253)}:latest`], // 255 characters: the limit
  ])("%s → %s", (input, expected) => {
    expect(normalizeReference(input)).toBe(expected);
  });

  it("is idempotent", () => {
    for (const r of ["c:1", "python", "localhost/app", `a/b:tag@${D}`, "index.docker.io/foo/bar", "[::1]:5000/x"]) {
      const n = normalizeReference(r)!;
      expect(normalizeReference(n)).toBe(n);
    }
  });

  it.each([
    ["UPPER:1", "uppercase repository"],
    ["library/Ubuntu", "uppercase path component"],
    ["a//b", "empty component"],
    ["/a", "leading slash"],
    ["a/", "trailing slash"],
    ["-a", "leading separator"],
    ["a-", "trailing separator"],
    ["_a", "leading underscore"],
    ["a..b", "double dot"],
    ["a___b", "triple underscore"],
    ["a-_b", "mixed separators"],
    [":tag", "no name"],
    ["a:", "empty tag"],
    ["a:.tag", "tag starting with ."],
    ["a:-tag", "tag starting with -"],
    ["a:t/g", "slash in tag"],
    [`a:${"t".repeat(129)}`, "129-char tag"],
    ["a@sha256:short", "short non-hex digest"],
    [`a@sha256:${"0".repeat(31)}`, "digest under 32 hex"],
    [`a@sha256:${HEX64.slice(0, 63)}g`, "non-hex digest"],
    [`a@:${HEX64}`, "no algorithm"],
    [`a@1sha:${HEX64}`, "algorithm starting with a digit"],
    ["a@", "empty digest"],
    [`@${D}`, "digest only"],
    [`a@b@${D}`, "two @"],
    ["a".repeat(256), "name over 255 chars"],
    [`a/${"b".repeat(254)}`, "docker.io name over 255 chars"],
    ["a b", "space"],
    [" a", "leading space"],
    ["a:1 ", "trailing space"],
    ["a\tb", "tab"],
    ["a\0", "NUL"],
    ["a:b:c", "two tags"],
    ["http://r.io/a", "URL"],
    ["r.io:port/a", "non-numeric port"],
    ["-r.io/a", "bad domain component"],
    ["r_io.com/a", "underscore in domain"],
    ["[::1/x", "unterminated IPv6"],
    ["[zz::1]:5000/x", "non-hex IPv6"],
    ["[fe1]/x", "bracketed host without a colon (msb and Docker reject it; found by fuzzing)"],
    ["[FE1]/x:1", "bracketed host without a colon, capitals"],
    ["café", "non-ASCII"],
    ["", "empty"],
  ])("%j is rejected (%s)", (input) => {
    expect(normalizeReference(input)).toBeNull();
    expect(metadataFileName(input)).toBeNull();
  });

  it("rejects non-strings with a TypeError", () => {
    expect(() => normalizeReference(1 as unknown as string)).toThrow(TypeError);
    expect(() => metadataFileName(null as unknown as string)).toThrow(TypeError);
  });
});

// ---------------------------------------------------------------------------------------------- file names

describe("metadataFileName", () => {
  it("is sha256(normalized reference) + .json", () => {
    const refs = [
      "c:1",
      "docker.io/library/c:1",
      "python",
      "localhost:5000/team/app:1",
      "ghcr.io/a/b",
      `a/b:tag@${D}`,
      "index.docker.io/foo/bar",
      "[::1]:5000/x:1",
      "a:UPPER",
    ];
    for (const r of refs) {
      // the oracle: test/support/oracle.ts's normalizer, written from Docker's rules, not the native one
      expect(metadataFileName(r), r).toBe(`${sha256(oracleNormalize(r))}.json`);
      expect(metadataFileName(r)).toMatch(/^[0-9a-f]{64}\.json$/);
    }
  });

  it("equal normalized forms share a file (c:1 and docker.io/library/c:1)", () => {
    expect(metadataFileName("c:1")).toBe(metadataFileName("docker.io/library/c:1"));
    expect(metadataFileName("python")).toBe(metadataFileName("index.docker.io/library/python:latest"));
    expect(metadataFileName("c:1")).not.toBe(metadataFileName("c:2"));
  });

  it("the documented example: c:1", () => {
    expect(metadataFileName("c:1")).toBe(`${sha256("docker.io/library/c:1")}.json`);
  });
});

describe("metadataFileName agrees with the real msb", () => {
  it("one manifests/ file per normalized reference of the sample cache", async () => {
    const home = await makeHome();
    const sample = await buildSampleCache(home);
    const files = (await readdir(join(home, "cache", "manifests"))).filter((f) => f.endsWith(".json")).sort();
    const ours = [...new Set(sample.references.map((r) => metadataFileName(r)!))].sort();
    expect(ours).toEqual(files);
  });

  // References msb 0.6.18 (oci-client 0.17) accepts and caches, though Docker's grammar rejects them.
  // An image msb has cached must stay addressable: these document divergences in the native normalizer.
  it.each([
    ["Foo/bar:1", "uppercase first component taken as a docker.io namespace"],
    ["app:é", "Unicode letters in the tag (Rust regex \\w)"],
    [`reg.example.com/${"b".repeat(250)}:1`, "255 limit counted on the repository, not the whole name"],
  ])("%s (%s)", async (tag) => {
    const home = await makeHome();
    await buildSampleCache(home, { images: [{ ...SAMPLE_IMAGES[0], repoTags: [tag] }] });
    const files = (await readdir(join(home, "cache", "manifests"))).filter((f) => f.endsWith(".json"));
    expect(files).toHaveLength(1);
    expect(metadataFileName(tag)).toBe(files[0]);
  });
});

// ---------------------------------------------------------------------------------------------- digests

describe("isValidDigest", () => {
  it.each([`sha256:${HEX64}`, `sha512:${HEX128}`, `sha256:${"0".repeat(64)}`, `sha256:${"f".repeat(64)}`])("%s is valid", (d) => {
    expect(isValidDigest(d)).toBe(true);
  });

  it.each([
    [`sha256:${HEX64.toUpperCase()}`, "uppercase hex"],
    [`sha256:${HEX64.slice(0, 63)}A`, "one uppercase digit"],
    [`sha256:${HEX64.slice(0, 63)}`, "63 hex"],
    [`sha256:${HEX64}0`, "65 hex"],
    [`sha512:${HEX64}`, "sha512 with 64 hex"],
    [`sha256:${HEX128}`, "sha256 with 128 hex"],
    [`sha384:${HEX64}${HEX64.slice(0, 32)}`, "sha384"],
    [`SHA256:${HEX64}`, "uppercase algorithm"],
    [`sha256_${HEX64}`, "file-name form"],
    [`sha256:${HEX64.slice(0, 60)}../x`, "path traversal"],
    [`../../${HEX64}`, "path traversal, no algorithm"],
    [`sha256:${HEX64}\n`, "trailing newline"],
    [` sha256:${HEX64}`, "leading space"],
    [`sha256:${HEX64.slice(0, 63)}\0`, "NUL"],
    [`sha256:${HEX64.slice(0, 63)}g`, "non-hex"],
    [`sha256:${HEX64}/x`, "trailing path"],
    [HEX64, "no algorithm"],
    ["sha256:", "algorithm only"],
    ["", "empty"],
  ])("%j is invalid (%s)", (d) => {
    expect(isValidDigest(d)).toBe(false);
  });

  it("non-strings are simply invalid", () => {
    for (const v of [undefined, null, 42, {}, Buffer.from(`sha256:${HEX64}`)]) {
      expect(isValidDigest(v as unknown as string)).toBe(false);
    }
  });
});

// ---------------------------------------------------------------------------------------------- checkReference

describe("checkReference", () => {
  function rejection(value: unknown): InvalidReferenceError {
    try {
      checkReference(value);
    } catch (e) {
      expect(e).toBeInstanceOf(InvalidReferenceError);
      expect(e).toBeInstanceOf(ImageCacheError);
      const err = e as InvalidReferenceError;
      expect(err.code).toBe("invalidReference");
      expect(err.name).toBe("InvalidReferenceError");
      expect(err.reference).toBe(value);
      return err;
    }
    throw new Error(`checkReference(${String(value)}) did not throw`);
  }

  it("returns valid references unchanged (not normalized)", () => {
    for (const r of ["c:1", "python", "localhost:5000/team/app:1", `a/b:tag@${D}`, "index.docker.io/foo/bar", `a/${"b".repeat(253)}`]) {
      expect(checkReference(r)).toBe(r);
    }
  });

  it.each([
    [undefined, "got undefined"],
    [null, "got null"],
    [42, "got a number"],
    [true, "got a boolean"],
    [{ ref: "c:1" }, "got an object"],
    [["c:1"], "got an array"],
    [Symbol("c:1"), "got a symbol"],
    [new String("c:1"), "got an object"],
  ])("non-string %s", (value, tail) => {
    const err = rejection(value);
    expect(err.message).toContain("image reference must be a string");
    expect(err.message).toContain(tail);
  });

  it("empty", () => {
    expect(rejection("").message).toBe("image reference is empty");
  });

  it.each([" ", "   ", "\t", "\n", " \r\n ", "\u00a0", "\u2003"])("blank %j", (s) => {
    expect(rejection(s).message).toBe("image reference is blank");
  });

  it("too long: over 4096 characters, even when the grammar would allow it", () => {
    const long = `a@sha256:${"0".repeat(MAX_REFERENCE_LENGTH)}`; // a digest of any length ≥ 32 parses
    expect(normalizeReference(long)).not.toBeNull();
    expect(rejection(long).message).toBe(`image reference is ${long.length} characters long; the limit is 4096`);
    const limit = `a@sha256:${"0".repeat(MAX_REFERENCE_LENGTH - 9)}`;
    expect(limit.length).toBe(MAX_REFERENCE_LENGTH);
    expect(checkReference(limit)).toBe(limit);
  });

  it.each([
    ["app:1\n", "U+000a at index 5"],
    ["a\u0000b", "U+0000 at index 1"],
    ["\u0007app", "U+0007 at index 0"],
    ["app\u007f", "U+007f at index 3"],
    ["ap\u0085p", "U+0085 at index 2"],
    ["app:1\u009f", "U+009f at index 5"],
    ["\tapp", "U+0009 at index 0"],
  ])("control character in %j", (s, where) => {
    const err = rejection(s);
    expect(err.message).toContain("control character");
    expect(err.message).toContain(`(${where.replace(" at", ") at")}`);
  });

  it.each(["UPPER:1", "a//b", "-a", "a:", `a:${"t".repeat(129)}`, "a b", "a..b", "café"])("bad grammar %j", (s) => {
    const err = rejection(s);
    expect(err.message).toContain(`"${s}" is not an image reference`);
    expect(err.message).toContain("[registry/]repository[:tag][@digest]");
  });

  it("accepts exactly what the native normalizer accepts, apart from the cheap pre-checks", () => {
    let seed = 2024;
    const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
    const registries = ["", "", "", "ghcr.io/", "localhost/", "localhost:5000/", "index.docker.io/", "[::1]:5000/", "Reg.IO/", "bad_reg.io/", "r.io:x/"];
    const good = ["a", "app", "x1", "a.b", "a_b", "a__b", "a---b", "team"];
    const bad = ["UP", "a..b", "-a", "a-", "", "a b", "é", "a\u0001"];
    const components = [...good, ...good, ...bad];
    const suffixes = ["", "", "", ":1", ":latest", ":_x", `@${D}`, `:v2@${D}`, ":.x", ":", "@sha256:abc", `@sha512:${HEX128}`, ":a:b", " ", "\n"];
    const cases = new Set<string>(["", " ", "\t", `a@sha256:${"0".repeat(5000)}`, "a".repeat(300)]);
    while (cases.size < 220) {
      const path = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => pick(components)).join("/");
      cases.add(pick(registries) + path + pick(suffixes));
    }
    let accepted = 0;
    for (const s of cases) {
      const native = normalizeReference(s) !== null;
      let ok = true;
      try {
        checkReference(s);
      } catch (e) {
        expect(e).toBeInstanceOf(InvalidReferenceError);
        ok = false;
      }
      if (s.length > MAX_REFERENCE_LENGTH) {
        expect(ok, JSON.stringify(s.slice(0, 40))).toBe(false); // pre-check only
      } else {
        expect(ok, JSON.stringify(s)).toBe(native);
      }
      if (ok) {
        accepted++;
        // what is accepted normalizes as the independent normalizer (test/support/oracle.ts) says
        expect(normalizeReference(s), JSON.stringify(s)).toBe(oracleNormalize(s));
      }
    }
    // the generator covers both sides
    expect(accepted).toBeGreaterThan(40);
    expect(cases.size - accepted).toBeGreaterThan(40);
  });
});
