// Argument checks, done before any native work: precise TypeError/RangeError for options,
// InvalidReferenceError for references.
import { InvalidReferenceError } from "./errors";
import type { ImageHandle } from "./image";
import {
  binding,
  type NativeAmount,
  type NativeProgressFn,
  type NativePruneOptions,
  type NativePrunePolicy,
  type NativeVerifyOptions,
} from "./native";
import { UnitSyntaxError, parseDuration, parseSize, parseSizeOrShare } from "./units";

export const MAX_REFERENCE_LENGTH = 4096;

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  return typeof value === "string" ? `the string ${JSON.stringify(value)}` : `a ${typeof value}`;
}

/** Returns the reference unchanged, or throws InvalidReferenceError. */
export function checkReference(reference: unknown): string {
  if (typeof reference !== "string") {
    throw new InvalidReferenceError(`image reference must be a string, got ${describe(reference)}`, reference);
  }
  if (reference.length === 0) throw new InvalidReferenceError("image reference is empty", reference);
  if (reference.trim().length === 0) throw new InvalidReferenceError("image reference is blank", reference);
  if (reference.length > MAX_REFERENCE_LENGTH) {
    throw new InvalidReferenceError(
      `image reference is ${reference.length} characters long; the limit is ${MAX_REFERENCE_LENGTH}`,
      reference,
    );
  }
  // eslint-disable-next-line no-control-regex
  const control = /[\u0000-\u001f\u007f-\u009f]/.exec(reference);
  if (control) {
    const code = control[0].charCodeAt(0).toString(16).padStart(4, "0");
    throw new InvalidReferenceError(
      `image reference contains a control character (U+${code}) at index ${control.index}`,
      reference,
    );
  }
  // The grammar is checked by the same native parser that normalizes references for look-ups
  // (pure and synchronous: no file or database access).
  if (binding.formats.normalizeReference(reference) === null) {
    throw new InvalidReferenceError(
      `"${reference}" is not an image reference (expected [registry/]repository[:tag][@digest], ` +
        `lowercase repository, e.g. "python:3.12")`,
      reference,
    );
  }
  return reference;
}

function checkKeys(what: string, options: object, allowed: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw new TypeError(`${what}: unknown option "${key}" (expected ${allowed.map((k) => `"${k}"`).join(", ")})`);
    }
  }
}

function checkObject(what: string, options: unknown): Record<string, unknown> {
  if (options === undefined) return {};
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new TypeError(`${what}: options must be an object, got ${describe(options)}`);
  }
  return options as Record<string, unknown>;
}

function checkPath(what: string, key: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw new TypeError(`${what}: "${key}" must be a string, got ${describe(value)}`);
  if (value.length === 0) throw new RangeError(`${what}: "${key}" must not be empty`);
  if (value.includes("\0")) throw new RangeError(`${what}: "${key}" must not contain a NUL character`);
  return value;
}

export function checkCacheOptions(options: unknown): { home?: string; cacheDir?: string } {
  const what = "new ImageCache()";
  const o = checkObject(what, options);
  checkKeys(what, o, ["home", "cacheDir"]);
  return { home: checkPath(what, "home", o.home), cacheDir: checkPath(what, "cacheDir", o.cacheDir) };
}

function checkSignal(what: string, signal: unknown): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) {
    throw new TypeError(`${what}: "signal" must be an AbortSignal, got ${describe(signal)}`);
  }
  return signal;
}

export function checkCallOptions(what: string, options: unknown): { signal?: AbortSignal } {
  const o = checkObject(what, options);
  checkKeys(what, o, ["signal"]);
  return { signal: checkSignal(what, o.signal) };
}

export function checkRemoveOptions(options: unknown): { force: boolean; signal?: AbortSignal } {
  const what = "remove()";
  if (typeof options === "boolean") return { force: options };
  const o = checkObject(what, options);
  checkKeys(what, o, ["force", "signal"]);
  if (o.force !== undefined && typeof o.force !== "boolean") {
    throw new TypeError(`${what}: "force" must be a boolean, got ${describe(o.force)}`);
  }
  return { force: o.force === true, signal: checkSignal(what, o.signal) };
}

function checkStrings(what: string, key: string, value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  const list = typeof value === "string" ? [value] : value;
  if (!Array.isArray(list)) throw new TypeError(`${what}: "${key}" must be a string or an array of strings, got ${describe(value)}`);
  for (const item of list) {
    if (typeof item !== "string") throw new TypeError(`${what}: "${key}" entries must be strings, got ${describe(item)}`);
    // eslint-disable-next-line no-control-regex
    if (item.length === 0 || /[\u0000-\u001f\u007f]/.test(item)) {
      throw new RangeError(`${what}: "${key}" entries must be non-empty and free of control characters`);
    }
  }
  return [...list];
}

function checkDuration(what: string, key: string, value: unknown): number {
  if (typeof value !== "number") throw new TypeError(`${what}: "${key}" must be a number of milliseconds, got ${describe(value)}`);
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${what}: "${key}" must be a finite number ≥ 0, got ${value}`);
  return value;
}

/** keep as a function (evaluated by the facade before the native prune; lib/cache.ts). */
export type KeepFn = (image: ImageHandle) => boolean | Promise<boolean>;

/** prune() options, checked: the native options plus, per policy, the keep functions to ask. */
export interface CheckedPruneOptions {
  signal?: AbortSignal;
  native: NativePruneOptions & { policies: NativePrunePolicy[] };
  /** keepFns[i]: the functions policy i asks (the top level's, then its own). */
  keepFns: KeepFn[][];
}

const SELECTOR_KEYS = ["olderThan", "minAge", "keep", "filter"] as const;
const TARGET_KEYS = ["maxBytes", "minFreeSpace", "reservedSpace"] as const;

/** A duration: milliseconds, or a string such as "7d" (lib/units.ts). */
function checkDurationOrText(what: string, key: string, value: unknown): number {
  if (typeof value === "string") {
    try {
      return parseDuration(value);
    } catch (e) {
      if (e instanceof UnitSyntaxError) throw new RangeError(`${what}: "${key}" is not a duration: ${JSON.stringify(value)} (${e.message})`);
      throw e;
    }
  }
  if (typeof value !== "number") {
    throw new TypeError(`${what}: "${key}" must be a number of milliseconds or a string such as "7d", got ${describe(value)}`);
  }
  return checkDuration(what, key, value);
}

/** A space target: bytes, a size string ("20GiB") or a share of the file system ("15%"). */
function checkAmount(what: string, key: string, value: unknown): NativeAmount {
  if (typeof value === "string") {
    try {
      return parseSizeOrShare(value);
    } catch (e) {
      if (e instanceof UnitSyntaxError) throw new RangeError(`${what}: "${key}" is not a size: ${JSON.stringify(value)} (${e.message})`);
      throw e;
    }
  }
  if (typeof value !== "number") {
    throw new TypeError(`${what}: "${key}" must be a number of bytes or a string such as "20GiB" or "15%", got ${describe(value)}`);
  }
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${what}: "${key}" must be a whole number of bytes ≥ 0, got ${value}`);
  }
  return { bytes: value };
}

function checkKeep(what: string, value: unknown, fns: KeepFn[]): string[] | undefined {
  if (typeof value === "function") {
    fns.push(value as KeepFn);
    return undefined;
  }
  if (value !== undefined && typeof value !== "string" && !Array.isArray(value)) {
    throw new TypeError(`${what}: "keep" must be a string, an array of strings or a function, got ${describe(value)}`);
  }
  return checkStrings(what, "keep", value);
}

// One policy's selectors and targets (the top level's when there are no policies).
function checkPolicy(what: string, o: Record<string, unknown>, now: number, fns: KeepFn[]): NativePrunePolicy {
  const p: NativePrunePolicy = {};
  if (o.olderThan !== undefined) {
    if (o.olderThan instanceof Date) {
      if (Number.isNaN(o.olderThan.getTime())) throw new RangeError(`${what}: "olderThan" is an invalid Date`);
      p.lastUsedBeforeMs = o.olderThan.getTime();
    } else {
      p.lastUsedBeforeMs = now - checkDurationOrText(what, "olderThan", o.olderThan);
    }
  }
  if (o.minAge !== undefined) p.createdAfterMs = now - checkDurationOrText(what, "minAge", o.minAge);
  for (const key of TARGET_KEYS) {
    if (o[key] !== undefined) p[key] = checkAmount(what, key, o[key]);
  }
  p.keep = checkKeep(what, o.keep, fns);
  if (o.filter !== undefined) {
    const f = checkObject(`${what} filter`, o.filter);
    checkKeys(`${what} filter`, f, ["reference", "label"]);
    p.referenceGlobs = checkStrings(what, "filter.reference", f.reference);
    if (f.label !== undefined) {
      const labels = checkObject(`${what} filter.label`, f.label);
      for (const [k, v] of Object.entries(labels)) {
        if (typeof v !== "string") throw new TypeError(`${what}: filter.label["${k}"] must be a string, got ${describe(v)}`);
      }
      p.labelsJson = JSON.stringify(labels);
      p.labelCount = Object.keys(labels).length;
    }
  }
  return p;
}

/** prune() options as op_prune.cc reads them; durations become absolute cut-offs now. */
export function checkPruneOptions(options: unknown, now = Date.now(), what = "prune()"): CheckedPruneOptions {
  const o = checkObject(what, options);
  checkKeys(what, o, ["signal", "dryRun", "plan", ...SELECTOR_KEYS, ...TARGET_KEYS, "policies", "graceMs", "onProgress"]);
  const native: CheckedPruneOptions["native"] = { policies: [] };
  if (o.dryRun !== undefined) {
    if (typeof o.dryRun !== "boolean") throw new TypeError(`${what}: "dryRun" must be a boolean, got ${describe(o.dryRun)}`);
    native.dryRun = o.dryRun;
  }
  const keepFns: KeepFn[][] = [];
  if (o.policies === undefined) {
    const fns: KeepFn[] = [];
    const p = checkPolicy(what, o, now, fns);
    native.policies.push({ ...p, maxBytes: undefined, minFreeSpace: undefined, reservedSpace: undefined });
    for (const key of TARGET_KEYS) native[key] = p[key];
    keepFns.push(fns);
  } else {
    if (!Array.isArray(o.policies)) throw new TypeError(`${what}: "policies" must be an array of prune options, got ${describe(o.policies)}`);
    if (o.policies.length === 0) throw new RangeError(`${what}: "policies" must not be empty`);
    for (const key of ["olderThan", "minAge", "filter"] as const) {
      if (o[key] !== undefined) {
        throw new TypeError(`${what}: "${key}" cannot be given beside "policies"; put it in the policies it applies to`);
      }
    }
    const topFns: KeepFn[] = [];
    const topKeep = checkKeep(what, o.keep, topFns);
    for (const key of TARGET_KEYS) if (o[key] !== undefined) native[key] = checkAmount(what, key, o[key]);
    o.policies.forEach((entry: unknown, i: number) => {
      const at = `${what} policies[${i}]`;
      if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
        throw new TypeError(`${at}: must be an object, got ${describe(entry)}`);
      }
      const e = entry as Record<string, unknown>;
      if (e.policies !== undefined) throw new TypeError(`${at}: policies cannot be nested`);
      checkKeys(at, e, [...SELECTOR_KEYS, ...TARGET_KEYS]);
      const fns = [...topFns];
      const p = checkPolicy(at, e, now, fns);
      if (topKeep) p.keep = [...topKeep, ...(p.keep ?? [])];
      native.policies.push(p);
      keepFns.push(fns);
    });
  }
  if (o.plan !== undefined) native.plan = checkPlan(what, o.plan);
  if (o.graceMs !== undefined) native.graceMs = checkDurationOrText(what, "graceMs", o.graceMs);
  native.onProgress = checkProgress(what, o.onProgress);
  return { signal: checkSignal(what, o.signal), native, keepFns };
}

/** ensureFree(bytes, options): a prune whose one goal is bytes + minFreeSpace free. */
export function checkEnsureFreeOptions(bytes: unknown, options: unknown, now = Date.now()): CheckedPruneOptions & { requested: NativeAmount } {
  const what = "ensureFree()";
  let requested: number;
  if (typeof bytes === "string") {
    try {
      requested = parseSize(bytes);
    } catch (e) {
      if (e instanceof UnitSyntaxError) throw new RangeError(`${what}: the bytes asked for are not a size: ${JSON.stringify(bytes)} (${e.message})`);
      throw e;
    }
  } else if (typeof bytes === "number") {
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`${what}: the bytes asked for must be a whole number ≥ 0, got ${bytes}`);
    requested = bytes;
  } else {
    throw new TypeError(`${what}: the bytes asked for must be a number or a size string such as "3GiB", got ${describe(bytes)}`);
  }
  const o = checkObject(what, options);
  checkKeys(what, o, ["signal", "minFreeSpace", "reservedSpace", "keep", "minAge", "filter", "dryRun", "graceMs", "onProgress"]);
  const { minFreeSpace, ...rest } = o;
  const extra = minFreeSpace === undefined ? { bytes: 0 } : checkAmount(what, "minFreeSpace", minFreeSpace);
  const goal: NativeAmount = "percent" in extra ? { bytes: requested, percent: extra.percent } : { bytes: requested + extra.bytes };
  if (!Number.isSafeInteger(goal.bytes)) throw new RangeError(`${what}: the bytes asked for plus minFreeSpace are too large`);
  const checked = checkPruneOptions(rest, now, what);
  checked.native.minFreeSpace = goal;
  return { ...checked, requested: goal };
}

function checkProgress(what: string, fn: unknown): NativeProgressFn | undefined {
  if (fn === undefined) return undefined;
  if (typeof fn !== "function") throw new TypeError(`${what}: "onProgress" must be a function, got ${describe(fn)}`);
  return fn as NativeProgressFn;
}

/** verify() options as op_verify.cc reads them. */
export function checkVerifyOptions(options: unknown): { signal?: AbortSignal; native: NativeVerifyOptions } {
  const what = "verify()";
  const o = checkObject(what, options);
  checkKeys(what, o, ["signal", "repair", "graceMs", "onProgress"]);
  const native: NativeVerifyOptions = {};
  if (o.repair !== undefined) {
    if (typeof o.repair !== "boolean") throw new TypeError(`${what}: "repair" must be a boolean, got ${describe(o.repair)}`);
    native.repair = o.repair;
  }
  if (o.graceMs !== undefined) native.graceMs = checkDuration(what, "graceMs", o.graceMs);
  native.onProgress = checkProgress(what, o.onProgress);
  return { signal: checkSignal(what, o.signal), native };
}

export function checkPlanReport(what: string, plan: unknown): NonNullable<NativePruneOptions["plan"]> {
  return checkPlan(what, plan);
}

function checkPlan(what: string, plan: unknown): NonNullable<NativePruneOptions["plan"]> {
  const p = checkObject(`${what} plan`, plan) as { dryRun?: unknown; removed?: Record<string, unknown> };
  const removed = p.removed;
  if (p.dryRun !== true || removed === null || typeof removed !== "object") {
    throw new TypeError(`${what}: "plan" must be the report of a prune({ dryRun: true })`);
  }
  const list = (key: string, field: string): string[] => {
    const items = removed[key];
    if (!Array.isArray(items)) throw new TypeError(`${what}: "plan.removed.${key}" must be an array`);
    return items.map((item: unknown) => {
      const value = (item as Record<string, unknown> | null)?.[field];
      if (typeof value !== "string") throw new TypeError(`${what}: "plan.removed.${key}" entries need a string "${field}"`);
      return value;
    });
  };
  const manifests = list("manifests", "digest");
  const layers = list("layers", "diffId");
  return {
    references: list("references", "reference"),
    referenceDigests: list("references", "manifestDigest"),
    manifests,
    layers,
    manifestsJson: JSON.stringify(manifests),
    layersJson: JSON.stringify(layers),
  };
}
