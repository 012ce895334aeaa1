// Argument checks, done before any native work: precise TypeError/RangeError for options,
// InvalidReferenceError for references.
import { InvalidReferenceError } from "./errors";
import { binding } from "./native";

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
