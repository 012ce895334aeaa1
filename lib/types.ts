// Public types that are plain data (the classes are in image.ts, the errors in errors.ts).

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

export interface PruneOptions extends CallOptions {
  /** Change nothing; return the report a real run would give now. */
  dryRun?: boolean;
  /**
   * A dry run's report: this run removes only what that plan named and is still eligible (pass
   * the same options); what changed in between is in `skipped` as `in-use-again` (or `pinned`,
   * `kept`, `too-new`).
   */
  plan?: ImagePruneReport;
  /** Only images whose lastUsedAt is older: a duration in ms, or a Date. */
  olderThan?: number | Date;
  /** Never remove a reference created less than this many ms ago (grace for just-pulled images). */
  minAge?: number;
  /**
   * Evict unpinned images, least recently used first, until the cache's on-disk total
   * (diskUsage().totalBytes) is at most this; a shared file goes only with its last user.
   */
  maxBytes?: number;
  /** References or globs never removed (glob as Docker's: `*` does not cross `/`). */
  keep?: string | readonly string[];
  /** Restricts the candidates: reference globs (any) and labels (all). */
  filter?: { reference?: string | readonly string[]; label?: Readonly<Record<string, string>> };
  /**
   * tmp/ entries and flat/ blobs changed within this many ms are left alone (someone may be
   * writing them); default one hour.
   */
  graceMs?: number;
  /** Called on the JS thread as work proceeds. */
  onProgress?: (event: PruneProgress) => void;
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
  /** What went, with the bytes of each artifact's files. */
  removed: {
    references: { reference: string; manifestDigest: string }[];
    manifests: { digest: string; bytes: number }[];
    layers: { diffId: string; bytes: number }[];
    /** tmp/ and flat/ entries: kind "tmp", "flat-ref" or "flat-blob", path relative to the cache. */
    files: { kind: "tmp" | "flat-ref" | "flat-blob"; path: string; bytes: number }[];
  };
}

export interface ImageRemoveReport extends ImagePruneReport {
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
  totalBytes: number;
  /** Blocks actually allocated (st_blocks × 512). */
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
