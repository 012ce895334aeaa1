/**
 * Scale fixture builder: writes a microsandbox home (`<home>/db/msb.db` + `<home>/cache/...`) that is
 * byte-compatible with what `msb` 0.6.18 writes after `msb load` / `msb pull`, fast enough for 100,000 images.
 *
 * What is reproduced (studied from a home made by the real `msb load` and from msb-cache-format.md):
 * - `db/msb.db`: exactly msb's schema (every table and index of a 0.6.18 database, copied verbatim from its
 *   `sqlite_master` in creation order; 0.6.18 creates no triggers), the 25 `seaql_migrations` rows (so msb sees
 *   nothing to migrate), the `maintenance_lease` row `install_exclusive` msb writes, and rows for `manifest`,
 *   `image_ref`, `config`, `layer`, `manifest_layer` shaped like msb's (UTC `YYYY-MM-DD HH:MM:SS.nnnnnnnnn`
 *   text, host architecture/os, `total_size_bytes` = Σ layer descriptor sizes, `media_type`/`variant`/
 *   `erofs_size_bytes`/`stop_signal` NULL, empty env/labels stored as NULL). WAL mode. `db/msb.db.migration.lock`
 *   (0 bytes, 0644) as msb leaves it.
 * - `cache/layers/<diff>.erofs`: a valid EROFS image in msb's own minimal layout (superblock with checksum
 *   in block 0, extended inodes from block 1, root nid 0, FLAT_INLINE root dir, FLAT_PLAIN data from block 2;
 *   zero uuid/build time). Each layer holds one regular file of 0..N blocks (data blocks are sparse holes), so
 *   sizes vary. `blocks << 12` == file length. `fsck.erofs` accepts them.
 * - `cache/fsmeta/<manifest>.erofs`: merged metadata image with the device table (slot i: layer i's `blocks`
 *   and `mapped_blkaddr`), `feature_incompat` 0x0C, chunk-indexed files pointing into the layer devices.
 * - `cache/vmdk/<manifest>.vmdk`: the descriptor text msb writes, absolute paths into this (realpath'd) home.
 * - `cache/manifests/<sha256(normalized ref)>.json`: msb's compact JSON shape.
 * - lock files msb leaves after a load: `layers/<diff>.erofs.lock` and `fsmeta/<manifest>.erofs.lock`
 *   (0 bytes, 0600). A load leaves NO `manifests/*.lock` (only a pull takes that lock), so none are written.
 * - the empty directories msb creates: `flat/{blobs,locks,refs}`, `tmp`.
 *
 * SQLite writer: the database is written by spawning `python3` with its built-in `sqlite3` module, in one
 * transaction, from a JSON file of rows. Node 20 has no `node:sqlite`; `better-sqlite3` would be a new native
 * devDependency whose prebuilt binaries come from GitHub (unreachable here), so it would compile a second
 * SQLite amalgamation on every install. python3 + sqlite3 is on these machines and in every CI image we use;
 * it runs in parallel with the file writes (a second core). Override the interpreter with
 * `MSB_FIXTURE_PYTHON`.
 *
 * Everything except the absolute paths inside the VMDKs is a pure function of the options (seed), and image i is
 * the same whatever `images` is (a small fixture is a prefix of a big one).
 *
 * Speed (2 cores): 10,000 images ≈ 6 s, 100,000 images ≈ 47 s on tmpfs (/dev/shm); on this VM's ext4 the
 * 100k build (800k files, 3.3 GB of real blocks) is bound by disk throughput: 60–115 s. Put scale homes on
 * tmpfs when you can. `summary.apparentBytes.total` equals what `msb image prune` reports as reclaimed.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { Worker } from "node:worker_threads";

export interface FixtureOptions {
  /** Number of images (each one reference → one manifest). */
  images: number;
  /** Number of distinct shared base layers; position 0 of image i is base `i % sharedBases`.
   *  0 = no sharing. Default `min(8, images)`. */
  sharedBases?: number;
  /** Layers per image, 1..23 (the fsmeta device table must fit in block 0). Default 3. */
  layersPerImage?: number;
  /** PRNG seed; every digest, size, config and timestamp derives from it. Default 1. */
  seed?: number;
  /** Extra references to existing manifests (alias j → image `j % images`). When the normalized form of the
   *  target's reference differs from it and is unused, the alias IS that normalized form (e.g.
   *  `docker.io/library/app-000001:v1` for `app-000001:v1`), so both share one manifests/*.json, as in msb;
   *  otherwise it is `alias-<j>:latest`. Default 0. */
  aliases?: number;
  /** Manifests with no reference (left behind by a re-tag): files + rows, no JSON. Default 0. */
  dangling?: number;
  /** Pin the first N manifests with `sandbox` + `sandbox_rootfs` rows (names `fixture-pin-<n>`). Default 0. */
  pinned?: number;
  /** Max data blocks in a non-base layer's EROFS (file length = (2 + 0..N) × 4096). Default 4; bases get 4×. */
  maxDataBlocks?: number;
  /** First image's creation time; image i is created ~i seconds later. Default 2026-01-01T00:00:00Z. */
  start?: Date;
  /** `manifest.architecture` / `os` (msb stores the HOST's). Defaults from the host, as msb does. */
  architecture?: string;
  os?: string;
  /** Write the `.lock` files msb leaves behind. Default true. */
  locks?: boolean;
  /** Worker threads doing the file system calls (0 = in this thread). Default 1 (measured best on 2 cores). */
  writers?: number;
}

export interface FixtureLayer {
  diffId: string;
  blobDigest: string;
  compressedSizeBytes: number;
  /** Apparent size of `layers/<diff>.erofs`. */
  erofsBytes: number;
  erofsPath: string;
  /** Number of manifests (including dangling) that use it. */
  users: number;
}

export interface FixtureManifest {
  id: number;
  digest: string;
  configDigest: string;
  layerCount: number;
  totalSizeBytes: number;
  /** diff_ids, bottom (position 0) first. */
  diffIds: string[];
  fsmetaPath: string;
  fsmetaBytes: number;
  vmdkPath: string;
  vmdkBytes: number;
  createdAt: string;
  dangling: boolean;
  pinnedBySandboxId: number | null;
}

export interface FixtureRef {
  id: number;
  reference: string;
  normalized: string;
  manifestId: number;
  manifestDigest: string;
  layerCount: number;
  sizeBytes: number;
  architecture: string;
  os: string;
  /** As stored in the database (`YYYY-MM-DD HH:MM:SS.nnnnnnnnn`, UTC). */
  createdAt: string;
  updatedAt: string;
  jsonPath: string;
  jsonBytes: number;
  alias: boolean;
}

export interface FixtureSummary {
  home: string;
  dbPath: string;
  cacheDir: string;
  /** Newest first, the order `msb image ls` / `list()` gives (`image_ref.created_at DESC`). */
  refs: FixtureRef[];
  manifests: FixtureManifest[];
  layers: FixtureLayer[];
  counts: {
    imageRefs: number;
    manifests: number;
    layers: number;
    manifestLayers: number;
    jsonFiles: number;
    lockFiles: number;
    files: number;
  };
  /** Σ apparent sizes of the non-lock cache files: what pruning everything would reclaim. */
  apparentBytes: { layers: number; fsmeta: number; vmdk: number; manifests: number; total: number };
  timingsMs: { plan: number; database: number; files: number; total: number };
}

// ---------------------------------------------------------------------------------------------------------
// msb 0.6.18's schema, verbatim from `SELECT sql FROM sqlite_master ORDER BY rowid` of a database made by
// `msb load` (sqlite_sequence and the autoindexes are created implicitly by SQLite).
// ---------------------------------------------------------------------------------------------------------
const MSB_SCHEMA: readonly string[] = [
  "CREATE TABLE \"seaql_migrations\" ( \"version\" varchar NOT NULL PRIMARY KEY, \"applied_at\" integer NOT NULL )",
  "CREATE TABLE \"sandbox\" ( \"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT, \"name\" text NOT NULL UNIQUE, \"config\" text NOT NULL, \"status\" text NOT NULL, \"created_at\" datetime_text, \"updated_at\" datetime_text , \"ephemeral\" boolean NOT NULL DEFAULT FALSE, \"active_config\" text, network_slot INTEGER\n    CHECK (\n        network_slot IS NULL OR (\n            typeof(network_slot) = 'integer'\n            AND network_slot BETWEEN 1 AND 65535\n        )\n    ))",
  "CREATE TABLE \"run\" ( \"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT, \"sandbox_id\" integer NOT NULL, \"pid\" integer, \"status\" text NOT NULL, \"exit_code\" integer, \"exit_signal\" integer, \"termination_reason\" text, \"termination_detail\" text, \"signals_sent\" text, \"started_at\" datetime_text, \"terminated_at\" datetime_text, FOREIGN KEY (\"sandbox_id\") REFERENCES \"sandbox\" (\"id\") ON DELETE CASCADE )",
  "CREATE TABLE \"volume\" ( \"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT, \"name\" text NOT NULL UNIQUE, \"quota_mib\" integer, \"size_bytes\" integer, \"labels\" text, \"created_at\" datetime_text, \"updated_at\" datetime_text , \"kind\" text NOT NULL DEFAULT 'dir', \"capacity_bytes\" integer, \"disk_format\" text, \"disk_fstype\" text)",
  "CREATE TABLE \"manifest\" ( \"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT, \"digest\" text NOT NULL UNIQUE, \"media_type\" text, \"config_digest\" text, \"architecture\" text, \"os\" text, \"variant\" text, \"layer_count\" integer, \"total_size_bytes\" integer, \"created_at\" datetime_text )",
  "CREATE TABLE \"image_ref\" ( \"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT, \"reference\" text NOT NULL UNIQUE, \"manifest_id\" integer NOT NULL, \"created_at\" datetime_text, \"updated_at\" datetime_text, FOREIGN KEY (\"manifest_id\") REFERENCES \"manifest\" (\"id\") ON DELETE CASCADE )",
  "CREATE TABLE \"config\" ( \"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT, \"manifest_id\" integer NOT NULL UNIQUE, \"digest\" text NOT NULL, \"env\" text, \"cmd\" text, \"entrypoint\" text, \"working_dir\" text, \"user\" text, \"labels\" text, \"stop_signal\" text, \"created_at\" datetime_text, FOREIGN KEY (\"manifest_id\") REFERENCES \"manifest\" (\"id\") ON DELETE CASCADE )",
  "CREATE TABLE \"layer\" ( \"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT, \"diff_id\" text NOT NULL UNIQUE, \"blob_digest\" text NOT NULL, \"media_type\" text, \"compressed_size_bytes\" integer, \"erofs_size_bytes\" integer, \"created_at\" datetime_text, \"last_used_at\" datetime_text )",
  "CREATE TABLE \"manifest_layer\" ( \"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT, \"manifest_id\" integer NOT NULL, \"layer_id\" integer NOT NULL, \"position\" integer NOT NULL, FOREIGN KEY (\"manifest_id\") REFERENCES \"manifest\" (\"id\") ON DELETE CASCADE, FOREIGN KEY (\"layer_id\") REFERENCES \"layer\" (\"id\") ON DELETE RESTRICT )",
  "CREATE UNIQUE INDEX \"idx_manifest_layers_manifest_position\" ON \"manifest_layer\" (\"manifest_id\", \"position\")",
  "CREATE TABLE \"sandbox_rootfs\" ( \"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT, \"sandbox_id\" integer NOT NULL UNIQUE, \"manifest_id\" integer, \"mode\" text NOT NULL, \"upper_fstype\" text, \"created_at\" datetime_text, \"root_disk_kind\" text NOT NULL DEFAULT 'managed', \"root_disk_path\" text, FOREIGN KEY (\"sandbox_id\") REFERENCES \"sandbox\" (\"id\") ON DELETE CASCADE, FOREIGN KEY (\"manifest_id\") REFERENCES \"manifest\" (\"id\") ON DELETE RESTRICT )",
  "CREATE TABLE \"sandbox_labels\" ( \"sandbox_id\" integer NOT NULL, \"key\" text NOT NULL, \"value\" text NOT NULL, PRIMARY KEY (\"sandbox_id\", \"key\"), FOREIGN KEY (\"sandbox_id\") REFERENCES \"sandbox\" (\"id\") ON DELETE CASCADE )",
  "CREATE INDEX \"idx_sandbox_labels_sandbox_id\" ON \"sandbox_labels\" (\"sandbox_id\")",
  "CREATE INDEX \"idx_sandbox_labels_key_value\" ON \"sandbox_labels\" (\"key\", \"value\")",
  "CREATE TABLE \"volume_attach\" ( \"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT, \"volume_id\" integer NOT NULL, \"sandbox_id\" integer, \"pid\" integer NOT NULL, \"mode\" text NOT NULL, \"created_at\" datetime_text NOT NULL, FOREIGN KEY (\"volume_id\") REFERENCES \"volume\" (\"id\") ON DELETE CASCADE, FOREIGN KEY (\"sandbox_id\") REFERENCES \"sandbox\" (\"id\") ON DELETE SET NULL )",
  "CREATE INDEX \"idx_volume_attach_volume_id\" ON \"volume_attach\" (\"volume_id\")",
  "CREATE INDEX \"idx_sandbox_ephemeral_status\" ON \"sandbox\" (\"ephemeral\", \"status\")",
  "CREATE TABLE \"maintenance_lease\" ( \"name\" text NOT NULL PRIMARY KEY, \"holder_pid\" integer, \"lease_expires_at\" datetime_text NOT NULL, \"last_completed_at\" datetime_text )",
  "CREATE TABLE snapshot_index (digest TEXT NOT NULL PRIMARY KEY,name TEXT,parent_digest TEXT,scope TEXT NOT NULL,state_kind TEXT NOT NULL,image_ref TEXT NOT NULL,image_manifest_digest TEXT NOT NULL,format TEXT,fstype TEXT,checkpoint_manifest_digest TEXT,artifact_path TEXT NOT NULL,size_bytes BIGINT,locality TEXT NOT NULL DEFAULT 'embedded',storage_binding_id TEXT,availability TEXT NOT NULL DEFAULT 'ready',migration_state TEXT NOT NULL DEFAULT 'canonical',migration_error_code TEXT,created_at DATETIME NOT NULL,indexed_at DATETIME NOT NULL,child_count INTEGER NOT NULL DEFAULT 0)",
  "CREATE UNIQUE INDEX idx_snapshot_index_name ON snapshot_index (name) WHERE name IS NOT NULL",
  "CREATE INDEX idx_snapshot_index_parent ON snapshot_index (parent_digest)",
  "CREATE INDEX idx_snapshot_index_image ON snapshot_index (image_manifest_digest)",
  "CREATE TABLE snapshot_artifact_migration (id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,kind TEXT NOT NULL,artifact_path TEXT NOT NULL,indexed_digest TEXT,source_digest TEXT,target_digest TEXT,source_parent_digest TEXT,target_parent_digest TEXT,payload_integrity TEXT,payload_size BIGINT,payload_file_identity TEXT,phase TEXT NOT NULL,attempts INTEGER NOT NULL DEFAULT 0,error_code TEXT,error_detail TEXT,discovered_at DATETIME NOT NULL,updated_at DATETIME NOT NULL,completed_at DATETIME,recovery_member TEXT,translation_source TEXT,UNIQUE(kind, artifact_path))",
  "CREATE INDEX idx_snapshot_artifact_migration_source ON snapshot_artifact_migration (kind, source_digest)",
  "CREATE TABLE \"cpu_allocation\" ( \"id\" text NOT NULL PRIMARY KEY, \"run_id\" integer NOT NULL UNIQUE, \"requested_policy\" text NOT NULL, \"resolved_policy\" text NOT NULL, \"enforcement\" text NOT NULL, \"topology_fingerprint\" text NOT NULL, \"lease_name\" text NOT NULL UNIQUE, \"state\" text NOT NULL, \"created_at\" datetime_text NOT NULL, FOREIGN KEY (\"run_id\") REFERENCES \"run\" (\"id\") ON DELETE CASCADE )",
  "CREATE TABLE \"writeback_allocation\" ( \"id\" text NOT NULL PRIMARY KEY, \"run_id\" integer NOT NULL UNIQUE, \"lease_name\" text NOT NULL UNIQUE, \"per_disk_limit_bytes\" integer NOT NULL, \"disk_count\" integer NOT NULL, \"reserved_bytes\" integer NOT NULL, \"pool_bytes\" integer NOT NULL, \"boot_id\" text NOT NULL, \"backing_devices\" text NOT NULL, \"created_at\" datetime_text NOT NULL )",
  "CREATE TABLE \"memory_allocation_node\" ( \"allocation_id\" text NOT NULL, \"guest_numa_node\" integer NOT NULL, \"host_numa_node\" integer NOT NULL, \"boot_mib\" integer NOT NULL, \"max_mib\" integer NOT NULL, PRIMARY KEY (\"allocation_id\", \"guest_numa_node\"), FOREIGN KEY (\"allocation_id\") REFERENCES \"cpu_allocation\" (\"id\") ON DELETE CASCADE )",
  "CREATE INDEX \"idx_memory_allocation_node_host\" ON \"memory_allocation_node\" (\"host_numa_node\")",
  "CREATE TABLE cpu_allocation_cpu (\n        allocation_id TEXT NOT NULL,\n        vcpu_index INTEGER NOT NULL,\n        logical_cpu INTEGER NOT NULL,\n        role TEXT NOT NULL,\n        PRIMARY KEY (allocation_id, vcpu_index),\n        FOREIGN KEY (allocation_id) REFERENCES cpu_allocation(id) ON DELETE CASCADE\n    )",
  "CREATE INDEX idx_cpu_allocation_cpu_logical ON cpu_allocation_cpu(logical_cpu)",
  "CREATE UNIQUE INDEX idx_sandbox_network_slot_unique\n    ON sandbox (network_slot)\n    WHERE network_slot IS NOT NULL",
];

const MSB_MIGRATIONS: readonly string[] = [
  "m20260305_000001_create_image_tables",
  "m20260305_000002_create_sandbox_tables",
  "m20260305_000003_create_storage_tables",
  "m20260305_000004_create_sandbox_images_table",
  "m20260410_000001_erofs_image_schema",
  "m20260501_000001_create_snapshot_index",
  "m20260517_000001_drop_sandbox_metric",
  "m20260527_000001_migrate_oci_rootfs_source",
  "m20260531_000001_create_sandbox_labels",
  "m20260531_000002_index_sandbox_labels_key_value",
  "m20260606_000001_named_volume_kinds",
  "m20260621_000001_add_sandbox_ephemeral",
  "m20260621_000002_create_maintenance_lease",
  "m20260703_000001_add_sandbox_active_config",
  "m20260708_000001_migrate_bind_rootfs_source",
  "m20260710_000001_migrate_root_disk",
  "m20260714_000001_add_snapshot_scope",
  "m20260723_000001_snapshot_artifact_transition",
  "m20260719_000001_create_cpu_allocations",
  "m20260803_000001_create_writeback_allocations",
  "m20260808_000001_create_memory_allocation_nodes",
  "m20260810_000001_rebuild_sandbox_labels",
  "m20260813_000001_share_cpu_allocations",
  "m20260824_000001_mount_owner_config",
  "m20260818_000001_sandbox_network_slot",
];

// ---------------------------------------------------------------------------------------------------------
// Small deterministic helpers
// ---------------------------------------------------------------------------------------------------------

type Rng = { next(): number; int(lo: number, hi: number): number; chance(p: number): boolean };

const mixSeed = (seed: number, i: number): number => (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca77)) >>> 0;

/** sfc32, seeded through splitmix32: fast and deterministic. */
function makeRng(seed: number): Rng {
  let s = seed >>> 0;
  const split = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split(), b = split(), c = split(), d = split();
  const next = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
  return {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    chance: (p) => next() < p,
  };
}

const sha256hex = (s: string | Buffer): string => createHash("sha256").update(s).digest("hex");

/** Digest → file-name stem, as msb does (every byte outside [A-Za-z0-9+.=_-] becomes `_`). */
export const digestStem = (digest: string): string => digest.replace(/[^A-Za-z0-9+.=_-]/g, "_");

/**
 * Docker reference normalization, ONLY for the simple forms this fixture generates (`name[:tag]`,
 * `ns/name[:tag]`, `registry.host[:port]/ns/name[:tag]`; no digests). The real implementation (spec §3.1) is
 * the library's C++ one; this is a deliberately small independent copy for keying `manifests/*.json`.
 */
export function normalizeSimpleReference(ref: string): string {
  let rest = ref;
  let registry = "docker.io";
  const slash = rest.indexOf("/");
  if (slash > 0) {
    const first = rest.slice(0, slash);
    if (first.includes(".") || first.includes(":") || first === "localhost") {
      registry = first === "index.docker.io" ? "docker.io" : first;
      rest = rest.slice(slash + 1);
    }
  }
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  let repo = rest;
  let tag = "latest";
  if (colon > lastSlash) {
    repo = rest.slice(0, colon);
    tag = rest.slice(colon + 1);
  }
  if (registry === "docker.io" && !repo.includes("/")) repo = `library/${repo}`;
  return `${registry}/${repo}:${tag}`;
}

/** Nanoseconds since the epoch (bigint) → msb's `YYYY-MM-DD HH:MM:SS.nnnnnnnnn`. */
function msbTime(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const iso = new Date(ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  const frac = (ns % 1_000_000_000n).toString().padStart(9, "0");
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${frac}`;
}

function hostArchitecture(): string {
  switch (process.arch) {
    case "x64": return "amd64";
    case "arm64": return "arm64";
    case "ia32": return "386";
    default: return process.arch;
  }
}

// ---------------------------------------------------------------------------------------------------------
// EROFS
// ---------------------------------------------------------------------------------------------------------

const BLK = 4096;
const SB = 1024;
const EROFS_MAGIC = 0xe0f5e1e2;
const MAX_DEVICES = Math.floor((BLK - (SB + 128)) / 128); // device table from byte 1152 to the end of block 0

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** EROFS superblock checksum: CRC32C of bytes 1024..4095 (checksum field zeroed), seed ~0, no final xor. */
function erofsChecksum(buf: Buffer): number {
  let c = 0xffffffff;
  for (let i = SB; i < BLK; i++) c = CRC32C_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return c >>> 0;
}

interface DirEntry { name: string; nid: number; type: 1 | 2 }

/** Writes an inline (FLAT_INLINE) directory's dirents + names at `off`; returns its size. */
function writeDirents(buf: Buffer, off: number, entries: DirEntry[]): number {
  let nameOff = entries.length * 12;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const d = off + i * 12;
    buf.writeBigUInt64LE(BigInt(e.nid), d);
    buf.writeUInt16LE(nameOff, d + 8);
    buf.writeUInt8(e.type, d + 10);
    buf.write(e.name, off + nameOff, "latin1");
    nameOff += e.name.length;
  }
  return nameOff;
}

/** 64-byte extended inode (msb writes only these). */
function writeInode(buf: Buffer, off: number, f: {
  format: number; mode: number; size: number; iu: number; ino: number; nlink: number;
}): void {
  buf.writeUInt16LE(f.format, off);
  buf.writeUInt16LE(f.mode, off + 4);
  buf.writeBigUInt64LE(BigInt(f.size), off + 8);
  buf.writeUInt32LE(f.iu >>> 0, off + 0x10);
  buf.writeUInt32LE(f.ino, off + 0x14);
  buf.writeUInt32LE(f.nlink, off + 0x2c);
}

function writeSuperblock(buf: Buffer, f: {
  inos: number; blocks: number; incompat?: number; devices?: Array<{ blocks: number; mapped: number }>;
}): void {
  buf.writeUInt32LE(EROFS_MAGIC, SB);
  buf.writeUInt32LE(1, SB + 0x08); // feature_compat: SB_CHKSUM
  buf.writeUInt8(12, SB + 0x0c); // blkszbits
  buf.writeUInt16LE(0, SB + 0x0e); // root_nid
  buf.writeBigUInt64LE(BigInt(f.inos), SB + 0x10);
  buf.writeUInt32LE(f.blocks, SB + 0x24);
  buf.writeUInt32LE(1, SB + 0x28); // meta_blkaddr
  if (f.devices && f.devices.length > 0) {
    buf.writeUInt32LE(f.incompat ?? 0x0c, SB + 0x50); // CHUNKED_FILE | DEVICE_TABLE
    buf.writeUInt16LE(f.devices.length, SB + 0x56);
    const slotoff = (SB + 128) / 128; // 9, right after the superblock, as msb does
    buf.writeUInt16LE(slotoff, SB + 0x58);
    f.devices.forEach((d, i) => {
      const o = slotoff * 128 + i * 128;
      buf.writeUInt32LE(d.blocks, o + 0x40);
      buf.writeUInt32LE(d.mapped, o + 0x44);
    });
  }
  buf.writeUInt32LE(erofsChecksum(buf), SB + 0x04);
}

const S_IFDIR_755 = 0o040755;
const S_IFREG_644 = 0o100644;
const align32 = (n: number): number => (n + 31) & ~31;

export interface LayerPlan { diffId: string; fileName: string; dataBlocks: number; fileSize: number }

/** Fills `head` (2 zeroed blocks: superblock + metadata) for a layer image; returns the file length (the data
 *  blocks after the two header blocks are left as holes). */
export function layerErofs(l: LayerPlan, head: Buffer): number {
  const meta = BLK;
  const entries: DirEntry[] = [{ name: ".", nid: 0, type: 2 }, { name: "..", nid: 0, type: 2 }];
  const fileOff = l.dataBlocks > 0 ? align32(64 + 12 * 3 + 3 + l.fileName.length) : 0;
  if (l.dataBlocks > 0) entries.push({ name: l.fileName, nid: fileOff / 32, type: 1 });
  const dirSize = writeDirents(head, meta + 64, entries);
  writeInode(head, meta, { format: 0x5, mode: S_IFDIR_755, size: dirSize, iu: 0xffffffff, ino: 0, nlink: 2 });
  if (l.dataBlocks > 0) {
    writeInode(head, meta + fileOff, {
      format: 0x1, mode: S_IFREG_644, size: l.fileSize, iu: 2, ino: fileOff / 32, nlink: 1,
    });
  }
  const blocks = 2 + l.dataBlocks;
  writeSuperblock(head, { inos: entries.length - 1, blocks });
  return blocks * BLK;
}

/** The merged metadata image: root dir with every layer's file, chunk-indexed into the layer devices. */
export function fsmetaErofs(layers: LayerPlan[], buf: Buffer): number {
  const meta = BLK;
  const files = layers
    .map((l, i) => ({ l, device: i + 1 }))
    .filter((x) => x.l.dataBlocks > 0)
    .sort((a, b) => (a.l.fileName < b.l.fileName ? -1 : a.l.fileName > b.l.fileName ? 1 : 0));
  const dirSize = 12 * (2 + files.length) + 3 + files.reduce((n, f) => n + f.l.fileName.length, 0);
  let off = align32(64 + dirSize);
  const entries: DirEntry[] = [{ name: ".", nid: 0, type: 2 }, { name: "..", nid: 0, type: 2 }];
  for (const f of files) {
    entries.push({ name: f.l.fileName, nid: off / 32, type: 1 });
    let chunkbits = 0;
    while (1 << chunkbits < f.l.dataBlocks) chunkbits++;
    writeInode(buf, meta + off, {
      format: 0x9, mode: S_IFREG_644, size: f.l.fileSize, iu: 0x20 | chunkbits, ino: off / 32, nlink: 1,
    });
    // one chunk index: advise, device_id (1-based), blkaddr within that device
    buf.writeUInt16LE(f.device, meta + off + 64 + 2);
    buf.writeUInt32LE(2, meta + off + 64 + 4);
    off = align32(off + 64 + 8);
  }
  if (off > BLK) throw new Error("fixture: fsmeta metadata does not fit one block");
  writeDirents(buf, meta + 64, entries);
  writeInode(buf, meta, { format: 0x5, mode: S_IFDIR_755, size: dirSize, iu: 0xffffffff, ino: 0, nlink: 2 });
  let mapped = 2;
  const devices = layers.map((l) => {
    const d = { blocks: 2 + l.dataBlocks, mapped };
    mapped += d.blocks;
    return d;
  });
  writeSuperblock(buf, { inos: entries.length - 1, blocks: 2, devices });
  return 2 * BLK;
}

// ---------------------------------------------------------------------------------------------------------
// VMDK descriptor (msb-cache-format.md §4.2, checked against msb's output byte for byte)
// ---------------------------------------------------------------------------------------------------------

const MAX_EXTENT_SECTORS = 4_194_304; // 2 GiB

export function vmdkDescriptor(extents: Array<{ path: string; bytes: number }>): string {
  const lines: string[] = [];
  let total = 0;
  for (const e of extents) {
    let sectors = Math.ceil(e.bytes / 512);
    let offset = 0;
    total += sectors;
    while (sectors > 0) {
      const n = Math.min(sectors, MAX_EXTENT_SECTORS);
      lines.push(`RW ${n} FLAT "${e.path}" ${offset}`);
      offset += n;
      sectors -= n;
    }
  }
  return (
    "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"twoGbMaxExtentFlat\"\n\n" +
    "# Extent description\n" + lines.join("\n") + "\n\n" +
    "# The Disk Data Base\n#DDB\nddb.virtualHWVersion = \"4\"\n" +
    `ddb.geometry.cylinders = "${Math.ceil(total / (16 * 63))}"\n` +
    "ddb.geometry.heads = \"16\"\nddb.geometry.sectors = \"63\"\nddb.adapterType = \"ide\"\n"
  );
}

// ---------------------------------------------------------------------------------------------------------
// Database writer (python3 + sqlite3, one transaction)
// ---------------------------------------------------------------------------------------------------------

const PY_WRITER = String.raw`
import json, sqlite3, sys
spec = json.load(open(sys.argv[1], encoding="utf-8"))
con = sqlite3.connect(spec["db"], isolation_level=None)
con.execute("PRAGMA journal_mode=WAL")
con.execute("PRAGMA synchronous=OFF")
con.execute("BEGIN")
for stmt in spec["schema"]:
    con.execute(stmt)
for table, cols, rows in spec["inserts"]:
    sql = 'INSERT INTO "%s" (%s) VALUES (%s)' % (table, ",".join('"%s"' % c for c in cols), ",".join("?" * len(cols)))
    con.executemany(sql, rows)
con.execute("COMMIT")
bad = con.execute("PRAGMA foreign_key_check").fetchall()
con.close()
if bad:
    sys.exit("foreign key violations: %r" % (bad[:5],))
`;

function runPython(specPath: string): Promise<void> {
  const python = process.env.MSB_FIXTURE_PYTHON || "python3";
  return new Promise((resolve, reject) => {
    const child = spawn(python, ["-c", PY_WRITER, specPath], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", (e) => reject(new Error(`fixture: cannot run ${python} (needed to write msb.db): ${e.message}`)));
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`fixture: ${python} sqlite writer failed (${code}): ${err}`))));
  });
}

/** Streams the row spec to `file` as one JSON document without building one huge string. */
function writeSpecFile(file: string, db: string, inserts: Array<[string, string[], unknown[][]]>): void {
  const fd = fs.openSync(file, "w", 0o600);
  try {
    fs.writeSync(fd, `{"db":${JSON.stringify(db)},"schema":${JSON.stringify(MSB_SCHEMA)},"inserts":[`);
    inserts.forEach(([table, cols, rows], t) => {
      fs.writeSync(fd, `${t ? "," : ""}[${JSON.stringify(table)},${JSON.stringify(cols)},[`);
      for (let i = 0; i < rows.length; i += 20_000) {
        fs.writeSync(fd, (i ? "," : "") + rows.slice(i, i + 20_000).map((r) => JSON.stringify(r)).join(","));
      }
      fs.writeSync(fd, "]]");
    });
    fs.writeSync(fd, "]}");
  } finally {
    fs.closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------------------------
// File writing: sequential synchronous writes, spread over a few worker threads (bounded: each worker has at
// most 2 batches of 256 files queued). fs.promises with 64 in flight measured 7x slower than plain sync calls;
// the workers let the blocking create/write syscalls of two threads overlap. `writers: 0` writes in-thread.
// ---------------------------------------------------------------------------------------------------------

interface FileSink { put(file: string, data: Buffer, mode: number, pos: number, length: number): Promise<void>; close(): Promise<void> }

/** [path, data, mode, pos, length]: write `data` at `pos` into a new file, then extend it to `length`. */
type FileOp = [string, Buffer, number, number, number];

function writeOpSync(op: FileOp): void {
  const [file, data, mode, pos, length] = op;
  const fd = fs.openSync(file, "w", mode);
  try {
    if (data.length > 0) fs.writeSync(fd, data, 0, data.length, pos);
    if (length > pos + data.length) fs.ftruncateSync(fd, length);
  } finally {
    fs.closeSync(fd);
  }
}

const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const fs = require("node:fs");
parentPort.on("message", (ops) => {
  try {
    for (const [file, data, mode, pos, length] of ops) {
      const fd = fs.openSync(file, "w", mode);
      try {
        if (data.length > 0) fs.writeSync(fd, data, 0, data.length, pos);
        if (length > pos + data.length) fs.ftruncateSync(fd, length);
      } finally {
        fs.closeSync(fd);
      }
    }
    parentPort.postMessage(null);
  } catch (e) {
    parentPort.postMessage(String(e && e.stack || e));
  }
});`;

function makeSink(writers: number): FileSink {
  if (writers <= 0) {
    let n = 0;
    return {
      async put(...op: FileOp) {
        writeOpSync(op);
        if (++n % 500 === 0) await new Promise((r) => setImmediate(r));
      },
      async close() {},
    };
  }
  const BATCH = 256;
  const MAX_QUEUED = 2;
  const pool = Array.from({ length: writers }, () => {
    const w = new Worker(WORKER_SOURCE, { eval: true });
    return { w, queued: 0 };
  });
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  const notify = (): void => { const f = wake; wake = null; f?.(); };
  for (const p of pool) {
    p.w.on("message", (err: string | null) => {
      p.queued--;
      if (err && !failure) failure = new Error(`fixture: file writer failed: ${err}`);
      notify();
    });
    p.w.on("error", (e) => { failure ??= e; notify(); });
  }
  let ops: FileOp[] = [];
  const waitFor = async (cond: () => boolean): Promise<void> => {
    while (!cond()) {
      if (failure) throw failure;
      await new Promise<void>((r) => { wake = r; });
    }
    if (failure) throw failure;
  };
  const dispatch = async (): Promise<void> => {
    if (ops.length === 0) return;
    await waitFor(() => pool.some((p) => p.queued < MAX_QUEUED));
    const p = pool.reduce((a, b) => (b.queued < a.queued ? b : a));
    p.queued++;
    const batch = ops;
    ops = [];
    p.w.postMessage(batch);
  };
  let closed = false;
  return {
    async put(...op: FileOp) {
      if (failure) throw failure;
      ops.push(op);
      if (ops.length >= BATCH) await dispatch();
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await dispatch();
        await waitFor(() => pool.every((p) => p.queued === 0));
      } finally {
        await Promise.all(pool.map((p) => p.w.terminate()));
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// The builder
// ---------------------------------------------------------------------------------------------------------

const LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip";
const MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json";
const CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json";
const NS = 1_000_000_000n;

interface LayerRec extends LayerPlan {
  id: number; blobDigest: string; compressedSizeBytes: number; erofsBytes: number; erofsPath: string; users: number;
  createdAt: string; lastUsedNs: bigint;
}

interface ImageConfigPlan {
  env: string[]; cmd: string[] | null; entrypoint: string[] | null; workingDir: string | null; user: string | null;
  labels: Record<string, string> | null; stopSignal: string | null; exposed: string[]; created: string;
}

interface ManifestRec { summary: FixtureManifest; ls: LayerRec[]; cfg: ImageConfigPlan }

function referenceFor(i: number, rng: Rng): string {
  const n = String(i).padStart(6, "0");
  const tag = rng.chance(0.2) ? "" : `:v${rng.int(1, 40)}`;
  switch (i % 4) {
    case 0: return `fixture/app-${n}${tag}`; // docker.io/fixture/app-n:tag
    case 1: return `app-${n}${tag || ":latest"}`; // docker.io/library/app-n:tag
    case 2: return `registry.example.com:5000/team/app-${n}${tag || ":1.0"}`; // already normalized
    default: return `app-${n}${tag}`; // sometimes no tag → :latest
  }
}

/** The image's own OCI config (what msb stores as raw_config_json). Compact, keys as a registry would send. */
function rawConfigJson(cfg: ImageConfigPlan, ls: LayerRec[], architecture: string, osName: string): string {
  const c: Record<string, unknown> = { Env: cfg.env };
  if (cfg.cmd) c.Cmd = cfg.cmd;
  if (cfg.entrypoint) c.Entrypoint = cfg.entrypoint;
  if (cfg.workingDir !== null) c.WorkingDir = cfg.workingDir;
  if (cfg.user !== null) c.User = cfg.user;
  if (cfg.labels) c.Labels = cfg.labels;
  if (cfg.stopSignal) c.StopSignal = cfg.stopSignal;
  if (cfg.exposed.length) c.ExposedPorts = Object.fromEntries(cfg.exposed.map((p) => [p, {}]));
  return JSON.stringify({
    architecture, config: c, created: cfg.created, os: osName, rootfs: { type: "layers", diff_ids: ls.map((l) => l.diffId) },
  });
}

function rawManifestJson(configDigest: string, configSize: number, ls: LayerRec[]): string {
  return JSON.stringify({
    schemaVersion: 2, mediaType: MANIFEST_MEDIA_TYPE,
    config: { mediaType: CONFIG_MEDIA_TYPE, digest: configDigest, size: configSize },
    layers: ls.map((l) => ({ mediaType: LAYER_MEDIA_TYPE, digest: l.blobDigest, size: l.compressedSizeBytes })),
  });
}

/** `manifests/*.json` exactly as msb writes it (compact; absent env → [], absent labels → {}). */
function manifestCacheJson(m: ManifestRec, rawConfig: string, rawManifest: string): string {
  const c = m.cfg;
  return JSON.stringify({
    manifest_digest: m.summary.digest, config_digest: m.summary.configDigest, raw_manifest_json: rawManifest,
    raw_config_json: rawConfig,
    config: {
      env: c.env, cmd: c.cmd, entrypoint: c.entrypoint, working_dir: c.workingDir, user: c.user, exposed_ports: c.exposed,
      volumes: [], labels: c.labels ?? {}, stop_signal: c.stopSignal,
    },
    layers: m.ls.map((l) => ({ digest: l.blobDigest, media_type: LAYER_MEDIA_TYPE, size_bytes: l.compressedSizeBytes, diff_id: l.diffId })),
  });
}

export async function buildFixture(homeIn: string, opts: FixtureOptions): Promise<FixtureSummary> {
  const t0 = performance.now();
  const images = opts.images;
  if (!Number.isInteger(images) || images < 0) throw new Error("fixture: images must be an integer >= 0");
  const layersPerImage = opts.layersPerImage ?? 3;
  if (!Number.isInteger(layersPerImage) || layersPerImage < 1 || layersPerImage > MAX_DEVICES) {
    throw new Error(`fixture: layersPerImage must be 1..${MAX_DEVICES}`);
  }
  const seed = opts.seed ?? 1;
  const aliases = opts.aliases ?? 0;
  const dangling = opts.dangling ?? 0;
  const totalManifests = images + dangling;
  const sharedBases = Math.max(0, Math.min(opts.sharedBases ?? Math.min(8, totalManifests), totalManifests));
  const pinned = Math.min(opts.pinned ?? 0, totalManifests);
  if (aliases > 0 && images === 0) throw new Error("fixture: aliases need images");
  const maxData = opts.maxDataBlocks ?? 4;
  const architecture = opts.architecture ?? hostArchitecture();
  const osName = opts.os ?? (process.platform === "linux" ? "linux" : process.platform);
  const locks = opts.locks ?? true;
  const startNs = BigInt((opts.start ?? new Date("2026-01-01T00:00:00Z")).getTime()) * 1_000_000n;
  const rng = makeRng(seed);
  const tag = `seed${seed}`;

  await fsp.mkdir(homeIn, { recursive: true });
  const home = await fsp.realpath(homeIn); // msb writes canonical absolute paths into the VMDKs
  const dbDir = path.join(home, "db");
  const cacheDir = path.join(home, "cache");
  const dirs = {
    layers: path.join(cacheDir, "layers"),
    fsmeta: path.join(cacheDir, "fsmeta"),
    vmdk: path.join(cacheDir, "vmdk"),
    manifests: path.join(cacheDir, "manifests"),
  };
  if (fs.existsSync(path.join(dbDir, "msb.db"))) throw new Error(`fixture: ${dbDir}/msb.db already exists`);
  for (const d of [dbDir, ...Object.values(dirs), path.join(cacheDir, "tmp"),
    path.join(cacheDir, "flat", "blobs"), path.join(cacheDir, "flat", "locks"), path.join(cacheDir, "flat", "refs")]) {
    await fsp.mkdir(d, { recursive: true });
  }

  // ---- plan (in memory, no file content kept: it is regenerated while writing) ----
  const layers: LayerRec[] = [];
  const manifests: ManifestRec[] = [];
  const manifestRows: unknown[][] = [];
  const configRows: unknown[][] = [];
  const mlRows: unknown[][] = [];
  const refs: FixtureRef[] = [];
  const manifestNs: bigint[] = [];

  const newLayer = (kind: string, idx: number, maxBlocks: number, createdNs: bigint, rng: Rng): LayerRec => {
    const diffHex = sha256hex(`${tag}:diff:${kind}:${idx}`);
    const diffId = `sha256:${diffHex}`;
    const dataBlocks = rng.int(0, maxBlocks);
    const fileSize = dataBlocks === 0 ? 0 : (dataBlocks - 1) * BLK + rng.int(1, BLK);
    const l: LayerRec = {
      id: layers.length + 1, diffId, blobDigest: `sha256:${sha256hex(`${tag}:blob:${kind}:${idx}`)}`,
      compressedSizeBytes: kind === "base" ? rng.int(2_000_000, 60_000_000) : rng.int(200, 20_000_000),
      erofsBytes: (2 + dataBlocks) * BLK, erofsPath: path.join(dirs.layers, `${digestStem(diffId)}.erofs`), users: 0,
      fileName: `blob-${diffHex.slice(0, 12)}`, dataBlocks, fileSize, createdAt: msbTime(createdNs), lastUsedNs: createdNs,
    };
    layers.push(l);
    return l;
  };

  const bases = Array.from({ length: sharedBases }, (_, b) =>
    newLayer("base", b, maxData * 4, startNs - 3600n * NS + BigInt(b) * 1_000_000n, rng));

  for (let m = 0; m < totalManifests; m++) {
    // manifest m is persisted at start + m s (+ jitter); dangling ones after the images
    // one generator per image, so image m is the same whatever the total (a small fixture is a prefix)
    const rng = makeRng(mixSeed(seed, m));
    const tNs = startNs + BigInt(m) * NS + BigInt(rng.int(0, 999_999)) * 1000n;
    manifestNs.push(tNs);
    const ls: LayerRec[] = [];
    for (let p = 0; p < layersPerImage; p++) {
      if (p === 0 && sharedBases > 0) ls.push(bases[m % sharedBases]!);
      else ls.push(newLayer("img", m * layersPerImage + p, maxData, tNs - 2_000_000n + BigInt(p) * 100_000n, rng));
    }
    const cfg: ImageConfigPlan = {
      env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", `APP_ID=${m}`],
      cmd: rng.chance(0.8) ? ["/bin/sh", "-c", `serve --id ${m}`] : null,
      entrypoint: rng.chance(0.3) ? ["/entrypoint.sh"] : null,
      workingDir: rng.chance(0.6) ? "/app" : null,
      user: rng.chance(0.3) ? "1000:1000" : rng.chance(0.2) ? "" : null,
      labels: rng.chance(0.5) ? { "fixture.seed": String(seed), "org.opencontainers.image.title": `app-${m}` } : null,
      stopSignal: rng.chance(0.3) ? "SIGINT" : null,
      exposed: rng.chance(0.4) ? ["8080/tcp"] : [],
      created: new Date(Number((tNs - 86_400n * NS) / 1_000_000n)).toISOString(),
    };
    const rawConfig = rawConfigJson(cfg, ls, architecture, osName);
    const configDigest = `sha256:${sha256hex(rawConfig)}`;
    const digest = `sha256:${sha256hex(rawManifestJson(configDigest, Buffer.byteLength(rawConfig), ls))}`;
    const id = m + 1;
    const total = ls.reduce((n, l) => n + l.compressedSizeBytes, 0);
    const createdAt = msbTime(tNs - 1_000_000n);
    const stem = digestStem(digest);
    const fsmetaPath = path.join(dirs.fsmeta, `${stem}.erofs`);
    const vmdkPath = path.join(dirs.vmdk, `${stem}.vmdk`);
    manifests.push({
      summary: {
        id, digest, configDigest, layerCount: ls.length, totalSizeBytes: total, diffIds: ls.map((l) => l.diffId),
        fsmetaPath, fsmetaBytes: 2 * BLK, vmdkPath, vmdkBytes: 0, createdAt, dangling: m >= images,
        pinnedBySandboxId: m < pinned ? m + 1 : null,
      },
      ls, cfg,
    });
    manifestRows.push([id, digest, null, configDigest, architecture, osName, null, ls.length, total, createdAt]);
    // msb's config row: empty env / labels → NULL, stop_signal never written
    configRows.push([
      id, id, configDigest, cfg.env.length ? JSON.stringify(cfg.env) : null, cfg.cmd && JSON.stringify(cfg.cmd),
      cfg.entrypoint && JSON.stringify(cfg.entrypoint), cfg.workingDir, cfg.user,
      cfg.labels && Object.keys(cfg.labels).length ? JSON.stringify(cfg.labels) : null, null, msbTime(tNs - 500_000n),
    ]);
    ls.forEach((l, p) => {
      l.users++;
      mlRows.push([mlRows.length + 1, id, l.id, p]);
    });
  }

  // references: one per image, then aliases
  const usedRefs = new Set<string>();
  const jsonOwner = new Map<string, number>(); // manifests/*.json path → manifest index that writes it
  const addRef = (reference: string, m: number, tNs: bigint, alias: boolean, rng: Rng): void => {
    const man = manifests[m]!;
    const normalized = normalizeSimpleReference(reference);
    const jsonPath = path.join(dirs.manifests, `${sha256hex(normalized)}.json`);
    if (!jsonOwner.has(jsonPath)) jsonOwner.set(jsonPath, m);
    const updatedNs = rng.chance(0.5) ? tNs : tNs + BigInt(rng.int(1, 30 * 86_400)) * NS + BigInt(rng.int(0, 999_999_999));
    usedRefs.add(reference);
    refs.push({
      id: refs.length + 1, reference, normalized, manifestId: man.summary.id, manifestDigest: man.summary.digest,
      layerCount: man.summary.layerCount, sizeBytes: man.summary.totalSizeBytes, architecture, os: osName,
      createdAt: msbTime(tNs), updatedAt: msbTime(updatedNs), jsonPath, jsonBytes: 0, alias,
    });
    for (const l of man.ls) if (updatedNs > l.lastUsedNs) l.lastUsedNs = updatedNs; // bumped with the image_ref
  };
  for (let m = 0; m < images; m++) {
    const rng = makeRng(mixSeed(seed, 0x40000000 + m));
    let ref = referenceFor(m, rng);
    if (usedRefs.has(ref)) ref = `${ref}-${m}`; // cannot happen with the forms above; kept for safety
    addRef(ref, m, manifestNs[m]! + 200_000n + BigInt(rng.int(0, 99_999)), false, rng);
  }
  for (let j = 0; j < aliases; j++) {
    const m = j % images;
    const target = refs[m]!.reference;
    const normalized = normalizeSimpleReference(target);
    const ref = normalized !== target && !usedRefs.has(normalized) ? normalized : `alias-${j}:latest`;
    addRef(ref, m, startNs + BigInt(totalManifests + j) * NS + BigInt(rng.int(0, 999_999)) * 1000n, true, rng);
  }

  const layerRows = layers.map((l) => [
    l.id, l.diffId, l.blobDigest, LAYER_MEDIA_TYPE, l.compressedSizeBytes, null, l.createdAt, msbTime(l.lastUsedNs),
  ]);
  const leaseText = msbTime(startNs - 7200n * NS);
  const sandboxRows: unknown[][] = [];
  const rootfsRows: unknown[][] = [];
  for (let s = 0; s < pinned; s++) {
    const t = msbTime(startNs + BigInt(totalManifests + aliases + s) * NS);
    sandboxRows.push([s + 1, `fixture-pin-${s + 1}`, "{}", "Stopped", t, t]);
    rootfsRows.push([s + 1, s + 1, manifests[s]!.summary.id, "erofs", "ext4", t]);
  }
  const dbPath = path.join(dbDir, "msb.db");
  const specDir = await fsp.mkdtemp(path.join(os.tmpdir(), "msb-fixture-"));
  const specPath = path.join(specDir, "rows.json");
  writeSpecFile(specPath, dbPath, [
    ["seaql_migrations", ["version", "applied_at"], MSB_MIGRATIONS.map((v) => [v, Number(startNs / NS) - 7200])],
    ["maintenance_lease", ["name", "holder_pid", "lease_expires_at", "last_completed_at"], [["install_exclusive", null, leaseText, leaseText]]],
    ["manifest", ["id", "digest", "media_type", "config_digest", "architecture", "os", "variant", "layer_count", "total_size_bytes", "created_at"], manifestRows],
    ["layer", ["id", "diff_id", "blob_digest", "media_type", "compressed_size_bytes", "erofs_size_bytes", "created_at", "last_used_at"], layerRows],
    ["image_ref", ["id", "reference", "manifest_id", "created_at", "updated_at"], refs.map((r) => [r.id, r.reference, r.manifestId, r.createdAt, r.updatedAt])],
    ["config", ["id", "manifest_id", "digest", "env", "cmd", "entrypoint", "working_dir", "user", "labels", "stop_signal", "created_at"], configRows],
    ["manifest_layer", ["id", "manifest_id", "layer_id", "position"], mlRows],
    ["sandbox", ["id", "name", "config", "status", "created_at", "updated_at"], sandboxRows],
    ["sandbox_rootfs", ["id", "sandbox_id", "manifest_id", "mode", "upper_fstype", "created_at"], rootfsRows],
  ]);
  manifestRows.length = configRows.length = mlRows.length = 0;
  const tPlan = performance.now();

  // ---- write: the database in python3 (another process) while this thread renders files for the writers ----
  let tDb = 0;
  const db = runPython(specPath).then(() => { tDb = performance.now() - tPlan; });
  db.catch(() => undefined); // observed below; avoid an unhandled rejection while files are written
  const sink = makeSink(opts.writers ?? 1);
  const scratch = Buffer.alloc(2 * BLK);
  // bytes 0..1023 of block 0 stay a hole (all zero); data blocks after the two header blocks are holes
  const putErofs = (file: string, length: number): Promise<void> =>
    sink.put(file, Buffer.from(scratch.subarray(SB, 2 * BLK)), 0o644, SB, length);
  const empty = Buffer.alloc(0);
  try {
    await sink.put(path.join(dbDir, "msb.db.migration.lock"), empty, 0o644, 0, 0);
    for (const l of layers) {
      scratch.fill(0);
      await putErofs(l.erofsPath, layerErofs(l, scratch));
      if (locks) await sink.put(`${l.erofsPath}.lock`, empty, 0o600, 0, 0);
    }
    const jsonBytes = new Map<number, number>();
    const jsonWriters = new Map<number, string[]>();
    for (const [p, m] of jsonOwner) {
      const list = jsonWriters.get(m);
      if (list) list.push(p); else jsonWriters.set(m, [p]);
    }
    for (let m = 0; m < manifests.length; m++) {
      const rec = manifests[m]!;
      const s = rec.summary;
      scratch.fill(0);
      fsmetaErofs(rec.ls, scratch);
      await putErofs(s.fsmetaPath, 2 * BLK);
      if (locks) await sink.put(`${s.fsmetaPath}.lock`, empty, 0o600, 0, 0);
      const vmdk = Buffer.from(vmdkDescriptor([{ path: s.fsmetaPath, bytes: s.fsmetaBytes }, ...rec.ls.map((l) => ({ path: l.erofsPath, bytes: l.erofsBytes }))]));
      await sink.put(s.vmdkPath, vmdk, 0o644, 0, vmdk.length);
      s.vmdkBytes = vmdk.length;
      const jsonPaths = jsonWriters.get(m);
      if (jsonPaths) {
        const rawConfig = rawConfigJson(rec.cfg, rec.ls, architecture, osName);
        const body = Buffer.from(manifestCacheJson(rec, rawConfig, rawManifestJson(s.configDigest, Buffer.byteLength(rawConfig), rec.ls)));
        for (const p of jsonPaths) await sink.put(p, body, 0o644, 0, body.length);
        jsonBytes.set(m, body.length);
      }
    }
    await sink.close();
    for (const r of refs) r.jsonBytes = jsonBytes.get(r.manifestId - 1)!;
    await db;
  } finally {
    await sink.close().catch(() => undefined);
    await db.catch(() => undefined);
    await fsp.rm(specDir, { recursive: true, force: true });
  }
  await db;
  const tEnd = performance.now();

  const apparent = {
    layers: layers.reduce((a, l) => a + l.erofsBytes, 0),
    fsmeta: manifests.reduce((a, m) => a + m.summary.fsmetaBytes, 0),
    vmdk: manifests.reduce((a, m) => a + m.summary.vmdkBytes, 0),
    manifests: 0,
    total: 0,
  };
  const seenJson = new Set<string>();
  for (const r of refs) if (!seenJson.has(r.jsonPath)) { seenJson.add(r.jsonPath); apparent.manifests += r.jsonBytes; }
  apparent.total = apparent.layers + apparent.fsmeta + apparent.vmdk + apparent.manifests;
  const lockFiles = locks ? layers.length + manifests.length : 0;

  return {
    home,
    dbPath,
    cacheDir,
    refs: refs.slice().sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0)),
    manifests: manifests.map((m) => m.summary),
    layers: layers.map(({ diffId, blobDigest, compressedSizeBytes, erofsBytes, erofsPath, users }) =>
      ({ diffId, blobDigest, compressedSizeBytes, erofsBytes, erofsPath, users })),
    counts: {
      imageRefs: refs.length, manifests: manifests.length, layers: layers.length, manifestLayers: layersPerImage * totalManifests,
      jsonFiles: jsonOwner.size, lockFiles, files: layers.length + 2 * manifests.length + jsonOwner.size + lockFiles + 1,
    },
    apparentBytes: apparent,
    timingsMs: { plan: Math.round(tPlan - t0), database: Math.round(tDb), files: Math.round(tEnd - tPlan), total: Math.round(tEnd - t0) },
  };
}
