// ESM entry: the CommonJS build's exports, so `import` and `require` share one module instance.
import cjs from "./index.js";

export const {
  AbortError,
  AmbiguousReferenceError,
  CacheClosedError,
  Collector,
  CollectorStoppedError,
  DatabaseError,
  HomeConfigError,
  Image,
  ImageCache,
  ImageCacheError,
  ImageDetail,
  ImageHandle,
  ImageInUseError,
  ImageNotFoundError,
  InvalidReferenceError,
  MaintenanceError,
  METRICS_CONTENT_TYPE,
  PruneInProgressError,
  registerPromClient,
  SchemaError,
} = cjs;
export default cjs;
