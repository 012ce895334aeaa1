// Shapes of the plain objects the addon resolves with (native/runtime/js_values.h, op_inspect.cc,
// removal.cc). The facade turns them into the public types.
import type { RawColumns } from "./columns";
import type { ImagePruneReport, KeptReason, ReportItemKind, SkipReason, VerifyReport } from "./types";

export interface RawImage {
  reference: string;
  manifestDigest: string | null;
  architecture: string | null;
  os: string | null;
  layerCount: number | null;
  sizeBytes: number | null;
  createdAt: number | null; // epoch ms
  lastUsedAt: number | null;
  /** The nanoseconds below the millisecond (0..999999) that a Date cannot hold; 0 when null. */
  createdAtSubMsNanos?: number;
  lastUsedAtSubMsNanos?: number;
}

/**
 * list()'s result in columns (native/runtime/js_values.h ImageColumns). Row i's strings are
 * `text[offsets[8i + 2k] .. offsets[8i + 2k + 1])` for k = reference, manifestDigest, architecture,
 * os (start -1: null); its numbers `numbers[6i + k]` for k = layerCount, sizeBytes, createdAt,
 * lastUsedAt (NaN: null), createdAtSubMsNanos, lastUsedAtSubMsNanos.
 */
export interface RawImageColumns {
  count: number;
  text: ArrayBuffer;
  offsets: Int32Array;
  numbers: Float64Array;
  /** A Buffer view of `text`, made by the facade at the first decode (typed structurally, so the
   *  published .d.ts does not need @types/node). */
  textBuffer?: { toString(encoding: "utf8", start: number, end: number): string };
}

export interface RawConfig {
  digest: string | null;
  env: string | null; // JSON text as stored
  cmd: string | null;
  entrypoint: string | null;
  workingDir: string | null;
  user: string | null;
  labels: string | null;
  stopSignal: string | null;
}

export interface RawLayer {
  diffId: string;
  blobDigest: string;
  mediaType: string | null;
  compressedSizeBytes: number | null;
  erofsSizeBytes: number | null;
  position: number;
}

export interface RawDetail {
  image: RawImage;
  config: RawConfig | null;
  layers: RawLayer[];
}

// The addon's kinds and reasons are the public unions (lib/types.ts lists what native/ emits).
export interface RawItem {
  kind: ReportItemKind;
  id: string;
}

export interface RawRemovalReport {
  imageRefsRemoved: number;
  manifestsRemoved: number;
  layersRemoved: number;
  fsmetaRemoved: number;
  vmdkRemoved: number;
  bytesReclaimed: number | null;
  layerFilesRemoved: number;
  metadataRemoved: number;
  aborted: boolean;
  dryRun: boolean;
  progressEvents?: number; // prune: onProgress calls queued
  flatRemoved: number;
  tmpRemoved: number;

  /** prune only (op_prune.cc Space). */
  space?: import("./types").PruneSpace;
  /** references: 2 strings (reference, manifestDigest), 1 number (policy); manifests and layers: 1 string, 1 number (bytes). */
  removed: {
    references: RawColumns;
    manifests: RawColumns;
    layers: RawColumns;
    files: ImagePruneReport["removed"]["files"];
    /** prune: the names went to onRemovedLists already; manifests and layers hold only their bytes (1 number). */
    listsSent?: boolean;
  };
  reference: string | null;
  manifestDigest: string | null;
  kept: (RawItem & { reason: KeptReason })[];
  skipped: (RawItem & { reason: SkipReason })[];
  errors: (RawItem & { message: string })[];
}

export interface RawDiskUsage {
  totalBytes: number;
  allocatedBytes: number;
  byKind: { layers: number; fsmeta: number; vmdk: number; metadata: number; flat: number; tmp: number; orphans: number; locks: number };
  /**
   * One entry per reference, newest first, in columns (lib/columns.ts): 2 strings (reference,
   * manifestDigest), 4 numbers (lastUsedAt in epoch ms, virtualBytes, uniqueBytes, sharedBytes; NaN:
   * null); `pins[i]` its pins, for pinned entries only.
   */
  images: RawColumns & { pins: Record<number, string[]> };
  reclaimableBytes: number;
}

/** verify()'s result as the addon returns it: the public report plus the progress count. */
export type RawVerifyReport = VerifyReport & { progressEvents: number };

/** What prune's onRemovedLists receives (RemovedListsChannel): references as in the report, manifests and layers 1 string each. */
export interface RawRemovedLists {
  references: RawColumns;
  manifests: RawColumns;
  layers: RawColumns;
}
