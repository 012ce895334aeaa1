// binding.formats.parseVmdk: msb's text VMDK descriptors (spec §4.2) and malformed ones.
import { describe, expect, it } from "vitest";

import { binding } from "../../lib/native";

const { parseVmdk } = binding.formats;

const FSMETA = "/tmp/ex/s/cache/fsmeta/sha256_dfc4….erofs";
const LAYER = "/tmp/ex/s/cache/layers/sha256_8add….erofs";
const MAX_EXTENT_SECTORS = 4_194_304; // 2 GiB in 512-byte sectors

/** A descriptor laid out exactly as msb writes it. */
function descriptor(extentLines: string[], eol = "\n"): string {
  return [
    "# Disk DescriptorFile",
    "version=1",
    "CID=fffffffe",
    "parentCID=ffffffff",
    'createType="twoGbMaxExtentFlat"',
    "",
    "# Extent description",
    ...extentLines,
    "",
    "# The Disk Data Base",
    "#DDB",
    'ddb.virtualHWVersion = "4"',
    'ddb.geometry.cylinders = "1"',
    'ddb.geometry.heads = "16"',
    'ddb.geometry.sectors = "63"',
    'ddb.adapterType = "ide"',
    "",
  ].join(eol);
}

const MSB_EXAMPLE = descriptor([`RW 16 FLAT "${FSMETA}" 0`, `RW 40 FLAT "${LAYER}" 0`]);

describe("descriptors as msb writes them", () => {
  it("the documented example", () => {
    expect(parseVmdk(MSB_EXAMPLE)).toEqual({
      ok: true,
      error: null,
      createType: "twoGbMaxExtentFlat",
      extents: [
        { access: "RW", sectors: 16, type: "FLAT", path: FSMETA, offset: 0 },
        { access: "RW", sectors: 40, type: "FLAT", path: LAYER, offset: 0 },
      ],
      virtualBytes: (16 + 40) * 512,
    });
  });

  it("fsmeta plus many layers, in order", () => {
    const lines = [`RW 8 FLAT "${FSMETA}" 0`];
    for (let i = 0; i < 30; i++) lines.push(`RW ${8 * (i + 1)} FLAT "/c/layers/sha256_${String(i).padStart(64, "0")}.erofs" 0`);
    const d = parseVmdk(descriptor(lines));
    expect(d.ok).toBe(true);
    expect(d.extents).toHaveLength(31);
    expect(d.extents[0].path).toBe(FSMETA);
    expect(d.extents.map((e) => e.sectors)).toEqual([8, ...Array.from({ length: 30 }, (_, i) => 8 * (i + 1))]);
    expect(d.virtualBytes).toBe(d.extents.reduce((n, e) => n + e.sectors * 512, 0));
  });

  it("a layer over 2 GiB split over several lines with rising offsets", () => {
    const big = "/c/layers/sha256_big.erofs";
    const total = 2 * MAX_EXTENT_SECTORS + 1234; // 4 GiB + a bit
    const d = parseVmdk(
      descriptor([
        `RW 16 FLAT "${FSMETA}" 0`,
        `RW ${MAX_EXTENT_SECTORS} FLAT "${big}" 0`,
        `RW ${MAX_EXTENT_SECTORS} FLAT "${big}" ${MAX_EXTENT_SECTORS}`,
        `RW 1234 FLAT "${big}" ${2 * MAX_EXTENT_SECTORS}`,
        `RW 40 FLAT "${LAYER}" 0`,
      ]),
    );
    expect(d.ok).toBe(true);
    expect(d.extents.filter((e) => e.path === big).map((e) => [e.sectors, e.offset])).toEqual([
      [MAX_EXTENT_SECTORS, 0],
      [MAX_EXTENT_SECTORS, MAX_EXTENT_SECTORS],
      [1234, 2 * MAX_EXTENT_SECTORS],
    ]);
    expect(d.virtualBytes).toBe((16 + total + 40) * 512);
    expect(d.virtualBytes).toBeGreaterThan(2 ** 32); // well past 32-bit sizes
  });

  it("paths with spaces, quotes kept out, text after the closing quote is the offset", () => {
    const path = "/home/Jane Doe/My Cache/layers/sha256_ab cd.erofs";
    const d = parseVmdk(descriptor([`RW 16 FLAT "${path}" 7`]));
    expect(d.ok).toBe(true);
    expect(d.extents[0]).toEqual({ access: "RW", sectors: 16, type: "FLAT", path, offset: 7 });
  });

  it("non-ASCII paths survive", () => {
    const path = "/home/zoë/キャッシュ/layers/x.erofs";
    expect(parseVmdk(descriptor([`RW 16 FLAT "${path}" 0`])).extents[0].path).toBe(path);
  });

  it("CRLF line endings", () => {
    const d = parseVmdk(descriptor([`RW 16 FLAT "${FSMETA}" 0`, `RW 40 FLAT "${LAYER}" 0`], "\r\n"));
    expect(d).toEqual(parseVmdk(MSB_EXAMPLE));
  });

  it("no trailing newline, tabs and extra spaces between fields", () => {
    const d = parseVmdk(`# Disk DescriptorFile\ncreateType = "monolithicFlat"\nRW \t 16\t\tFLAT   "${LAYER}"\t 3`);
    expect(d).toMatchObject({ ok: true, createType: "monolithicFlat" });
    expect(d.extents).toEqual([{ access: "RW", sectors: 16, type: "FLAT", path: LAYER, offset: 3 }]);
  });

  it("RDONLY / NOACCESS extents, ZERO extents without a file, a missing offset", () => {
    const d = parseVmdk(
      descriptor([`RDONLY 16 FLAT "${FSMETA}"`, "NOACCESS 8 ZERO", `RW 40 FLAT "${LAYER}" 0`]),
    );
    expect(d.ok).toBe(true);
    expect(d.extents).toEqual([
      { access: "RDONLY", sectors: 16, type: "FLAT", path: FSMETA, offset: 0 },
      { access: "NOACCESS", sectors: 8, type: "ZERO", path: "", offset: 0 },
      { access: "RW", sectors: 40, type: "FLAT", path: LAYER, offset: 0 },
    ]);
    expect(d.virtualBytes).toBe((16 + 8 + 40) * 512);
  });

  it("an unquoted createType is taken as is; a missing one is empty", () => {
    expect(parseVmdk(`# Disk DescriptorFile\ncreateType=vmfs\nRW 1 FLAT "/x" 0\n`).createType).toBe("vmfs");
    expect(parseVmdk(`# Disk DescriptorFile\nRW 1 FLAT "/x" 0\n`)).toMatchObject({ ok: true, createType: "" });
  });
});

describe("malformed descriptors", () => {
  function rejected(text: string, error: RegExp) {
    const d = parseVmdk(text);
    expect(d.ok).toBe(false);
    expect(d.error).toMatch(error);
    return d;
  }

  it("missing header", () => {
    rejected(MSB_EXAMPLE.replace("# Disk DescriptorFile\n", ""), /header/);
    rejected(MSB_EXAMPLE.replace("# Disk DescriptorFile", "# Disk Descriptor File"), /header/);
  });

  it("no extents", () => {
    rejected(descriptor([]), /no extents/);
    rejected(descriptor(["# RW 16 FLAT \"/commented/out\" 0"]), /no extents/);
  });

  it("empty and blank input", () => {
    rejected("", /header/);
    rejected("\n\r\n  \n", /header/);
  });

  it("unquoted path", () => {
    rejected(descriptor([`RW 16 FLAT ${FSMETA} 0`]), /not quoted/);
  });

  it("unterminated path", () => {
    rejected(descriptor([`RW 16 FLAT "${FSMETA} 0`]), /not terminated/);
  });

  it.each(["-16", "1.5", "0x10", "sixteen", "", "16a", "99999999999999999999"])("bad sector count %j", (n) => {
    const d = rejected(descriptor([`RW ${n} FLAT "${FSMETA}" 0`]), /sector count/);
    expect(d.extents).toEqual([]);
  });

  it.each(["-1", "x", "0 trailing", "1e3"])("bad offset %j", (off) => {
    rejected(descriptor([`RW 16 FLAT "${FSMETA}" ${off}`]), /offset/);
  });

  it("a line that is neither comment, extent nor key=value", () => {
    rejected(descriptor([`RW 16 FLAT "${FSMETA}" 0`, "this is not a descriptor line"]), /unexpected line/);
  });

  it("stops at the first bad extent (error names the line)", () => {
    const d = rejected(descriptor([`RW 16 FLAT "${FSMETA}" 0`, "RW x FLAT \"/bad\" 0", `RW 40 FLAT "${LAYER}" 0`]), /RW x FLAT/);
    expect(d.error).toContain('"/bad"');
  });

  it("NUL bytes", () => {
    rejected(MSB_EXAMPLE.replace("version=1", "version=1\0"), /text/);
    rejected("\0", /text/);
  });

  it("input over 1 MiB is refused; a padded descriptor of exactly 1 MiB is read", () => {
    const limit = 1 << 20;
    const base = descriptor([`RW 16 FLAT "${FSMETA}" 0`]);
    const bytes = Buffer.byteLength(base);
    const pad = (n: number) => "#" + "x".repeat(n - 2) + "\n";
    const exact = base + pad(limit - bytes);
    expect(Buffer.byteLength(exact)).toBe(limit);
    expect(parseVmdk(exact)).toMatchObject({ ok: true, virtualBytes: 16 * 512 });
    rejected(exact + "\n", /too large/);
    rejected(base + "#".repeat(8 << 20), /too large/);
  });

  it("a limit counted in UTF-8 bytes, not UTF-16 code units", () => {
    const base = descriptor([`RW 16 FLAT "${FSMETA}" 0`]);
    const text = base + "#" + "é".repeat(600_000) + "\n"; // ~0.6 M code units, ~1.2 MB
    expect(text.length).toBeLessThan(1 << 20);
    rejected(text, /too large/);
  });

  it("a sector count whose byte size does not fit 64 bits is refused, not wrapped", () => {
    // 2^55 sectors × 512 = 2^64 bytes: a uint64 sum wraps to 0.
    const d = parseVmdk(descriptor([`RW 36028797018963968 FLAT "${FSMETA}" 0`]));
    expect({ ok: d.ok, virtualBytes: d.virtualBytes, extents: d.extents }).toEqual({ ok: false, virtualBytes: 0, extents: [] });
    expect(d.error).toMatch(/more than 2\^53 bytes/);
    // and two extents whose sum alone wraps: 2^54 + 2^54 sectors
    const two = parseVmdk(descriptor([`RW 18014398509481984 FLAT "${FSMETA}" 0`, `RW 18014398509481984 FLAT "${FSMETA}" 0`]));
    expect(two.ok).toBe(false);
    expect(two.error).toMatch(/more than 2\^53 bytes/);
  });

  it("random junk never throws", () => {
    let seed = 12345;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    const pieces = ["# Disk DescriptorFile", "RW", "RDONLY", " ", "\t", "\n", "\r\n", '"', "16", "FLAT", "=", "#", "/p a t h", "0", "-", "\0", "é"];
    for (let i = 0; i < 2000; i++) {
      let text = "";
      const n = next() % 40;
      for (let k = 0; k < n; k++) text += pieces[next() % pieces.length];
      const d = parseVmdk(text);
      expect(typeof d.ok).toBe("boolean");
      expect(d.ok ? d.error === null : typeof d.error === "string").toBe(true);
      if (d.ok) expect(d.virtualBytes).toBe(d.extents.reduce((s, e) => s + e.sectors * 512, 0));
    }
  });

  it("rejects non-string arguments with a TypeError", () => {
    for (const bad of [undefined, null, 42, Buffer.from(MSB_EXAMPLE), {}]) {
      expect(() => parseVmdk(bad as unknown as string)).toThrow(TypeError);
    }
  });
});
