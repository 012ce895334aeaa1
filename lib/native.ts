// Loads the compiled addon: a prebuild from prebuilds/<platform>-<arch>/ when one matches, else
// build/Release from a source build (node-gyp-build's rules).
import * as fs from "node:fs";
import * as path from "node:path";
import nodeGypBuild from "node-gyp-build";

import type { RawDetail, RawImage, RawImageColumns, RawDiskUsage, RawRemovalReport, RawRemovedLists, RawVerifyReport } from "./raw";

export interface NativeImageCache {
  list(cancel?: Int32Array): Promise<RawImageColumns>;
  get(reference: string, cancel?: Int32Array): Promise<RawImage>;
  inspect(reference: string, cancel?: Int32Array): Promise<RawDetail>;
  remove(reference: string, force: boolean, cancel?: Int32Array): Promise<RawRemovalReport>;
  prune(options: NativePruneOptions, cancel?: Int32Array): Promise<RawRemovalReport>;
  diskUsage(cancel?: Int32Array): Promise<RawDiskUsage>;
  verify(options: NativeVerifyOptions, cancel?: Int32Array): Promise<RawVerifyReport>;
  close(): Promise<void>;
  /** The resolved home, database and cache directory (collector, metrics). */
  paths(): Promise<{ home: string; configPath: string; dbPath: string; cacheDir: string }>;
}

export type NativeProgressFn = (event: { phase: string; done: number; total: number; bytes: number }) => void;

/** What op_verify.cc reads. */
export interface NativeVerifyOptions {
  repair?: boolean;
  graceMs?: number;
  onProgress?: NativeProgressFn;
}

/** A space target: bytes, a share (0..100) of the size of the file system holding the cache, or their sum. */
export type NativeAmount = { bytes: number } | { percent: number } | { bytes: number; percent: number };

/** One policy of a prune (op_prune.cc). `judged`: the references a keep function was asked about. */
export interface NativePrunePolicy {
  lastUsedBeforeMs?: number;
  createdAfterMs?: number;
  keep?: string[];
  judged?: string[];
  referenceGlobs?: string[];
  labelsJson?: string;
  labelCount?: number;
  maxBytes?: NativeAmount;
  minFreeSpace?: NativeAmount;
  reservedSpace?: NativeAmount;
}

/** What op_prune.cc reads (validated and converted by validate.ts). */
export interface NativePruneOptions {
  dryRun?: boolean;
  /** In order; at least one (the top level's selectors when no policies were given). */
  policies?: NativePrunePolicy[];
  /** Targets every policy without its own uses. */
  maxBytes?: NativeAmount;
  minFreeSpace?: NativeAmount;
  reservedSpace?: NativeAmount;
  plan?: {
    references: string[];
    referenceDigests: string[];
    manifests: string[];
    layers: string[];
    manifestsJson: string;
    layersJson: string;
  };
  graceMs?: number;
  onProgress?: NativeProgressFn;
  /** Internal: report.removed's names, as soon as the rows are gone (lib/cache.ts EarlyRemovedLists). */
  onRemovedLists?: (lists: RawRemovedLists) => void;
}

export interface NativeHomeOptions {
  home?: string;
  cacheDir?: string;
  envMsbHome?: string;
  envConfigPath?: string;
  userHome?: string;
}

export interface ErofsInfo {
  valid: boolean;
  problem: string | null;
  imageBytes: number;
  blkszbits: number;
  blocks: number;
  rootNid: number;
  metaBlkaddr: number;
  featureIncompat: number;
  devices: { blocks: number; mappedBlkaddr: number }[];
}

export interface VmdkDescriptor {
  ok: boolean;
  error: string | null;
  createType: string;
  extents: { access: string; sectors: number; type: string; path: string; offset: number }[];
  virtualBytes: number;
}

/** Pure, memory-only readers shared with the native operations (for validation and tests). */
export interface NativeFormats {
  inspectErofs(image: Buffer): ErofsInfo;
  parseVmdk(text: string): VmdkDescriptor;
  normalizeReference(reference: string): string | null;
  metadataFileName(reference: string): string | null;
  isValidDigest(digest: string): boolean;
  parseTimestamp(text: string): number | null;
  /** The same instant with the nanoseconds below the millisecond (0..999999). */
  parseTimestampPrecise(text: string): { ms: number; subMsNanos: number } | null;
}

interface Binding {
  NativeImageCache: new (options: NativeHomeOptions) => NativeImageCache;
  formats: NativeFormats;
}

function load(): Binding {
  const root = path.join(__dirname, "..");
  try {
    return nodeGypBuild(root) as Binding;
  } catch (cause) {
    throw new Error(loadErrorMessage(root, cause), { cause });
  }
}

/**
 * Says what node-gyp-build looked for (its order: build/Release, build/Debug, then the prebuild for this
 * platform-arch), what it found there, what this host is, and how to build from source.
 */
function loadErrorMessage(root: string, cause: unknown): string {
  const platform = process.env.npm_config_platform || process.platform;
  const arch = process.env.npm_config_arch || process.arch;
  const tuple = `${platform}-${arch}`;
  // The libc tag node-gyp-build accepts: $LIBC, else musl on Alpine, else glibc.
  const libcTag = process.env.LIBC || (platform === "linux" && fs.existsSync("/etc/alpine-release") ? "musl" : "glibc");
  const listing = (dir: string): string => {
    try {
      const names = fs.readdirSync(dir);
      return names.length ? `found: ${names.join(", ")}` : "empty";
    } catch {
      return "missing";
    }
  };
  const release = path.join(root, "build", "Release");
  const debug = path.join(root, "build", "Debug");
  const prebuilds = path.join(root, "prebuilds");
  const reason = cause instanceof Error ? cause.message.split("\n")[0] : String(cause);
  return [
    `msb-image-cache: could not load the native addon for ${tuple} (libc: ${detectLibc()}, Node ${process.version}, ` +
      `N-API ${process.versions.napi}, ABI ${process.versions.modules}): ${reason}`,
    "Looked for, in this order:",
    `  ${release}/*.node (${listing(release)})`,
    `  ${debug}/*.node (${listing(debug)})`,
    `  ${path.join(prebuilds, tuple)}/*.node with libc tag ${libcTag} or none, and abi tag ` +
      `abi${process.versions.modules}, napi or none, e.g. msb-image-cache.${libcTag}.node (${listing(path.join(prebuilds, tuple))})`,
    `  (${prebuilds}: ${listing(prebuilds)})`,
    "Build it from the vendored sources (needs python3, make and a C++17 compiler):",
    "  npm rebuild msb-image-cache",
    "  (from the project that installed it; node-gyp fetches Node's headers unless npm_config_nodedir points at a",
    "  local Node install, e.g. npm_config_nodedir=/usr; set LIBC=musl or glibc if the libc above is wrong)",
  ].join("\n");
}

/** "glibc <version>", "musl", "none" (not Linux) or "unknown": the C library this process runs on. */
function detectLibc(): string {
  if (process.platform !== "linux") return "none";
  const header = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header;
  if (header?.glibcVersionRuntime) return `glibc ${header.glibcVersionRuntime}`;
  try {
    if (fs.readdirSync("/lib").some((n) => n.startsWith("ld-musl-"))) return "musl";
  } catch {
    // no /lib: fall through
  }
  return "unknown";
}

export const binding: Binding = load();
