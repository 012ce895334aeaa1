// msb-image-cache: list, inspect, remove and prune microsandbox's cached OCI images.
import { ImageCache, makeReopenable } from "./cache";

export { ImageCache } from "./cache";
export { ImageDetail, ImageHandle, type ImageHandleJSON } from "./image";
export {
  Collector,
  CollectorStoppedError,
  type CachePaths,
  type CollectorCheck,
  type CollectorEvents,
  type CollectorListener,
  type CollectorOptions,
  type CollectorRunReport,
  type CollectorStats,
  type FileSystemSpace,
} from "./collector";
export {
  METRICS_CONTENT_TYPE,
  registerPromClient,
  type MetricsSource,
  type PromClientLike,
  type PromCounterLike,
  type PromGaugeLike,
  type RegisterPromClientOptions,
} from "./metrics";
export {
  AbortError,
  AmbiguousReferenceError,
  CacheClosedError,
  CacheDirError,
  type CacheDirProblem,
  DatabaseError,
  type DatabaseErrorCode,
  HomeConfigError,
  HomeNotFoundError,
  ImageCacheError,
  type ImageCacheErrorCode,
  ImageInUseError,
  ImageNotFoundError,
  InsufficientSpaceError,
  InvalidReferenceError,
  MaintenanceError,
  PermissionDeniedError,
  PruneInProgressError,
  SchemaError,
} from "./errors";
export type {
  CallOptions,
  DiskUsage,
  EnsureFreeOptions,
  ImageCacheOptions,
  ImageConfig,
  ImageLayer,
  ImagePruneReport,
  ImageRemoveReport,
  KeptReason,
  PruneOptions,
  PrunePolicy,
  PruneSpace,
  ResolvedTargets,
  SpaceAmount,
  PruneProgress,
  VerifyFinding,
  VerifyFindingKind,
  VerifyOptions,
  VerifyProgress,
  VerifyReport,
  RemoveOptions,
  ReportItem,
  ReportItemKind,
  SkipReason,
} from "./types";

/**
 * The host's image cache: MSB_HOME, else config.json's `home`, else ~/.microsandbox, resolved
 * at the first call. `Image.get("python:3.12")`, like the Go SDK's package-level `Image`.
 * Shared by the whole process, so `Image.close()` cannot end it: close releases its connections
 * and the next call reopens them (resolving the home again).
 */
export const Image: ImageCache = makeReopenable(new ImageCache());
