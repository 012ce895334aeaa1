// Loads the compiled addon: a prebuild from prebuilds/<platform>-<arch>/ when one matches, else
// build/Release from a source build (node-gyp-build's rules).
import * as path from "node:path";
import nodeGypBuild from "node-gyp-build";

import type { RawDetail, RawImage, RawRemovalReport } from "./raw";

export interface NativeImageCache {
  list(cancel?: Int32Array): Promise<RawImage[]>;
  get(reference: string, cancel?: Int32Array): Promise<RawImage>;
  inspect(reference: string, cancel?: Int32Array): Promise<RawDetail>;
  remove(reference: string, force: boolean, cancel?: Int32Array): Promise<RawRemovalReport>;
  prune(options: NativePruneOptions, cancel?: Int32Array): Promise<RawRemovalReport>;
  close(): Promise<void>;
}

/** What op_prune.cc reads (validated and converted by validate.ts). */
export interface NativePruneOptions {
  dryRun?: boolean;
  lastUsedBeforeMs?: number;
  createdAfterMs?: number;
  keep?: string[];
  referenceGlobs?: string[];
  labelsJson?: string;
  labelCount?: number;
  onProgress?: (event: { phase: string; done: number; total: number; bytes: number }) => void;
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
    const libc = glibcVersion();
    throw new Error(
      `msb-image-cache: no native addon for ${process.platform}-${process.arch} (libc: ${libc}, Node ${process.version}). ` +
        `Looked in ${path.join(root, "prebuilds")} and ${path.join(root, "build")}. ` +
        `Build it from the vendored sources with \`npm rebuild msb-image-cache\` (needs python3, make and a C++17 compiler).`,
      { cause },
    );
  }
}

function glibcVersion(): string {
  const header = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header;
  return header?.glibcVersionRuntime ? `glibc ${header.glibcVersionRuntime}` : "musl or other";
}

export const binding: Binding = load();
