// Public types that are plain data (the classes are in image.ts, the errors in errors.ts).

export interface CallOptions {
  /** Aborts the call (the Go SDK's ctx). */
  signal?: AbortSignal;
}

export interface RemoveOptions extends CallOptions {
  /** Remove the reference even when sandboxes or snapshots use the image. */
  force?: boolean;
}

export type PruneOptions = CallOptions;

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

/** One item a remove or prune left alone, and why. */
export interface ReportItem {
  kind: "manifest" | "layer" | "fsmeta" | "vmdk" | "metadata" | string;
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
  /** Files left in place: `locked` (another process holds msb's lock), `in-use-again` (a row or a fresh write names it again). */
  skipped: (ReportItem & { reason: string })[];
  /** Files that could not be deleted; one failure never stops the others. */
  errors: (ReportItem & { message: string })[];
}

export interface ImageRemoveReport extends ImagePruneReport {
  /** The stored reference that was removed. */
  reference: string;
  manifestDigest: string | null;
  /** Whether the manifest's rows went too (false while other references or pins need it). */
  manifestRemoved: boolean;
  /** What stayed and why: the manifest (`referenced`, `pinned`), layers (`shared`), metadata (`referenced`). */
  kept: (ReportItem & { reason: string })[];
}
