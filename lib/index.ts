// msb-image-cache: list, inspect, remove and prune microsandbox's cached OCI images.
import { ImageCache } from "./cache";

export { ImageCache } from "./cache";
export { ImageDetail, ImageHandle, type ImageHandleJSON } from "./image";
export {
  AbortError,
  AmbiguousReferenceError,
  CacheClosedError,
  DatabaseError,
  HomeConfigError,
  ImageCacheError,
  ImageInUseError,
  ImageNotFoundError,
  InsufficientSpaceError,
  InvalidReferenceError,
  MaintenanceError,
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
} from "./types";

/**
 * The host's image cache: MSB_HOME, else config.json's `home`, else ~/.microsandbox, resolved
 * at the first call. `Image.get("python:3.12")`, like the Go SDK's package-level `Image`.
 */
export const Image: ImageCache = new ImageCache();
