// ImageHandle and ImageDetail: read-only views over what the addon returned.
// node:util's inspect.custom (a registered symbol), without importing node:util's types into the
// published .d.ts: the public API must compile for a user without @types/node.
const inspectCustom: unique symbol = Symbol.for("nodejs.util.inspect.custom") as never;

import type { RawConfig, RawDetail, RawImage, RawImageColumns, RawLayer } from "./raw";
import type { CallOptions, ImageConfig, ImageLayer, ImageRemoveReport, RemoveOptions } from "./types";

/** What a handle needs from its cache (ImageCache implements it). */
export interface HandleOwner {
  remove(reference: string, options?: RemoveOptions | boolean): Promise<ImageRemoveReport>;
  inspect(reference: string, options?: CallOptions): Promise<ImageDetail>;
}

const construct = Symbol("msb-image-cache.construct");

function toDate(ms: number | null): Date | null {
  return ms === null ? null : new Date(ms);
}

// One image of a list() result, decoded from its columns (native/runtime/js_values.h ImageColumns) the
// first time its handle is read: list() itself only makes the handles.
function decodeRow(c: RawImageColumns, row: number): RawImage {
  const o = c.offsets;
  const n = c.numbers;
  const s = row * 8;
  const f = row * 6;
  const text = c.textBuffer ?? (c.textBuffer = Buffer.from(c.text));
  const str = (k: number): string | null => (o[s + k]! < 0 ? null : text.toString("utf8", o[s + k], o[s + k + 1]));
  const num = (k: number): number | null => {
    const v = n[f + k]!;
    return v === v ? v : null; // NaN marks null
  };
  return {
    reference: str(0)!,
    manifestDigest: str(2),
    architecture: str(4),
    os: str(6),
    layerCount: num(0),
    sizeBytes: num(1),
    createdAt: num(2),
    lastUsedAt: num(3),
    createdAtSubMsNanos: num(4) ?? 0,
    lastUsedAtSubMsNanos: num(5) ?? 0,
  };
}

/** An instant as msb's CLI holds it: epoch ms plus the nanoseconds below the millisecond. */
export interface PreciseTime {
  ms: number;
  subMsNanos: number;
}

/**
 * @internal For the command-line tool: a handle's createdAt/lastUsedAt with nanosecond precision
 * (msb prints RFC 3339 times with up to 9 fraction digits). Not part of the public API.
 */
export let preciseTimes: (handle: ImageHandle) => { createdAt: PreciseTime | null; lastUsedAt: PreciseTime | null };

/** One cached image. Properties are read-only; `remove()` and `inspect()` go back to the cache. */
export class ImageHandle {
  readonly #owner: HandleOwner;
  // The decoded image, or (for list() results not read yet) its row in `#columns`.
  #raw: RawImage | undefined;
  #columns: RawImageColumns | undefined;
  #row: number;

  /** @internal Handles come from ImageCache.get/list. */
  constructor(token: symbol, owner: HandleOwner, raw: RawImage | RawImageColumns, row = 0) {
    if (token !== construct) throw new TypeError("ImageHandle is not constructible; use ImageCache.get() or list()");
    this.#owner = owner;
    this.#row = row;
    if ("offsets" in raw) {
      this.#raw = undefined;
      this.#columns = raw;
    } else {
      this.#raw = raw;
      this.#columns = undefined;
    }
  }

  static {
    preciseTimes = (handle) => {
      const r = handle.#image;
      return {
        createdAt: r.createdAt === null ? null : { ms: r.createdAt, subMsNanos: r.createdAtSubMsNanos ?? 0 },
        lastUsedAt: r.lastUsedAt === null ? null : { ms: r.lastUsedAt, subMsNanos: r.lastUsedAtSubMsNanos ?? 0 },
      };
    };
  }

  get #image(): RawImage {
    if (this.#raw === undefined) {
      this.#raw = decodeRow(this.#columns!, this.#row);
      this.#columns = undefined;
    }
    return this.#raw;
  }

  /** The reference as stored (as the user typed it when pulling). */
  get reference(): string {
    return this.#image.reference;
  }
  get manifestDigest(): string | null {
    return this.#image.manifestDigest;
  }
  /** The host platform at pull time, as msb records it. */
  get architecture(): string | null {
    return this.#image.architecture;
  }
  get os(): string | null {
    return this.#image.os;
  }
  get layerCount(): number {
    return this.#image.layerCount ?? 0;
  }
  /** Sum of the layer descriptors' sizes (compressed), not the on-disk size. */
  get sizeBytes(): number | null {
    return this.#image.sizeBytes;
  }
  /** When the reference was first pulled. */
  get createdAt(): Date | null {
    return toDate(this.#image.createdAt);
  }
  /** When a pull, load or sandbox last used the reference. */
  get lastUsedAt(): Date | null {
    return toDate(this.#image.lastUsedAt);
  }

  remove(options?: RemoveOptions | boolean): Promise<ImageRemoveReport> {
    return this.#owner.remove(this.#image.reference, options);
  }

  inspect(options?: CallOptions): Promise<ImageDetail> {
    return this.#owner.inspect(this.#image.reference, options);
  }

  toJSON(): ImageHandleJSON {
    const r = this.#image;
    return {
      reference: r.reference,
      manifestDigest: r.manifestDigest,
      architecture: r.architecture,
      os: r.os,
      layerCount: this.layerCount,
      sizeBytes: r.sizeBytes,
      createdAt: r.createdAt === null ? null : new Date(r.createdAt).toISOString(),
      lastUsedAt: r.lastUsedAt === null ? null : new Date(r.lastUsedAt).toISOString(),
    };
  }

  [inspectCustom](_depth: number, options: object, inspect: (value: unknown, options?: object) => string): string {
    return `${this.constructor.name} ${inspect(this.toJSON(), options)}`;
  }
}

export interface ImageHandleJSON {
  reference: string;
  manifestDigest: string | null;
  architecture: string | null;
  os: string | null;
  layerCount: number;
  sizeBytes: number | null;
  createdAt: string | null;
  lastUsedAt: string | null;
}

/** A handle plus its parsed config and its layers in manifest order (bottom first). */
export class ImageDetail extends ImageHandle {
  readonly #config: ImageConfig | null;
  readonly #layers: readonly ImageLayer[];
  readonly #handle: ImageHandle;

  /** @internal */
  constructor(token: symbol, owner: HandleOwner, raw: RawDetail) {
    super(token, owner, raw.image);
    this.#config = raw.config === null ? null : Object.freeze(toConfig(raw.config));
    this.#layers = Object.freeze(raw.layers.map((l) => Object.freeze(toLayer(l))));
    this.#handle = new ImageHandle(token, owner, raw.image);
  }

  get config(): ImageConfig | null {
    return this.#config;
  }
  get layers(): readonly ImageLayer[] {
    return this.#layers;
  }
  /** The plain handle (the official SDK's `detail.handle`). */
  get handle(): ImageHandle {
    return this.#handle;
  }

  override toJSON(): ImageHandleJSON & { config: ImageConfig | null; layers: readonly ImageLayer[] } {
    return { ...super.toJSON(), config: this.#config, layers: this.#layers };
  }
}

// ---- shaping of stored JSON text (a malformed value becomes "unknown", never an exception) ----

function parseJson(text: string | null): unknown {
  if (text === null) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function stringArray(text: string | null): string[] | null {
  const v = parseJson(text);
  return Array.isArray(v) && v.every((s) => typeof s === "string") ? (Object.freeze(v) as string[]) : null;
}

function stringRecord(text: string | null): Record<string, string> | null {
  const v = parseJson(text);
  if (v === null || typeof v !== "object" || Array.isArray(v)) return null;
  const entries = Object.entries(v as Record<string, unknown>);
  if (!entries.every(([, s]) => typeof s === "string")) return null;
  return Object.freeze(Object.fromEntries(entries)) as Record<string, string>;
}

function toConfig(c: RawConfig): ImageConfig {
  return {
    digest: c.digest,
    env: stringArray(c.env) ?? (Object.freeze([]) as unknown as string[]),
    cmd: stringArray(c.cmd),
    entrypoint: stringArray(c.entrypoint),
    workingDir: c.workingDir,
    user: c.user,
    labels: stringRecord(c.labels),
    stopSignal: c.stopSignal,
  };
}

function toLayer(l: RawLayer): ImageLayer {
  return {
    diffId: l.diffId,
    blobDigest: l.blobDigest,
    mediaType: l.mediaType,
    compressedSizeBytes: l.compressedSizeBytes,
    erofsSizeBytes: l.erofsSizeBytes,
    position: l.position,
  };
}

export function makeHandle(owner: HandleOwner, raw: RawImage): ImageHandle {
  return new ImageHandle(construct, owner, raw);
}

/** Handles for rows [from, to) of a list() result, into `out`. */
export function makeHandles(owner: HandleOwner, columns: RawImageColumns, out: ImageHandle[], from: number, to: number): void {
  for (let i = from; i < to; i++) out[i] = new ImageHandle(construct, owner, columns, i);
}

export function makeDetail(owner: HandleOwner, raw: RawDetail): ImageDetail {
  return new ImageDetail(construct, owner, raw);
}
