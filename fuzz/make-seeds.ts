/**
 * Regenerates the committed seed corpora in fuzz/corpus/ from real files (run it after changing a reader's
 * input format, then commit the result):
 *
 *   npx vite-node fuzz/make-seeds.ts
 *
 * - erofs/: the first 4 KiB of real images (8 KiB when the root inode lies in block 1), each after an 8-byte little-endian file length (the fuzz target's
 *   input format): images made by mkfs.erofs (erofs-utils: empty, a tree, a 96 KiB file, lz4, a chunked image
 *   with a blob device) and every layer and fsmeta file of a cache made by the real msb (`msb load` of six
 *   images: shared base layer, 1 to 5 layers, one with a 64 KiB file).
 * - vmdk/: every descriptor msb wrote into that cache, whole.
 * - reference/: the first element of every it.each row in test/unit/reference.test.ts, and the references
 *   of the msb-made cache.
 * - timestamp/: the first element of every it.each row in test/unit/timestamp.test.ts, and the timestamps
 *   msb wrote into that cache's database.
 * Deterministic except for msb's timestamps and manifest digests, which change run to run.
 */
import { execFileSync } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

import { writeDockerSave, type ImageSpec } from "../test/support/docker-save";
import { cleanupHomes, makeHome, msbLoad, sql } from "../test/support/msb";

const root = resolve(__dirname, "..");
const corpus = join(root, "fuzz", "corpus");
const HEAD = 4096;

function reset(dir: string): string {
  const path = join(corpus, dir);
  rmSync(path, { recursive: true, force: true });
  mkdirSync(path, { recursive: true });
  return path;
}

/**
 * 8-byte LE length + the file's head: its first 4 KiB, or up to the end of the block holding the root inode
 * when that lies further in (msb's layers keep it in block 1), so that a seed is as valid as its file.
 */
function erofsSeed(file: string): Buffer {
  const size = statSync(file).size;
  const fd = openSync(file, "r");
  try {
    const sb = Buffer.alloc(128);
    readSync(fd, sb, 0, sb.length, 1024);
    let headSize = HEAD;
    if (sb.readUInt32LE(0) === 0xe0f5e1e2) {
      const rootEnd = sb.readUInt32LE(0x28) * 2 ** sb[0x0c]! + sb.readUInt16LE(0x0e) * 32 + 32;
      headSize = Math.max(HEAD, Math.ceil(rootEnd / HEAD) * HEAD);
    }
    const head = Buffer.alloc(Math.min(headSize, size));
    readSync(fd, head, 0, head.length, 0);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(size));
    return Buffer.concat([len, head]);
  } finally {
    closeSync(fd);
  }
}

/** First elements of it.each rows: `["…", …]` or `[`…`, …]` at the start of a line. */
function testRows(file: string): string[] {
  const HEX64 = "0123456789abcdef".repeat(4);
  const HEX128 = HEX64 + HEX64;
  const D = `sha256:${HEX64}`;
  const out: string[] = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const m = /^\s*\[\s*("(?:[^"\\]|\\.)*"|`(?:[^`\\]|\\.)*`)\s*,/.exec(line);
    if (!m) continue;
    const lit = m[1]!;
    // A JS literal from our own test file; template literals use only its constants and String.prototype.repeat.
    out.push(new Function("HEX64", "HEX128", "D", `return ${lit};`)(HEX64, HEX128, D));
  }
  return out;
}

function writeAll(dir: string, prefix: string, items: Array<string | Buffer>): void {
  const seen = new Set<string>();
  let i = 0;
  for (const item of items) {
    const key = Buffer.from(item).toString("hex");
    if (seen.has(key)) continue;
    seen.add(key);
    writeFileSync(join(dir, `${prefix}-${String(i++).padStart(3, "0")}`), item);
  }
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "msb-seeds-"));
  try {
    // ---- mkfs.erofs images
    const erofsDir = reset("erofs");
    const tree = (name: string, files: Record<string, string | Buffer>) => {
      const dir = join(work, name);
      for (const [p, content] of Object.entries(files)) {
        mkdirSync(join(dir, p, ".."), { recursive: true });
        writeFileSync(join(dir, p), content);
      }
      mkdirSync(dir, { recursive: true });
      return dir;
    };
    const big = Buffer.alloc(96 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
    const small = { "etc/os-release": "ID=seed\n", "bin/tool": "#!/bin/sh\n", "usr/share/doc/readme": "seed\n" };
    const mkfs = (name: string, dir: string, extra: string[] = []) => {
      const out = join(work, `${name}.erofs`);
      execFileSync("mkfs.erofs", ["-T", "0", "-U", "6b3c1d2e-0f4a-4b5c-8d6e-7f8091a2b3c4", "--quiet", ...extra, out, dir]);
      writeFileSync(join(erofsDir, `mkfs-${name}`), erofsSeed(out));
    };
    mkfs("empty", tree("empty", {}));
    mkfs("tree", tree("tree", small));
    mkfs("bigfile", tree("bigfile", { "data.bin": big }));
    mkfs("lz4", tree("lz4", { ...small, "data.bin": big }), ["-zlz4"]);
    mkfs("chunked", tree("chunked", { "data.bin": big }), ["--chunksize=4096", `--blobdev=${join(work, "blob.img")}`]);

    // ---- a cache made by the real msb
    const home = await makeHome("msb-seeds-");
    // Like test/support/sample-cache.ts (which needs vitest's runner, so it is not imported here).
    const base = {
      files: [
        { path: "etc/os-release", content: "ID=seed\n" },
        { path: "bin/busybox", content: Buffer.alloc(3000, 0x7f), mode: 0o755 },
        { path: "bin/sh", type: "symlink" as const, linkname: "busybox" },
        { path: "tmp", type: "directory" as const, mode: 0o1777 },
      ],
    };
    const images: ImageSpec[] = [
      { repoTags: ["base:1"], layers: [base], created: "2024-01-01T00:00:00Z" },
      { repoTags: ["app:1", "app:latest", "docker.io/library/app:2"], layers: [base, { files: [{ path: "app/main.py", content: "print(1)\n" }] }] },
      { repoTags: ["localhost:5000/team/app:1"], layers: [base, { files: [{ path: "team/a", content: "a\n" }] }, { files: [{ path: "team/b", content: "b\n" }] }] },
      { repoTags: ["plain"], layers: [{ files: [{ path: "solo", content: "solo\n" }] }], created: null },
      {
        repoTags: ["ghcr.io/seed/many-layers:5"],
        layers: Array.from({ length: 5 }, (_, i) => ({ files: [{ path: `l${i}/f`, content: `layer ${i}\n` }] })),
      },
      { repoTags: ["seed/bigfile:big"], layers: [{ files: [{ path: "big.bin", content: big.subarray(0, 64 * 1024) }] }] },
    ];
    const tarPath = join(work, "seed.tar");
    await writeDockerSave(tarPath, images);
    await msbLoad(home, tarPath);
    const references = images.flatMap((i) => i.repoTags);
    const cache = join(home, "cache");
    for (const sub of ["layers", "fsmeta"]) {
      readdirSync(join(cache, sub))
        .filter((n) => n.endsWith(".erofs"))
        .sort()
        .forEach((n, i) => writeFileSync(join(erofsDir, `msb-${sub}-${i}`), erofsSeed(join(cache, sub, n))));
    }
    const vmdkDir = reset("vmdk");
    writeAll(
      vmdkDir,
      "msb",
      readdirSync(join(cache, "vmdk"))
        .filter((n) => n.endsWith(".vmdk"))
        .sort()
        .map((n) => readFileSync(join(cache, "vmdk", n))),
    );

    writeAll(reset("reference"), "seed", [...testRows(join(root, "test/unit/reference.test.ts")), ...references]);

    const times = await sql<{ t: string }>(
      home,
      `SELECT created_at AS t FROM image_ref UNION SELECT updated_at FROM image_ref UNION SELECT created_at FROM manifest
       UNION SELECT created_at FROM layer UNION SELECT last_used_at FROM layer`,
    );
    writeAll(reset("timestamp"), "seed", [
      ...testRows(join(root, "test/unit/timestamp.test.ts")),
      ...times.map((r) => r.t).filter((t): t is string => typeof t === "string"),
    ]);
    await cleanupHomes();
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  for (const d of readdirSync(corpus).sort()) {
    const files = readdirSync(join(corpus, d));
    const bytes = files.reduce((n, f) => n + statSync(join(corpus, d, f)).size, 0);
    console.log(`fuzz/corpus/${d}: ${files.length} seeds, ${bytes} bytes`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
