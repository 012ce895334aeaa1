// Public types that are plain data (the classes are in image.ts, the errors in errors.ts).
import type { ImageHandle } from "./image";

export interface CallOptions {
  /** Aborts the call (the Go SDK's ctx). */
  signal?: AbortSignal;
}

export interface RemoveOptions extends CallOptions {
  /** Remove the reference even when sandboxes or snapshots use the image. */
  force?: boolean;
}

/** A step of prune(): the row transaction, then the files, in batches. */
export interface PruneProgress {
  /** rows: the transaction; files: the artifacts' files; sweep: flat/ and stale tmp/ entries. */
  phase: "rows" | "files" | "sweep";
  done: number;
  total: number;
  /** Bytes reclaimed so far (would be, in a dry run). */
  bytes: number;
}

/**
 * A space target: bytes, a size string (`"20GiB"`, `"500MB"`; a unit is required) or a share of the
 * size of the file system that holds the cache (`"15%"`), resolved with statvfs at each run.
 */
export type SpaceAmount = number | string;

/** What an image may be removed for: one policy of prune() (docs/api.md "Space targets"). */
export interface PrunePolicy {
  /** Only images whose lastUsedAt is older: a duration in ms or as a string (`"7d"`), or a Date. */
  olderThan?: number | string | Date;
  /** Never remove a reference created less than this long ago (ms or `"10m"`): grace for just-pulled images. */
  minAge?: number | string;
  /**
   * Never removed: references or globs (glob as Docker's: `*` does not cross `/`), or a function
   * asked about each image at each run (true: keep it; may return a Promise). Pinned images are
   * never candidates whatever it says.
   */
  keep?: string | readonly string[] | ((image: ImageHandle) => boolean | Promise<boolean>);
  /** Restricts the candidates: reference globs (any) and labels (all). */
  filter?: { reference?: string | readonly string[]; label?: Readonly<Record<string, string>> };
  /**
   * Evict least recently used first until the cache takes at most this on disk: allocated bytes
   * (st_blocks × 512, diskUsage().allocatedBytes, the CLI's df "On disk"); a share is of the file
   * system's size. A shared file goes only with its last user.
   */
  maxBytes?: SpaceAmount;
  /**
   * Evict least recently used first until at least this much is free on the file system holding
   * the cache (statvfs f_bavail × f_frsize: space unprivileged users may take).
   */
  minFreeSpace?: SpaceAmount;
  /** Never shrink the cache (allocated bytes) below this, even when maxBytes/minFreeSpace are unmet. */
  reservedSpace?: SpaceAmount;
}

export interface PruneOptions extends CallOptions, PrunePolicy {
  /** Change nothing; return the report a real run would give now. */
  dryRun?: boolean;
  /**
   * A dry run's report: this run removes only what that plan named and is still eligible (pass
   * the same options); what changed in between is in `skipped` as `in-use-again` (or `pinned`,
   * `kept`, `too-new`).
   */
  plan?: ImagePruneReport;
  /**
   * Ordered policies (BuildKit's semantics): each in turn; one with maxBytes/minFreeSpace (its own,
   * else the top level's) evicts its candidates least recently used first only while those are
   * unmet, one without removes all its candidates. List the cheapest to lose first. Beside it the
   * top level may give keep (for every policy) and the targets (for policies without their own),
   * not olderThan, minAge or filter. An image taken by one policy is reported with its index.
   */
  policies?: readonly PrunePolicy[];
  /**
   * tmp/ entries and flat/ blobs changed within this many ms (or `"1h"`) are left alone (someone may
   * be writing them); default one hour.
   */
  graceMs?: number | string;
  /** Called on the JS thread as work proceeds. */
  onProgress?: (event: PruneProgress) => void;
}

export interface EnsureFreeOptions extends CallOptions {
  /** Free space to keep beyond the bytes asked for: bytes, a size string or a share of the file system. */
  minFreeSpace?: SpaceAmount;
  /** As prune()'s: what may not go. Pinned images never go. */
  keep?: PrunePolicy["keep"];
  minAge?: PrunePolicy["minAge"];
  filter?: PrunePolicy["filter"];
  /** Never shrink the cache below this (then the call may be refused). */
  reservedSpace?: SpaceAmount;
  /** Only plan: resolve with the dry run's report, or reject as a real call would. */
  dryRun?: boolean;
  graceMs?: number | string;
  onProgress?: (event: PruneProgress) => void;
}

/** Targets as resolved for a run, in bytes (null: not given). */
export interface ResolvedTargets {
  maxBytes: number | null;
  minFreeSpace: number | null;
  reservedSpace: number | null;
}

/**
 * report.space: the cache's size on disk (allocated bytes, as diskUsage().allocatedBytes) before and
 * after, and the file system holding it. A dry run's "after" values are what unlinking the files it
 * lists would free; a real run's fsFreeAfter is measured (statvfs) once it is done.
 */
export interface PruneSpace {
  /**
   * The cache's allocated bytes before and after; null for a real run without targets and without a
   * plan (msb's plain prune skips the walk of the cache that measuring costs).
   */
  bytesBefore: number | null;
  bytesAfter: number | null;
  /** statvfs of the cache directory: f_blocks × f_frsize; null when it could not be measured. */
  fsSize: number | null;
  /** f_bavail × f_frsize before the run, and after (predicted in a dry run). */
  fsFreeBefore: number | null;
  fsFreeAfter: number | null;
  /** The top level's targets, resolved (shares of fsSize in bytes). */
  budget: ResolvedTargets;
  /** Each policy's effective targets (its own, else the top level's), resolved. */
  targets: ResolvedTargets[];
  /** Whether every maxBytes and minFreeSpace holds after the run (true when none was given). */
  met: boolean;
}

export interface VerifyProgress {
  phase: "scan" | "check" | "repair";
  done: number;
  total: number;
  bytes: number;
}

export interface VerifyOptions extends CallOptions {
  /**
   * Remove orphan files and stale tmp/ entries (under msb's locks, as prune; msb's lock files
   * stay, even those of artifacts that are gone), and rewrite VMDK descriptors that point into another home when this cache
   * has every file they name. Never deletes what a row, a manifests/*.json or a pin names.
   */
  repair?: boolean;
  /** Files and tmp/ entries changed within this many ms are never called orphans; default one hour. */
  graceMs?: number;
  onProgress?: (event: VerifyProgress) => void;
}

export type VerifyFindingKind =
  | "missing-file"
  | "invalid-erofs"
  | "invalid-metadata"
  | "invalid-digest"
  | "vmdk-mismatch"
  | "vmdk-foreign-path"
  | "orphan-file"
  | "cache-dir-invalid"
  | "stale-tmp"
  | "dangling-manifest"
  | "snapshot-without-manifest";

export interface VerifyFinding {
  kind: VerifyFindingKind;
  /** Absolute path of the file concerned, when there is one. */
  path: string | null;
  /** The manifest digest or layer diff_id concerned. */
  digest: string | null;
  /** References whose images it affects. */
  references: string[];
  message: string;
  /** Apparent bytes of the file(s) concerned. */
  bytes: number;
  /** Whether repair may fix it (orphans, stale tmp entries, a foreign VMDK). */
  repairable: boolean;
  repaired: boolean;
}

export interface VerifyReport {
  /** No finding left unrepaired (dangling manifests, which prune takes, do not count). */
  ok: boolean;
  findings: VerifyFinding[];
  checked: { references: number; manifests: number; layers: number; files: number };
  repaired: { removed: number; rewritten: number; bytesReclaimed: number };
  skipped: (ReportItem & { reason: SkipReason })[];
  errors: (ReportItem & { message: string })[];
  /** True when the signal stopped the repair part-way. */
  aborted: boolean;
  /** True without repair: nothing was changed. */
  dryRun: boolean;
}

export interface ImageCacheOptions {
  /** The microsandbox home (default: MSB_HOME, then config.json's `home`, then ~/.microsandbox). */
  home?: string;
  /** The cache directory (default: config.json's `paths.cache`, then <home>/cache). */
  cacheDir?: string;
}

export interface ImageConfig {
  digest: string | null;
  env: string[];
  cmd: string[] | null;
  entrypoint: string[] | null;
  workingDir: string | null;
  user: string | null;
  labels: Record<string, string> | null;
  stopSignal: string | null;
}

export interface ImageLayer {
  diffId: string;
  blobDigest: string;
  mediaType: string | null;
  compressedSizeBytes: number | null;
  /** From the layer file's EROFS superblock (msb never fills the column); null when missing or invalid. */
  erofsSizeBytes: number | null;
  /** 0 = bottom layer. */
  position: number;
}

/**
 * What a report item is: an image artifact (`reference`, `manifest`, `layer`, `fsmeta`, `vmdk`,
 * `metadata`: a manifests/*.json, `blob`: a layer's leftover .tar.gz download), or a file the
 * sweep or verify looked at (`tmp`, `flat-ref`, `flat-blob`, `lock`, `orphan`).
 */
export type ReportItemKind =
  | "reference"
  | "manifest"
  | "layer"
  | "fsmeta"
  | "vmdk"
  | "metadata"
  | "blob"
  | "tmp"
  | "flat-ref"
  | "flat-blob"
  | "lock"
  | "orphan";

/**
 * Why a remove, prune or verify left an item in place (docs/api.md#removal-reports): `pinned`,
 * `kept`, `too-new` (references; verify: files changed within graceMs), `locked` (another process
 * holds msb's lock), `in-use-again` (a row or a fresh write names it again), `in-use-by-files` (files
 * of an image msb is still writing name it), `in-use` (a load/save staging file whose process is
 * running), `unreadable` (a flat/refs file that could not be read: no flat blob is swept), `aborted`.
 */
export type SkipReason =
  | "pinned"
  | "kept"
  | "too-new"
  | "locked"
  | "in-use-again"
  | "in-use-by-files"
  | "in-use"
  | "unreadable"
  | "aborted";

/** Why remove() kept part of an image: `referenced` (another reference), `pinned`, `shared` (a layer). */
export type KeptReason = "referenced" | "pinned" | "shared";

/** One item a remove or prune left alone, and why. */
export interface ReportItem {
  kind: ReportItemKind;
  id: string;
}

export interface ImagePruneReport {
  imageRefsRemoved: number;
  manifestsRemoved: number;
  /** Layer rows deleted. */
  layersRemoved: number;
  /** fsmeta files unlinked. */
  fsmetaRemoved: number;
  /** VMDK descriptors unlinked. */
  vmdkRemoved: number;
  /** Apparent bytes of the files unlinked; null when no file was deleted. */
  bytesReclaimed: number | null;
  /** Layer .erofs files unlinked. */
  layerFilesRemoved: number;
  /** manifests/*.json files unlinked. */
  metadataRemoved: number;
  /**
   * Left in place: references (`pinned`, `kept`, `too-new`) and files (`locked`: another process
   * holds msb's lock; `in-use-again`: a row or a fresh write names it again; `in-use-by-files`: files of an
   * image msb is still writing, whose rows are not there yet, name it; `aborted`).
   */
  skipped: (ReportItem & { reason: SkipReason })[];
  /** Files that could not be deleted; one failure never stops the others. */
  errors: (ReportItem & { message: string })[];
  /** flat/refs of removed manifests and flat/blobs no ref names any more, unlinked. */
  flatRemoved: number;
  /** Stale tmp/ entries (unchanged for graceMs, not locked) removed. */
  tmpRemoved: number;
  /** True for a dry run: nothing was changed. */
  dryRun: boolean;
  /** True when the signal stopped the prune part-way; the counts say what was done. */
  aborted: boolean;
  /** The cache's size and the file system's free space before and after, and the targets; null only when an abort came before anything was measured. */
  space: PruneSpace | null;
  /** What went, with the bytes of each artifact's files. */
  removed: {
    /** policy: the index in `policies` of the policy that took it (0 without policies). */
    references: { reference: string; manifestDigest: string; policy: number }[];
    manifests: { digest: string; bytes: number }[];
    layers: { diffId: string; bytes: number }[];
    /** tmp/ and flat/ entries: kind "tmp", "flat-ref" or "flat-blob", path relative to the cache. */
    files: { kind: "tmp" | "flat-ref" | "flat-blob"; path: string; bytes: number }[];
  };
}

export interface ImageRemoveReport extends Omit<ImagePruneReport, "space"> {
  /** The stored reference that was removed. */
  reference: string;
  manifestDigest: string | null;
  /** Whether the manifest's rows went too (false while other references or pins need it). */
  manifestRemoved: boolean;
  /** What stayed and why: the manifest (`referenced`, `pinned`), layers (`shared`), metadata (`referenced`). */
  kept: (ReportItem & { reason: KeptReason })[];
}

/** What the cache holds on disk (apparent sizes unless said otherwise). */
export interface DiskUsage {
  /** Apparent bytes (st_size) of the cache's files. */
  totalBytes: number;
  /**
   * Blocks actually allocated (st_blocks × 512): the size on disk, what prune()'s maxBytes and
   * reservedSpace measure and what the file system's free space moves by.
   */
  allocatedBytes: number;
  /** orphans: files no row or reference names (leftover downloads, crashed writes). */
  byKind: { layers: number; fsmeta: number; vmdk: number; metadata: number; flat: number; tmp: number; orphans: number; locks: number };
  /** One entry per reference, newest first. */
  images: {
    reference: string;
    manifestDigest: string;
    lastUsedAt: Date | null;
    /** The virtual disk's size from the VMDK descriptor (Σ sectors × 512); null when missing or unreadable. */
    virtualBytes: number | null;
    /** Files only this reference uses. */
    uniqueBytes: number;
    /** Files other references use too (shared layers, a manifest with several tags, shared metadata). */
    sharedBytes: number;
    /** What keeps it: "sandbox:<name>", "snapshot:<name or digest>". */
    pinnedBy: string[];
  }[];
  /** The bytesReclaimed prune() with no options would report now (each file once). */
  reclaimableBytes: number;
}
