// ESM entry: the CommonJS build's exports, so `import` and `require` share one module instance.
import cjs from "./index.js";

export const {
  AbortError,
  AmbiguousReferenceError,
  CacheClosedError,
  CacheDirError,
  Collector,
  CollectorStoppedError,
  DatabaseError,
  HomeConfigError,
  HomeNotFoundError,
  Image,
  ImageCache,
  ImageCacheError,
  ImageDetail,
  ImageHandle,
  ImageInUseError,
  ImageNotFoundError,
  InsufficientSpaceError,
  InvalidReferenceError,
  MaintenanceError,
  METRICS_CONTENT_TYPE,
  PermissionDeniedError,
  PruneInProgressError,
  registerPromClient,
  SchemaError,
} = cjs;
export default cjs;
