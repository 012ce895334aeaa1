// ESM entry: the CommonJS build's exports, so `import` and `require` share one module instance.
import cjs from "./index.js";

export const {
  AbortError,
  AmbiguousReferenceError,
  CacheClosedError,
  DatabaseError,
  HomeConfigError,
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
  PruneInProgressError,
  SchemaError,
} = cjs;
export default cjs;
