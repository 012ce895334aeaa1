// binding.formats.inspectErofs against real images made by Debian's erofs-utils (mkfs.erofs), corrupted copies
// of them, and seeded random bytes (spec §4.1).
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { binding } from "../../lib/native";
import { prng } from "../support/prng";

const { inspectErofs } = binding.formats;

const SB = 1024; // superblock offset
const MAGIC = 0xe0f5e1e2;
const UUID = "6d736269-6d67-4361-6368-650000000001";
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;

// ---------------------------------------------------------------------------------------------- tools

function tool(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.error && (r.error as NodeJS.ErrnoException).code === "ENOENT") {
    throw new Error(
      `${cmd} is not installed: these tests need Debian's erofs-utils (apt-get install -y erofs-utils)`,
    );
  }
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** mkfs.erofs help text (it prints usage to stderr and exits non-zero for --help on some versions). */
function mkfsHelp(): string {
  const r = spawnSync("mkfs.erofs", ["--help"], { encoding: "utf8" });
  if (r.error) {
    throw new Error(`mkfs.erofs is not runnable (${r.error.message}): install Debian's erofs-utils (apt-get install -y erofs-utils)`);
  }
  return `${r.stdout}\n${r.stderr}`;
}

async function mkfs(image: string, dir: string, extra: string[] = []): Promise<Buffer> {
  tool("mkfs.erofs", ["--quiet", "-T", "0", `-U${UUID}`, ...extra, image, dir]);
  return readFile(image);
}

/** `dump.erofs -s` superblock summary as a map of "Filesystem xxx" → value. */
function dumpSuperblock(image: string, extra: string[] = []): Map<string, string> {
  const out = tool("dump.erofs", ["-s", ...extra, image]);
  const m = new Map<string, string>();
  for (const line of out.split("\n")) {
    const match = /^Filesystem ([^:]+):\s*(.*)$/.exec(line.trim());
    if (match) m.set(match[1].trim(), match[2].trim());
  }
  return m;
}


// ---------------------------------------------------------------------------------------------- model

/** msb's validity test (§4.1), written independently of the native code, for the random inputs. */
function modelValid(buf: Buffer): boolean {
  if (buf.length < SB + 128 || buf.readUInt32LE(SB) !== MAGIC) return false;
  const blkszbits = buf[SB + 0x0c];
  if (blkszbits < 9 || blkszbits > 16) return false;
  if (buf.length === 0 || buf.length % 4096 !== 0) return false;
  if (buf.readUInt32LE(SB + 0x24) * 2 ** blkszbits !== buf.length) return false;
  const root = buf.readUInt32LE(SB + 0x28) * 2 ** blkszbits + buf.readUInt16LE(SB + 0x0e) * 32;
  if (root + 6 > buf.length) return false;
  return (buf.readUInt16LE(root + 4) & S_IFMT) === S_IFDIR;
}

function rootInodeOffset(buf: Buffer): number {
  const blkszbits = buf[SB + 0x0c];
  return buf.readUInt32LE(SB + 0x28) * 2 ** blkszbits + buf.readUInt16LE(SB + 0x0e) * 32;
}

// ---------------------------------------------------------------------------------------------- fixtures

let work: string;
const images: Record<string, { path: string; buf: Buffer }> = {};

async function tree(name: string, build: (dir: string) => Promise<void>): Promise<string> {
  const dir = join(work, "trees", name);
  await mkdir(dir, { recursive: true });
  await build(dir);
  return dir;
}

beforeAll(async () => {
  mkfsHelp(); // fail early, with the install hint, when erofs-utils is missing
  work = await mkdtemp(join(tmpdir(), "erofs-test-"));
  await mkdir(join(work, "img"));

  const empty = await tree("empty", async () => {});
  const small = await tree("small", async (d) => {
    await mkdir(join(d, "etc"));
    await writeFile(join(d, "etc", "os-release"), 'NAME="erofs test"\nID=erofstest\n');
    await writeFile(join(d, "hello.txt"), "hello\n");
    await writeFile(join(d, "blob.bin"), Buffer.alloc(10_000, 0x5a));
    await symlink("hello.txt", join(d, "link"));
  });
  const big = await tree("big", async (d) => {
    for (let i = 0; i < 40; i++) {
      const sub = join(d, `dir${i}`);
      await mkdir(sub);
      for (let j = 0; j < 10; j++) await writeFile(join(sub, `file-${j}.txt`), `dir ${i} file ${j}\n`.repeat(j + 1));
    }
    const r = prng(7);
    await writeFile(join(d, "random.bin"), Buffer.from(Array.from({ length: 300_000 }, () => Math.floor(r() * 256))));
  });

  for (const [name, dir, extra] of [
    ["empty", empty, []],
    ["small", small, []],
    ["big", big, []],
    ["chunked", small, ["--chunksize=4096", `--blobdev=${join(work, "img", "chunked.blob")}`]],
  ] as const) {
    const path = join(work, "img", `${name}.erofs`);
    images[name] = { path, buf: await mkfs(path, dir, [...extra]) };
  }
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

function image(name: string): Buffer {
  return Buffer.from(images[name].buf); // a private copy to corrupt
}

// ---------------------------------------------------------------------------------------------- real images

describe("images made by mkfs.erofs", () => {
  for (const name of ["empty", "small", "big"]) {
    it(`${name}: valid, sized and placed as dump.erofs says`, () => {
      const { path, buf } = images[name];
      const info = inspectErofs(buf);
      expect(info).toMatchObject({ valid: true, problem: null, blkszbits: 12, featureIncompat: 0, devices: [] });
      expect(info.imageBytes).toBe(buf.length);
      expect(info.blocks).toBe(buf.length / 4096);

      const sb = dumpSuperblock(path);
      expect(Number(sb.get("magic number"))).toBe(MAGIC);
      expect(Number(sb.get("blocks"))).toBe(info.blocks);
      expect(Number(sb.get("root nid"))).toBe(info.rootNid);
      expect(Number(sb.get("inode metadata start block"))).toBe(info.metaBlkaddr);
    });
  }

  it("images of different trees have different sizes, all whole blocks", () => {
    const sizes = ["empty", "small", "big"].map((n) => inspectErofs(images[n].buf).blocks);
    expect(sizes[0]).toBeLessThan(sizes[1]);
    expect(sizes[1]).toBeLessThan(sizes[2]);
    expect(sizes[2]).toBeGreaterThan(70); // 300 kB of random data + 400 files
  });

  it("a chunked image with a blob device reports the device table", () => {
    const { path, buf } = images.chunked;
    const info = inspectErofs(buf);
    expect(info.valid).toBe(true);
    expect(info.imageBytes).toBe(buf.length);
    expect(info.featureIncompat & 0x0c).toBe(0x0c); // chunked files + device table, like msb's fsmeta
    expect(info.devices).toHaveLength(1);
    const sb = dumpSuperblock(path, [`--device=${join(work, "img", "chunked.blob")}`]);
    expect(Number(sb.get("blocks"))).toBe(info.blocks);
  });

  it("ignores the superblock checksum, as msb does", () => {
    const buf = image("small");
    buf.writeUInt32LE(buf.readUInt32LE(SB + 4) ^ 0xdeadbeef, SB + 4);
    expect(inspectErofs(buf)).toMatchObject({ valid: true, problem: null });
  });

  it("does not modify the buffer it reads", () => {
    const buf = image("small");
    inspectErofs(buf);
    expect(buf.equals(images.small.buf)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------- corruptions

describe("corrupted images", () => {
  it("bad magic", () => {
    const buf = image("small");
    buf[SB] ^= 0xff;
    expect(inspectErofs(buf)).toMatchObject({ valid: false, problem: expect.stringMatching(/magic/i) });
  });

  it("magic at the wrong place (offset 0, not 1024)", () => {
    const buf = image("small");
    buf.copy(buf, 0, SB, SB + 4);
    buf.writeUInt32LE(0, SB);
    expect(inspectErofs(buf)).toMatchObject({ valid: false, problem: expect.stringMatching(/magic/i) });
  });

  it.each([1, 100, 4095])("truncated by %i bytes", (cut) => {
    const buf = image("big");
    const info = inspectErofs(buf.subarray(0, buf.length - cut));
    expect(info).toMatchObject({ valid: false, problem: expect.stringMatching(/multiple of 4096/) });
    expect(info.blocks).toBe(buf.length / 4096); // the superblock is still read
  });

  it("one stray byte appended", () => {
    const buf = Buffer.concat([image("small"), Buffer.from([0])]);
    expect(inspectErofs(buf)).toMatchObject({ valid: false, problem: expect.stringMatching(/multiple of 4096/) });
  });

  it("truncated by a whole block: length differs from blocks", () => {
    const buf = image("big");
    const info = inspectErofs(buf.subarray(0, buf.length - 4096));
    expect(info).toMatchObject({ valid: false, problem: expect.stringMatching(/blocks/) });
    expect(info.imageBytes).toBe(buf.length);
  });

  it("a zero block appended: length differs from blocks", () => {
    const buf = Buffer.concat([image("small"), Buffer.alloc(4096)]);
    expect(inspectErofs(buf)).toMatchObject({ valid: false, problem: expect.stringMatching(/blocks/) });
  });

  it.each([-1, 1, 1000, 0xffffffff - 3])("blocks field off by %i", (delta) => {
    const buf = image("small");
    const blocks = buf.readUInt32LE(SB + 0x24);
    buf.writeUInt32LE((blocks + delta) >>> 0, SB + 0x24);
    const info = inspectErofs(buf);
    expect(info).toMatchObject({ valid: false, problem: expect.stringMatching(/blocks/) });
    expect(info.blocks).toBe((blocks + delta) >>> 0);
  });

  it("blocks = 0", () => {
    const buf = image("small");
    buf.writeUInt32LE(0, SB + 0x24);
    expect(inspectErofs(buf)).toMatchObject({ valid: false, imageBytes: 0, problem: expect.stringMatching(/blocks/) });
  });

  it.each([
    ["regular file", 0o100644],
    ["symlink", 0o120777],
    ["fifo", 0o010644],
    ["no type bits", 0o000755],
  ])("root inode mode changed to a %s", (_what, mode) => {
    const buf = image("small");
    const at = rootInodeOffset(buf) + 4;
    expect(buf.readUInt16LE(at) & S_IFMT).toBe(S_IFDIR); // sanity: we found the real root inode
    buf.writeUInt16LE(mode, at);
    expect(inspectErofs(buf)).toMatchObject({ valid: false, problem: expect.stringMatching(/not a directory/) });
  });

  it("root nid pointing at another (non-directory) inode", () => {
    const buf = image("small");
    const rootNid = buf.readUInt16LE(SB + 0x0e);
    // Find a slot that holds a non-directory mode, in 32-byte steps from the root.
    let nid = rootNid + 1;
    while ((buf.readUInt16LE(rootInodeOffset(buf) + (nid - rootNid) * 32 + 4) & S_IFMT) === S_IFDIR) nid++;
    buf.writeUInt16LE(nid, SB + 0x0e);
    expect(inspectErofs(buf)).toMatchObject({ valid: false, rootNid: nid });
  });

  it("root inode outside the image (root nid / meta_blkaddr too large)", () => {
    const a = image("small");
    a.writeUInt16LE(0xffff, SB + 0x0e);
    expect(inspectErofs(a)).toMatchObject({ valid: false, problem: expect.stringMatching(/outside/) });
    const b = image("small");
    b.writeUInt32LE(0xffffffff, SB + 0x28);
    expect(inspectErofs(b)).toMatchObject({ valid: false, problem: expect.stringMatching(/outside/) });
    const c = image("small");
    c.writeUInt32LE(c.length / 4096, SB + 0x28); // exactly one past the end
    c.writeUInt16LE(0, SB + 0x0e);
    expect(inspectErofs(c)).toMatchObject({ valid: false, problem: expect.stringMatching(/outside/) });
  });

  it.each([0, 1, 1000, 1024, 1100, 1151])("too short: %i bytes", (n) => {
    const buf = image("small").subarray(0, n);
    expect(inspectErofs(buf)).toMatchObject({
      valid: false,
      problem: expect.stringMatching(/too short/),
      imageBytes: 0,
      devices: [],
    });
  });

  it("a whole superblock but nothing after it", () => {
    const buf = image("small").subarray(0, SB + 128);
    expect(inspectErofs(buf)).toMatchObject({ valid: false, problem: expect.stringMatching(/multiple of 4096/) });
  });

  it.each([0, 8, 17, 32, 63, 64, 255])("blkszbits %i is out of range", (bits) => {
    const buf = image("small");
    buf[SB + 0x0c] = bits;
    const info = inspectErofs(buf);
    expect(info).toMatchObject({ valid: false, blkszbits: bits, problem: expect.stringMatching(/block size/) });
    expect(info.imageBytes).toBe(0);
  });

  it("a different in-range block size no longer matches the length", () => {
    const buf = image("big");
    buf[SB + 0x0c] = 13; // blocks << 13 is twice the file
    expect(inspectErofs(buf)).toMatchObject({ valid: false, blkszbits: 13, problem: expect.stringMatching(/blocks/) });
  });

  it("an all-zero 4096-byte buffer", () => {
    expect(inspectErofs(Buffer.alloc(4096))).toMatchObject({ valid: false, problem: expect.stringMatching(/magic/) });
  });

  it("a device table pointing past the end is ignored, not read", () => {
    const buf = image("small");
    buf.writeUInt16LE(3, SB + 0x56); // extra_devices
    buf.writeUInt16LE(0xffff, SB + 0x58); // devt_slotoff far away
    expect(inspectErofs(buf)).toMatchObject({ valid: true, devices: [] });
  });

  it("a device table is decoded slot by slot", () => {
    const buf = image("big");
    buf.writeUInt16LE(2, SB + 0x56);
    buf.writeUInt16LE(9, SB + 0x58); // slots at 1152 and 1280, right after the superblock
    buf.writeUInt32LE(111, 1152 + 0x40);
    buf.writeUInt32LE(222, 1152 + 0x44);
    buf.writeUInt32LE(333, 1280 + 0x40);
    buf.writeUInt32LE(444, 1280 + 0x44);
    expect(inspectErofs(buf).devices).toEqual([
      { blocks: 111, mappedBlkaddr: 222 },
      { blocks: 333, mappedBlkaddr: 444 },
    ]);
  });

  it("a device table of more than 4096 slots is not read, even inside the file (bounds the read)", () => {
    // 4097 slots right after the superblock fit in 1 MiB; 4096 slots are read, 4097 are not.
    const buf = Buffer.alloc(1024 * 1024);
    image("small").copy(buf, 0, 0, 4096);
    buf.writeUInt16LE(9, SB + 0x58);
    buf.writeUInt32LE(7, 1152 + 0x40);
    buf.writeUInt32LE(8, 1152 + 0x44);
    buf.writeUInt16LE(4096, SB + 0x56);
    const read = inspectErofs(buf).devices;
    expect(read).toHaveLength(4096);
    expect(read[0]).toEqual({ blocks: 7, mappedBlkaddr: 8 });
    buf.writeUInt16LE(4097, SB + 0x56); // found by fuzz/erofs_fuzzer.cc (65535 slots): the cap is deliberate
    expect(inspectErofs(buf)).toMatchObject({ valid: false, devices: [] });
  });

  it("rejects non-Buffer arguments with a TypeError", () => {
    for (const bad of [undefined, null, "erofs", 42, {}, [1, 2, 3]]) {
      expect(() => inspectErofs(bad as unknown as Buffer)).toThrow(TypeError);
    }
  });
});

// ---------------------------------------------------------------------------------------------- random bytes

describe("random bytes", () => {
  it("never throws, and is valid exactly when msb's test passes", () => {
    const rand = prng(0x5eed);
    const int = (n: number) => Math.floor(rand() * n);
    let planted = 0;
    let valid = 0;
    for (let i = 0; i < 3000; i++) {
      const kind = int(4);
      // 0: any small length; 1-3: whole 4 KiB blocks (1..4), the only lengths that can be valid
      const length = kind === 0 ? int(9000) : 4096 * (1 + int(4));
      const buf = Buffer.alloc(length);
      for (let k = 0; k < length; k++) buf[k] = int(256);
      if (kind >= 1 && length >= SB + 128) {
        buf.writeUInt32LE(MAGIC, SB);
        planted++;
        if (kind >= 2) {
          // a plausible superblock: 4 KiB blocks matching the length, root inode inside the image
          buf[SB + 0x0c] = 12;
          buf.writeUInt32LE(length / 4096, SB + 0x24);
          buf.writeUInt32LE(int(length / 4096), SB + 0x28);
          buf.writeUInt16LE(int(128), SB + 0x0e);
          buf.writeUInt16LE(int(8), SB + 0x56); // a few extra devices
          buf.writeUInt16LE(int(64), SB + 0x58);
          if (kind === 3) {
            const root = rootInodeOffset(buf);
            if (root + 6 <= length) buf.writeUInt16LE(S_IFDIR | 0o755, root + 4);
          }
        }
      }
      let info: ReturnType<typeof inspectErofs> | undefined;
      expect(() => (info = inspectErofs(buf)), `case ${i}, length ${length}`).not.toThrow();
      const expected = modelValid(buf);
      expect(info!.valid, `case ${i}: ${info!.problem}`).toBe(expected);
      expect(info!.problem === null).toBe(expected);
      if (expected) {
        valid++;
        expect(info!.imageBytes).toBe(length);
      }
    }
    // The generator must exercise both outcomes and the planted-magic paths.
    expect(planted).toBeGreaterThan(1500);
    expect(valid).toBeGreaterThan(300);
  });
});
