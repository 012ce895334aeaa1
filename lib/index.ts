// msb-image-cache: list, inspect, remove and prune microsandbox's cached OCI images.
import { ImageCache } from "./cache";

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
  DatabaseError,
  HomeConfigError,
  ImageCacheError,
  ImageInUseError,
  ImageNotFoundError,
  InvalidReferenceError,
  MaintenanceError,
  PruneInProgressError,
  SchemaError,
} from "./errors";
export type {
  CallOptions,
  DiskUsage,
  ImageCacheOptions,
  ImageConfig,
  ImageLayer,
  ImagePruneReport,
  ImageRemoveReport,
  PruneOptions,
  PruneProgress,
  VerifyFinding,
  VerifyFindingKind,
  VerifyOptions,
  VerifyProgress,
  VerifyReport,
  RemoveOptions,
  ReportItem,
} from "./types";

/**
 * The host's image cache: MSB_HOME, else config.json's `home`, else ~/.microsandbox, resolved
 * at the first call. `Image.get("python:3.12")`, like the Go SDK's package-level `Image`.
 */
export const Image: ImageCache = new ImageCache();
