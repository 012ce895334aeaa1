// Reference normalization (spec §3.1), manifests/ file names and digest checks (§3); checkReference,
// the facade's check in front of the normalizer, is tested in validate.test.ts.
import { createHash } from "node:crypto";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import { binding } from "../../lib/native";
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

  it("every ASCII character at every position of the hex, and bytes above 0x7f: only 0-9 and a-f pass", () => {
    // The check has no branch per character (native/formats/reference.cc AllLowerHex): every byte value
    // is tried where each hex digit stands.
    for (const [algo, hex] of [["sha256", HEX64], ["sha512", HEX128]] as const) {
      const wrong: string[] = [];
      for (let at = 0; at < hex.length; at++) {
        for (let code = 0; code < 128; code++) {
          const c = String.fromCharCode(code);
          const d = `${algo}:${hex.slice(0, at)}${c}${hex.slice(at + 1)}`;
          if (isValidDigest(d) !== /^[0-9a-f]$/.test(c)) wrong.push(`${algo} ${at} ${code}`);
        }
        // two bytes of UTF-8 (0xc2..0xdf, 0x80..0xbf) in place of two digits: the length stays right
        for (const c of ["\u0080", "é", "\u07ff"]) {
          if (at + 1 < hex.length && isValidDigest(`${algo}:${hex.slice(0, at)}${c}${hex.slice(at + 2)}`)) wrong.push(`${algo} ${at} ${c}`);
        }
      }
      expect(wrong).toEqual([]);
    }
  });

  it("non-strings are simply invalid", () => {
    for (const v of [undefined, null, 42, {}, Buffer.from(`sha256:${HEX64}`)]) {
      expect(isValidDigest(v as unknown as string)).toBe(false);
    }
  });
});
