// Typed errors. Every error this library raises extends ImageCacheError and has a `code` from
// ImageCacheErrorCode; the two from the official SDK keep its codes ("imageNotFound", "imageInUse").

/** Every `code` an ImageCacheError can carry (docs/api.md#errors says when each is raised). */
export type ImageCacheErrorCode =
  | "imageNotFound"
  | "imageInUse"
  | "invalidReference"
  | "ambiguousReference"
  | "database"
  | "databaseCorrupt"
  | "databaseBusy"
  | "databaseReadOnly"
  | "schemaUnsupported"
  | "maintenanceInProgress"
  | "homeConfig"
  | "homeNotFound"
  | "cacheDirInvalid"
  | "permissionDenied"
  | "insufficientSpace"
  | "cacheUnmeasurable"
  | "pruneInProgress"
  | "cacheClosed"
  | "collectorStopped"
  | "aborted"
  | "internal";

/** The codes a DatabaseError carries. */
export type DatabaseErrorCode = "database" | "databaseCorrupt" | "databaseBusy" | "databaseReadOnly";

export class ImageCacheError extends Error {
  readonly code: ImageCacheErrorCode;
  constructor(message: string, code: ImageCacheErrorCode, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
  override get name(): string {
    return this.constructor.name;
  }
}

/** No image by that reference. */
export class ImageNotFoundError extends ImageCacheError {
  declare readonly code: "imageNotFound";
  readonly reference: string;
  constructor(message: string, reference: string) {
    super(message, "imageNotFound");
    this.reference = reference;
  }
}

/** remove() without force of an image a sandbox or snapshot still uses. */
export class ImageInUseError extends ImageCacheError {
  declare readonly code: "imageInUse";
  readonly reference: string;
  /** Names of the sandboxes using the image. */
  readonly sandboxes: readonly string[];
  /** Names (or digests, when unnamed) of the snapshots made from the image. */
  readonly snapshots: readonly string[];
  constructor(message: string, reference: string, sandboxes: string[], snapshots: string[]) {
    super(message, "imageInUse");
    this.reference = reference;
    this.sandboxes = Object.freeze([...sandboxes]);
    this.snapshots = Object.freeze([...snapshots]);
  }
}

/** Not an image reference: empty, blank, too long, control characters, or bad syntax. */
export class InvalidReferenceError extends ImageCacheError {
  declare readonly code: "invalidReference";
  readonly reference: unknown;
  constructor(message: string, reference: unknown) {
    super(message, "invalidReference");
    this.reference = reference;
  }
}

/** The reference matches several cached images (by normalized form or by digest). */
export class AmbiguousReferenceError extends ImageCacheError {
  declare readonly code: "ambiguousReference";
  readonly reference: string;
  readonly candidates: readonly string[];
  constructor(message: string, reference: string, candidates: string[]) {
    super(message, "ambiguousReference");
    this.reference = reference;
    this.candidates = Object.freeze([...candidates]);
  }
}

/**
 * The database failed: `code` is "database" (generic, as in the official SDK),
 * "databaseCorrupt", "databaseBusy" (locked past the 5 s timeout) or "databaseReadOnly".
 */
export class DatabaseError extends ImageCacheError {
  declare readonly code: DatabaseErrorCode;
  /** SQLite's extended result code, when SQLite reported the failure. */
  readonly sqliteCode: number | undefined;
  constructor(message: string, code: DatabaseErrorCode, sqliteCode?: number) {
    super(message, code);
    this.sqliteCode = sqliteCode;
  }
}

/** The database lacks tables or columns this library reads; `missing` names them. */
export class SchemaError extends ImageCacheError {
  declare readonly code: "schemaUnsupported";
  readonly missing: readonly string[];
  constructor(message: string, missing: string[]) {
    super(message, "schemaUnsupported");
    this.missing = Object.freeze([...missing]);
  }
}

/** microsandbox holds its install_exclusive maintenance lease: no changes now. */
export class MaintenanceError extends ImageCacheError {
  declare readonly code: "maintenanceInProgress";
  constructor(message: string) {
    super(message, "maintenanceInProgress");
  }
}

/** config.json cannot be read or has the wrong shape. */
export class HomeConfigError extends ImageCacheError {
  declare readonly code: "homeConfig";
  constructor(message: string) {
    super(message, "homeConfig");
  }
}

/**
 * A home given explicitly (the `home` option, CLI `--home`, `MSB_HOME`, config.json's `home`) does not
 * exist or is not a directory, or the default home is not a directory. Only the implicit default
 * `~/.microsandbox` may be absent (msb not used yet: no images).
 */
export class HomeNotFoundError extends ImageCacheError {
  /** The home path as resolved. */
  readonly path: string;
  constructor(message: string, path: string) {
    super(message, "homeNotFound");
    this.path = path;
  }
}

/** Why a cache directory cannot be msb's: absent, a file, or a directory without msb's subdirectories. */
export type CacheDirProblem = "missing" | "not-a-directory" | "not-msb-layout";

/**
 * The cache directory is missing, not a directory, or not msb's layout while the database lists images:
 * writes (remove, prune, also a dry run, verify's repair) and diskUsage refuse, changing nothing.
 */
export class CacheDirError extends ImageCacheError {
  /** The cache directory as resolved. */
  readonly path: string;
  readonly problem: CacheDirProblem;
  constructor(message: string, path: string, problem: CacheDirProblem) {
    super(message, "cacheDirInvalid");
    this.path = path;
    this.problem = problem;
  }
}

/** The operating system refused access; `path` is the refused one (a file, or the directory that may not be entered). */
export class PermissionDeniedError extends ImageCacheError {
  readonly path: string;
  constructor(message: string, path: string) {
    super(message, "permissionDenied");
    this.path = path;
  }
}

/** Another prune of the same cache is running (in this or another process). */
export class PruneInProgressError extends ImageCacheError {
  declare readonly code: "pruneInProgress";
  constructor(message: string) {
    super(message, "pruneInProgress");
  }
}

/** The ImageCache was closed. */
export class CacheClosedError extends ImageCacheError {
  declare readonly code: "cacheClosed";
  constructor() {
    super("this ImageCache is closed; create a new one to keep using the cache", "cacheClosed");
  }
}

/**
 * ensureFree() could not make the room asked for; it removed nothing. The plan (a dry run) shows what
 * least-recently-used eviction could reach and what stood in the way.
 */
export class InsufficientSpaceError extends ImageCacheError {
  /** Bytes asked for (plus minFreeSpace, resolved): the free space the call needed. */
  readonly requested: number;
  /** Free bytes on the file system holding the cache now. */
  readonly free: number;
  /** Free bytes evicting every image it could would have given. */
  readonly available: number;
  /** requested − available. */
  readonly shortBy: number;
  /** References that could not go, and why: used by sandboxes or snapshots, kept, or newer than minAge. */
  readonly pinned: string[];
  readonly kept: string[];
  readonly tooNew: string[];
  constructor(
    message: string,
    details: { requested: number; free: number; available: number; pinned: string[]; kept: string[]; tooNew: string[] },
  ) {
    super(message, "insufficientSpace");
    this.requested = details.requested;
    this.free = details.free;
    this.available = details.available;
    this.shortBy = Math.max(0, details.requested - details.available);
    this.pinned = details.pinned;
    this.kept = details.kept;
    this.tooNew = details.tooNew;
  }
}

/** The call's AbortSignal fired. `report` holds what was already done, for remove and prune. */
export class AbortError extends ImageCacheError {
  declare readonly code: "aborted";
  readonly report: unknown;
  constructor(message = "the operation was aborted", options?: { cause?: unknown; report?: unknown }) {
    super(message, "aborted", { cause: options?.cause });
    this.report = options?.report;
  }
  override get name(): string {
    return "AbortError";
  }
}

interface NativeErrorShape {
  message: string;
  code?: string;
  reference?: string;
  sandboxes?: string[];
  snapshots?: string[];
  candidates?: string[];
  missing?: string[];
  sqliteCode?: number;
  path?: string;
  problem?: string;
}

/** The typed error for a rejection from the addon. */
export function fromNative(err: unknown): Error {
  if (!(err instanceof Error)) return new ImageCacheError(String(err), "internal");
  const e = err as Error & NativeErrorShape;
  switch (e.code) {
    case "imageNotFound":
      return new ImageNotFoundError(e.message, e.reference ?? "");
    case "imageInUse":
      return new ImageInUseError(e.message, e.reference ?? "", e.sandboxes ?? [], e.snapshots ?? []);
    case "ambiguousReference":
      return new AmbiguousReferenceError(e.message, e.reference ?? "", e.candidates ?? []);
    case "database":
    case "databaseCorrupt":
    case "databaseBusy":
    case "databaseReadOnly":
      return new DatabaseError(e.message, e.code, e.sqliteCode);
    case "schemaUnsupported":
      return new SchemaError(e.message, e.missing ?? []);
    case "maintenanceInProgress":
      return new MaintenanceError(e.message);
    case "homeConfig":
      return new HomeConfigError(e.message);
    case "homeNotFound":
      return new HomeNotFoundError(e.message, e.path ?? "");
    case "cacheDirInvalid":
      return new CacheDirError(e.message, e.path ?? "", (e.problem ?? "missing") as CacheDirProblem);
    case "permissionDenied":
      return new PermissionDeniedError(e.message, e.path ?? "");
    case "pruneInProgress":
      return new PruneInProgressError(e.message);
    case "cacheClosed":
      return new CacheClosedError();
    case "aborted":
      return new AbortError(e.message);
    default:
      // A code this version does not map to a class (a newer addon's) still arrives as its code.
      return new ImageCacheError(e.message, (e.code ?? "internal") as ImageCacheErrorCode, { cause: err });
  }
}

/**
 * Rewrites `err.stack` to the frames captured when the public method was called, so a
 * rejection from the thread pool points at the caller's code rather than at internals.
 */
export function withCallSite<E extends Error>(err: E, site: { stack?: string }): E {
  const frames = site.stack?.split("\n").slice(1).join("\n");
  if (frames) err.stack = `${err.name}: ${err.message}\n${frames}`;
  return err;
}
