// The facade's argument checks (lib/validate.ts), in process: every option checker's TypeError or
// RangeError and its exact message (docs/api.md "Errors": option mistakes are a TypeError for a wrong type
// or an unknown key, a RangeError for a value out of range, and the message names the method and the
// option), and what each checker hands to the addon. prune-options.test.ts covers the units and the
// policies' shapes; here the rest, one checker at a time.
import { describe, expect, it } from "vitest";

import { ImageCacheError, InvalidReferenceError } from "../../lib/errors";
import { binding } from "../../lib/native";
import {
  MAX_REFERENCE_LENGTH,
  checkCacheOptions,
  checkCallOptions,
  checkEnsureFreeOptions,
  checkPlanReport,
  checkPruneOptions,
  checkReference,
  checkRemoveOptions,
  checkVerifyOptions,
} from "../../lib/validate";
import { oracleNormalize } from "../support/oracle";

const { normalizeReference } = binding.formats;
const HEX64 = "0123456789abcdef".repeat(4);
const HEX128 = HEX64 + HEX64;
const D = `sha256:${HEX64}`;
const GIB = 1024 * 1024 * 1024;
const NOW = 1_800_000_000_000;

/** The error `fn` throws (fails the test when it returns). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a throw, got a return");
}

/** Asserts the exact class and message. */
function expectError(fn: () => unknown, type: ErrorConstructor, message: string): void {
  const e = thrown(fn);
  expect(e.constructor, e.message).toBe(type);
  expect(e.message).toBe(message);
}

// ---------------------------------------------------------------------------------------------- values in messages

describe("how a wrong value is named in a message", () => {
  // One checker, every kind of value: the message ends with what was given.
  it.each<[unknown, string]>([
    [null, "got null"],
    [0, "got a number"],
    [false, "got a boolean"],
    [10n, "got a bigint"],
    [Symbol("s"), "got a symbol"],
    [() => true, "got a function"],
    [[true], "got an array"],
    [{ aborted: true }, "got an object"],
    ["yes", 'got the string "yes"'],
    ['say "hi"', 'got the string "say \\"hi\\""'], // JSON-quoted, so quotes inside stay readable
  ])("%s", (value, tail) => {
    expectError(() => checkCallOptions("get()", { signal: value }), TypeError, `get(): "signal" must be an AbortSignal, ${tail}`);
  });

  it("undefined where an object is optional is no value at all, but undefined as a reference is named", () => {
    expect(checkCallOptions("get()", undefined)).toEqual({});
    expect(thrown(() => checkReference(undefined)).message).toBe("image reference must be a string, got undefined");
  });
});

// ---------------------------------------------------------------------------------------------- references

describe("checkReference", () => {
  function rejection(value: unknown): InvalidReferenceError {
    const e = thrown(() => checkReference(value));
    expect(e).toBeInstanceOf(InvalidReferenceError);
    expect(e).toBeInstanceOf(ImageCacheError);
    const err = e as InvalidReferenceError;
    expect(err.code).toBe("invalidReference");
    expect(err.name).toBe("InvalidReferenceError");
    expect(err.reference).toBe(value);
    return err;
  }

  it("returns valid references unchanged (not normalized)", () => {
    for (const r of ["c:1", "python", "localhost:5000/team/app:1", `a/b:tag@${D}`, "index.docker.io/foo/bar", `a/${"b".repeat(253)}`]) {
      expect(checkReference(r)).toBe(r);
    }
  });

  it.each([
    [undefined, "got undefined"],
    [null, "got null"],
    [42, "got a number"],
    [true, "got a boolean"],
    [{ ref: "c:1" }, "got an object"],
    [["c:1"], "got an array"],
    [Symbol("c:1"), "got a symbol"],
    [new String("c:1"), "got an object"],
  ])("non-string %s", (value, tail) => {
    expect(rejection(value).message).toBe(`image reference must be a string, ${tail}`);
  });

  it("empty", () => {
    expect(rejection("").message).toBe("image reference is empty");
  });

  it.each([" ", "   ", "\t", "\n", " \r\n ", "\u00a0", "\u2003"])("blank %j", (s) => {
    expect(rejection(s).message).toBe("image reference is blank");
  });

  it("too long: over 4096 characters, even when the grammar would allow it", () => {
    const long = `a@sha256:${"0".repeat(MAX_REFERENCE_LENGTH)}`; // a digest of any length ≥ 32 parses
    expect(normalizeReference(long)).not.toBeNull();
    expect(rejection(long).message).toBe(`image reference is ${long.length} characters long; the limit is 4096`);
    const limit = `a@sha256:${"0".repeat(MAX_REFERENCE_LENGTH - 9)}`;
    expect(limit.length).toBe(MAX_REFERENCE_LENGTH);
    expect(checkReference(limit)).toBe(limit);
  });

  it.each([
    ["app:1\n", "U+000a", 5],
    ["a\u0000b", "U+0000", 1],
    ["\u0007app", "U+0007", 0],
    ["ap\u001fp", "U+001f", 2],
    ["app\u007f", "U+007f", 3],
    ["ap\u0085p", "U+0085", 2],
    ["app:1\u009f", "U+009f", 5],
    ["\tapp", "U+0009", 0],
  ])("control character in %j: %s at index %d (the first one)", (s, code, index) => {
    expect(rejection(s + "\u0001").message).toBe(`image reference contains a control character (${code}) at index ${index}`);
  });

  it("U+00A0 and U+0020 are not control characters: they reach the grammar check", () => {
    expect(rejection("a\u00a0b").message).toMatch(/is not an image reference/);
    expect(rejection("a b").message).toMatch(/is not an image reference/);
  });

  it.each(["UPPER:1", "a//b", "-a", "a:", `a:${"t".repeat(129)}`, "a b", "a..b", "café"])("bad grammar %j", (s) => {
    expect(rejection(s).message).toBe(
      `"${s}" is not an image reference (expected [registry/]repository[:tag][@digest], lowercase repository, e.g. "python:3.12")`,
    );
  });

  it("accepts exactly what the native normalizer accepts, apart from the cheap pre-checks", () => {
    let seed = 2024;
    const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
    const registries = ["", "", "", "ghcr.io/", "localhost/", "localhost:5000/", "index.docker.io/", "[::1]:5000/", "Reg.IO/", "bad_reg.io/", "r.io:x/"];
    const good = ["a", "app", "x1", "a.b", "a_b", "a__b", "a---b", "team"];
    const bad = ["UP", "a..b", "-a", "a-", "", "a b", "é", "a\u0001"];
    const components = [...good, ...good, ...bad];
    const suffixes = ["", "", "", ":1", ":latest", ":_x", `@${D}`, `:v2@${D}`, ":.x", ":", "@sha256:abc", `@sha512:${HEX128}`, ":a:b", " ", "\n"];
    const cases = new Set<string>(["", " ", "\t", `a@sha256:${"0".repeat(5000)}`, "a".repeat(300)]);
    while (cases.size < 220) {
      const path = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => pick(components)).join("/");
      cases.add(pick(registries) + path + pick(suffixes));
    }
    let accepted = 0;
    for (const s of cases) {
      const native = normalizeReference(s) !== null;
      let ok = true;
      try {
        checkReference(s);
      } catch (e) {
        expect(e).toBeInstanceOf(InvalidReferenceError);
        ok = false;
      }
      if (s.length > MAX_REFERENCE_LENGTH) {
        expect(ok, JSON.stringify(s.slice(0, 40))).toBe(false); // pre-check only
      } else {
        expect(ok, JSON.stringify(s)).toBe(native);
      }
      if (ok) {
        accepted++;
        // what is accepted normalizes as the independent normalizer (test/support/oracle.ts) says
        expect(normalizeReference(s), JSON.stringify(s)).toBe(oracleNormalize(s));
      }
    }
    // the generator covers both sides
    expect(accepted).toBeGreaterThan(40);
    expect(cases.size - accepted).toBeGreaterThan(40);
  });
});

// ---------------------------------------------------------------------------------------------- new ImageCache()

describe("checkCacheOptions (new ImageCache())", () => {
  it("home and cacheDir pass through; both are optional", () => {
    expect(checkCacheOptions({ home: "/h", cacheDir: "/c" })).toEqual({ home: "/h", cacheDir: "/c" });
    expect(checkCacheOptions({ cacheDir: "rel/dir" })).toEqual({ cacheDir: "rel/dir" });
    expect(checkCacheOptions(undefined)).toEqual({});
  });
  it("not an object", () => {
    expectError(() => checkCacheOptions(null), TypeError, "new ImageCache(): options must be an object, got null");
    expectError(() => checkCacheOptions("/h"), TypeError, 'new ImageCache(): options must be an object, got the string "/h"');
    expectError(() => checkCacheOptions(["/h"]), TypeError, "new ImageCache(): options must be an object, got an array");
  });
  it("an unknown key names the accepted ones", () => {
    expectError(() => checkCacheOptions({ hmoe: "/h" }), TypeError, 'new ImageCache(): unknown option "hmoe" (expected "home", "cacheDir")');
  });
  it.each(["home", "cacheDir"])("%s: a non-empty string without NUL", (key) => {
    expectError(() => checkCacheOptions({ [key]: 1 }), TypeError, `new ImageCache(): "${key}" must be a string, got a number`);
    expectError(() => checkCacheOptions({ [key]: "" }), RangeError, `new ImageCache(): "${key}" must not be empty`);
    expectError(() => checkCacheOptions({ [key]: "/a\0b" }), RangeError, `new ImageCache(): "${key}" must not contain a NUL character`);
    expect(checkCacheOptions({ [key]: " " })).toEqual({ [key]: " " }); // a path may be odd, just not empty
  });
});

// ---------------------------------------------------------------------------------------------- calls with only a signal

describe("checkCallOptions", () => {
  it("a signal, or nothing", () => {
    const signal = new AbortController().signal;
    expect(checkCallOptions("list()", { signal }).signal).toBe(signal);
    expect(checkCallOptions("list()", {})).toEqual({});
  });
  it("the message names the method it was given", () => {
    expectError(() => checkCallOptions("inspect()", { signal: {} }), TypeError, 'inspect(): "signal" must be an AbortSignal, got an object');
    expectError(() => checkCallOptions("list()", { signal: "x" }), TypeError, 'list(): "signal" must be an AbortSignal, got the string "x"');
    expectError(() => checkCallOptions("get()", { force: true }), TypeError, 'get(): unknown option "force" (expected "signal")');
    expectError(() => checkCallOptions("diskUsage()", 5), TypeError, "diskUsage(): options must be an object, got a number");
  });
});

// ---------------------------------------------------------------------------------------------- remove()

describe("checkRemoveOptions (remove())", () => {
  it("a boolean is force itself", () => {
    expect(checkRemoveOptions(true)).toEqual({ force: true });
    expect(checkRemoveOptions(false)).toEqual({ force: false });
  });
  it("force defaults to false; only true forces", () => {
    expect(checkRemoveOptions(undefined).force).toBe(false);
    expect(checkRemoveOptions({}).force).toBe(false);
    expect(checkRemoveOptions({ force: false }).force).toBe(false);
    expect(checkRemoveOptions({ force: true }).force).toBe(true);
  });
  it("the signal is passed on", () => {
    const signal = new AbortController().signal;
    expect(checkRemoveOptions({ signal })).toEqual({ force: false, signal });
    expectError(() => checkRemoveOptions({ signal: 1 }), TypeError, 'remove(): "signal" must be an AbortSignal, got a number');
  });
  it("wrong types and keys", () => {
    expectError(() => checkRemoveOptions({ force: 1 }), TypeError, 'remove(): "force" must be a boolean, got a number');
    expectError(() => checkRemoveOptions({ froce: true }), TypeError, 'remove(): unknown option "froce" (expected "force", "signal")');
    expectError(() => checkRemoveOptions("force"), TypeError, 'remove(): options must be an object, got the string "force"');
  });
});

// ---------------------------------------------------------------------------------------------- verify()

describe("checkVerifyOptions (verify())", () => {
  it("what the addon gets", () => {
    const onProgress = () => {};
    const signal = new AbortController().signal;
    const r = checkVerifyOptions({ repair: true, graceMs: 0, onProgress, signal });
    expect(r.signal).toBe(signal);
    expect(r.native).toEqual({ repair: true, graceMs: 0, onProgress });
    expect(r.native.onProgress).toBe(onProgress);
    expect(checkVerifyOptions({ repair: false }).native).toEqual({ repair: false });
    // nothing given: the addon's defaults apply (no repair, one hour), so no keys at all
    const none = checkVerifyOptions(undefined).native;
    expect(Object.keys(none).filter((k) => none[k as keyof typeof none] !== undefined)).toEqual([]);
    expect("repair" in none || "graceMs" in none).toBe(false);
  });
  it("graceMs: milliseconds only (no duration strings here), finite and ≥ 0", () => {
    expect(checkVerifyOptions({ graceMs: 1500 }).native.graceMs).toBe(1500);
    expectError(() => checkVerifyOptions({ graceMs: "1h" }), TypeError, 'verify(): "graceMs" must be a number of milliseconds, got the string "1h"');
    expectError(() => checkVerifyOptions({ graceMs: -1 }), RangeError, 'verify(): "graceMs" must be a finite number ≥ 0, got -1');
    expectError(() => checkVerifyOptions({ graceMs: Infinity }), RangeError, 'verify(): "graceMs" must be a finite number ≥ 0, got Infinity');
    expectError(() => checkVerifyOptions({ graceMs: NaN }), RangeError, 'verify(): "graceMs" must be a finite number ≥ 0, got NaN');
  });
  it("wrong types and keys", () => {
    expectError(() => checkVerifyOptions({ repair: "yes" }), TypeError, 'verify(): "repair" must be a boolean, got the string "yes"');
    expectError(() => checkVerifyOptions({ onProgress: {} }), TypeError, 'verify(): "onProgress" must be a function, got an object');
    expectError(() => checkVerifyOptions({ signal: {} }), TypeError, 'verify(): "signal" must be an AbortSignal, got an object');
    expectError(
      () => checkVerifyOptions({ dryRun: true }),
      TypeError,
      'verify(): unknown option "dryRun" (expected "signal", "repair", "graceMs", "onProgress")',
    );
    expectError(() => checkVerifyOptions(true), TypeError, "verify(): options must be an object, got a boolean");
  });
});

// ---------------------------------------------------------------------------------------------- prune()

describe("checkPruneOptions (prune())", () => {
  it("no options: one policy with nothing to select by, no targets, no keep functions", () => {
    const r = checkPruneOptions(undefined, NOW);
    expect(r.native.policies).toHaveLength(1);
    const p = r.native.policies[0]!;
    for (const [k, v] of Object.entries(p)) expect(v, k).toBeUndefined();
    expect(r.native.maxBytes).toBeUndefined();
    expect(r.native.minFreeSpace).toBeUndefined();
    expect(r.native.reservedSpace).toBeUndefined();
    expect(r.native.dryRun).toBeUndefined();
    expect(r.native.plan).toBeUndefined();
    expect(r.native.graceMs).toBeUndefined();
    expect(r.native.onProgress).toBeUndefined();
    expect(r.keepFns).toEqual([[]]);
    expect(r.signal).toBeUndefined();
  });

  it("every accepted key is named when one is not", () => {
    // docs/api.md's prune() options table, in the order the message lists them
    const accepted = ["signal", "dryRun", "plan", "olderThan", "minAge", "keep", "filter", "maxBytes", "minFreeSpace", "reservedSpace", "policies", "graceMs", "onProgress"];
    expectError(() => checkPruneOptions({ olderthan: "1d" }, NOW), TypeError, `prune(): unknown option "olderthan" (expected ${accepted.map((k) => `"${k}"`).join(", ")})`);
  });

  it("dryRun: a boolean, passed as given", () => {
    expect(checkPruneOptions({ dryRun: true }, NOW).native.dryRun).toBe(true);
    expect(checkPruneOptions({ dryRun: false }, NOW).native.dryRun).toBe(false);
    expectError(() => checkPruneOptions({ dryRun: "true" }, NOW), TypeError, 'prune(): "dryRun" must be a boolean, got the string "true"');
  });

  it("the signal and onProgress are passed on", () => {
    const signal = new AbortController().signal;
    const onProgress = () => {};
    const r = checkPruneOptions({ signal, onProgress }, NOW);
    expect(r.signal).toBe(signal);
    expect(r.native.onProgress).toBe(onProgress);
    expectError(() => checkPruneOptions({ onProgress: "log" }, NOW), TypeError, 'prune(): "onProgress" must be a function, got the string "log"');
    expectError(() => checkPruneOptions({ signal: true }, NOW), TypeError, 'prune(): "signal" must be an AbortSignal, got a boolean');
  });

  describe("durations: olderThan and minAge become absolute cut-offs before now", () => {
    it("numbers and strings", () => {
      const p = checkPruneOptions({ olderThan: 60_000, minAge: "2h" }, NOW).native.policies[0]!;
      expect(p.lastUsedBeforeMs).toBe(NOW - 60_000);
      expect(p.createdAfterMs).toBe(NOW - 2 * 3_600_000);
      expect(checkPruneOptions({ olderThan: 0 }, NOW).native.policies[0]!.lastUsedBeforeMs).toBe(NOW);
    });
    it("a Date for olderThan is the cut-off itself", () => {
      const when = new Date(Date.UTC(2026, 0, 1));
      expect(checkPruneOptions({ olderThan: when }, NOW).native.policies[0]!.lastUsedBeforeMs).toBe(Date.UTC(2026, 0, 1));
      expectError(() => checkPruneOptions({ olderThan: new Date("never") }, NOW), RangeError, 'prune(): "olderThan" is an invalid Date');
    });
    it("the default now is the clock's", () => {
      const before = Date.now();
      const cut = checkPruneOptions({ olderThan: 1000 }).native.policies[0]!.lastUsedBeforeMs!;
      expect(cut).toBeGreaterThanOrEqual(before - 1000);
      expect(cut).toBeLessThanOrEqual(Date.now() - 1000);
    });
    it.each(["olderThan", "minAge"])("%s: wrong types and values", (key) => {
      expectError(() => checkPruneOptions({ [key]: true }, NOW), TypeError, `prune(): "${key}" must be a number of milliseconds or a string such as "7d", got a boolean`);
      expectError(() => checkPruneOptions({ [key]: -5 }, NOW), RangeError, `prune(): "${key}" must be a finite number ≥ 0, got -5`);
      expectError(() => checkPruneOptions({ [key]: Infinity }, NOW), RangeError, `prune(): "${key}" must be a finite number ≥ 0, got Infinity`);
      expectError(
        () => checkPruneOptions({ [key]: "7" }, NOW),
        RangeError,
        `prune(): "${key}" is not a duration: "7" (expected a duration such as 7d, 12h, 10m, 1h30m (units ms, s, m, h, d, w))`,
      );
    });
    it("graceMs: milliseconds or a duration string", () => {
      expect(checkPruneOptions({ graceMs: 0 }, NOW).native.graceMs).toBe(0);
      expect(checkPruneOptions({ graceMs: "90s" }, NOW).native.graceMs).toBe(90_000);
      expectError(() => checkPruneOptions({ graceMs: "soon" }, NOW), RangeError, 'prune(): "graceMs" is not a duration: "soon" (expected a duration such as 7d, 12h, 10m, 1h30m (units ms, s, m, h, d, w))');
      expectError(() => checkPruneOptions({ graceMs: null }, NOW), TypeError, 'prune(): "graceMs" must be a number of milliseconds or a string such as "7d", got null');
    });
  });

  describe("space targets", () => {
    it.each(["maxBytes", "minFreeSpace", "reservedSpace"] as const)("%s: bytes, size strings and shares go to the top level, not the policy", (key) => {
      expect(checkPruneOptions({ [key]: 0 }, NOW).native[key]).toEqual({ bytes: 0 });
      expect(checkPruneOptions({ [key]: 2 ** 53 - 1 }, NOW).native[key]).toEqual({ bytes: 2 ** 53 - 1 });
      expect(checkPruneOptions({ [key]: "1.5KiB" }, NOW).native[key]).toEqual({ bytes: 1536 });
      const r = checkPruneOptions({ [key]: "25%" }, NOW);
      expect(r.native[key]).toEqual({ percent: 25 });
      expect(r.native.policies[0]![key]).toBeUndefined();
    });
    it.each(["maxBytes", "minFreeSpace", "reservedSpace"])("%s: wrong types and values", (key) => {
      expectError(() => checkPruneOptions({ [key]: -1 }, NOW), RangeError, `prune(): "${key}" must be a whole number of bytes ≥ 0, got -1`);
      expectError(() => checkPruneOptions({ [key]: 0.5 }, NOW), RangeError, `prune(): "${key}" must be a whole number of bytes ≥ 0, got 0.5`);
      expectError(() => checkPruneOptions({ [key]: 2 ** 53 }, NOW), RangeError, `prune(): "${key}" must be a whole number of bytes ≥ 0, got 9007199254740992`);
      expectError(() => checkPruneOptions({ [key]: {} }, NOW), TypeError, `prune(): "${key}" must be a number of bytes or a string such as "20GiB" or "15%", got an object`);
      expectError(
        () => checkPruneOptions({ [key]: "big" }, NOW),
        RangeError,
        `prune(): "${key}" is not a size: "big" (expected a size such as 20GiB or 500MB, or a share of the file system such as 15%)`,
      );
    });
  });

  describe("keep", () => {
    it("a string or a list of them; the list is copied", () => {
      expect(checkPruneOptions({ keep: "app:*" }, NOW).native.policies[0]!.keep).toEqual(["app:*"]);
      const mine = ["a", "b"];
      const kept = checkPruneOptions({ keep: mine }, NOW).native.policies[0]!.keep!;
      expect(kept).toEqual(["a", "b"]);
      mine.push("c"); // the caller's later change does not reach the checked options
      expect(kept).toEqual(["a", "b"]);
      expect(checkPruneOptions({ keep: ["é/ü:1"] }, NOW).native.policies[0]!.keep).toEqual(["é/ü:1"]);
      expect(checkPruneOptions({ keep: [] }, NOW).native.policies[0]!.keep).toEqual([]);
    });
    it("a function is asked by the facade, not sent to the addon", () => {
      const fn = () => false;
      const r = checkPruneOptions({ keep: fn }, NOW);
      expect(r.native.policies[0]!.keep).toBeUndefined();
      expect(r.keepFns).toEqual([[fn]]);
      expect(r.keepFns[0]![0]).toBe(fn);
    });
    it("wrong types and entries", () => {
      expectError(() => checkPruneOptions({ keep: 1 }, NOW), TypeError, 'prune(): "keep" must be a string, an array of strings or a function, got a number');
      expectError(() => checkPruneOptions({ keep: { a: 1 } }, NOW), TypeError, 'prune(): "keep" must be a string, an array of strings or a function, got an object');
      expectError(() => checkPruneOptions({ keep: ["a", 2] }, NOW), TypeError, 'prune(): "keep" entries must be strings, got a number');
      const entries = 'prune(): "keep" entries must be non-empty and free of control characters';
      for (const bad of ["", "a\u0000", "\u001fb", "a\nb", "del\u007f"]) expectError(() => checkPruneOptions({ keep: ["ok", bad] }, NOW), RangeError, entries);
      expectError(() => checkPruneOptions({ keep: "" }, NOW), RangeError, entries);
    });
  });

  describe("filter", () => {
    it("references (one or many) and labels", () => {
      const p = checkPruneOptions({ filter: { reference: ["ci/*", "tmp/*"], label: { team: "a", tier: "b" } } }, NOW).native.policies[0]!;
      expect(p.referenceGlobs).toEqual(["ci/*", "tmp/*"]);
      expect(JSON.parse(p.labelsJson!)).toEqual({ team: "a", tier: "b" });
      expect(p.labelCount).toBe(2);
      const one = checkPruneOptions({ filter: { reference: "ci/*" } }, NOW).native.policies[0]!;
      expect(one.referenceGlobs).toEqual(["ci/*"]);
      expect(one.labelsJson).toBeUndefined();
      expect(one.labelCount).toBeUndefined();
      const labels = checkPruneOptions({ filter: { label: {} } }, NOW).native.policies[0]!;
      expect(labels).toMatchObject({ labelsJson: "{}", labelCount: 0 });
      expect(labels.referenceGlobs).toBeUndefined();
      expect(checkPruneOptions({ filter: {} }, NOW).native.policies[0]!.labelsJson).toBeUndefined();
    });
    it("wrong types and keys", () => {
      expectError(() => checkPruneOptions({ filter: "ci/*" }, NOW), TypeError, 'prune() filter: options must be an object, got the string "ci/*"');
      expectError(() => checkPruneOptions({ filter: { tag: "x" } }, NOW), TypeError, 'prune() filter: unknown option "tag" (expected "reference", "label")');
      expectError(
        () => checkPruneOptions({ filter: { reference: 7 } }, NOW),
        TypeError,
        'prune(): "filter.reference" must be a string or an array of strings, got a number',
      );
      expectError(() => checkPruneOptions({ filter: { reference: [""] } }, NOW), RangeError, 'prune(): "filter.reference" entries must be non-empty and free of control characters');
      expectError(() => checkPruneOptions({ filter: { label: ["a=b"] } }, NOW), TypeError, "prune() filter.label: options must be an object, got an array");
      expectError(() => checkPruneOptions({ filter: { label: { a: "1", b: 2 } } }, NOW), TypeError, 'prune(): filter.label["b"] must be a string, got a number');
    });
  });

  describe("policies", () => {
    it("each policy keeps its own selectors and targets; the top level's targets stay at the top", () => {
      const r = checkPruneOptions({ maxBytes: "1GiB", policies: [{ olderThan: 1000, minFreeSpace: "5%" }, { minAge: 2000, reservedSpace: 10 }] }, NOW);
      expect(r.native.maxBytes).toEqual({ bytes: GIB });
      expect(r.native.minFreeSpace).toBeUndefined();
      expect(r.native.policies).toEqual([
        { lastUsedBeforeMs: NOW - 1000, minFreeSpace: { percent: 5 } },
        { createdAfterMs: NOW - 2000, reservedSpace: { bytes: 10 } },
      ]);
      expect(r.keepFns).toEqual([[], []]);
    });
    it("the top level's keep (strings) comes first in every policy; without one a policy keeps only its own", () => {
      const r = checkPruneOptions({ keep: ["base"], policies: [{ keep: "own" }, {}] }, NOW);
      expect(r.native.policies.map((p) => p.keep)).toEqual([["base", "own"], ["base"]]);
      const own = checkPruneOptions({ policies: [{ keep: "own" }, {}] }, NOW);
      expect(own.native.policies.map((p) => p.keep)).toEqual([["own"], undefined]);
    });
    it("the top level's keep functions are asked by every policy, before its own", () => {
      const top = () => true;
      const own = () => false;
      const r = checkPruneOptions({ keep: top, policies: [{ keep: own }, { olderThan: 1 }] }, NOW);
      expect(r.keepFns).toEqual([[top, own], [top]]);
      expect(r.native.policies.map((p) => p.keep)).toEqual([undefined, undefined]);
    });
    it("what policies cannot be given beside", () => {
      for (const key of ["olderThan", "minAge", "filter"]) {
        const value = key === "filter" ? { reference: "x" } : "1d";
        expectError(
          () => checkPruneOptions({ [key]: value, policies: [{}] }, NOW),
          TypeError,
          `prune(): "${key}" cannot be given beside "policies"; put it in the policies it applies to`,
        );
      }
    });
    it("the top level's keep and targets are checked with policies too", () => {
      expectError(() => checkPruneOptions({ keep: 5, policies: [{}] }, NOW), TypeError, 'prune(): "keep" must be a string, an array of strings or a function, got a number');
      expectError(() => checkPruneOptions({ reservedSpace: -2, policies: [{}] }, NOW), RangeError, 'prune(): "reservedSpace" must be a whole number of bytes ≥ 0, got -2');
    });
    it("an entry's mistakes name its index", () => {
      expectError(() => checkPruneOptions({ policies: "all" }, NOW), TypeError, 'prune(): "policies" must be an array of prune options, got the string "all"');
      expectError(() => checkPruneOptions({ policies: [] }, NOW), RangeError, 'prune(): "policies" must not be empty');
      expectError(() => checkPruneOptions({ policies: [{}, []] }, NOW), TypeError, "prune() policies[1]: must be an object, got an array");
      expectError(() => checkPruneOptions({ policies: [{}, {}, "x"] }, NOW), TypeError, 'prune() policies[2]: must be an object, got the string "x"');
      expectError(() => checkPruneOptions({ policies: [null] }, NOW), TypeError, "prune() policies[0]: must be an object, got null");
      expectError(() => checkPruneOptions({ policies: [{ policies: [] }] }, NOW), TypeError, "prune() policies[0]: policies cannot be nested");
      expectError(
        () => checkPruneOptions({ policies: [{ graceMs: 1 }] }, NOW),
        TypeError,
        'prune() policies[0]: unknown option "graceMs" (expected "olderThan", "minAge", "keep", "filter", "maxBytes", "minFreeSpace", "reservedSpace")',
      );
      expectError(() => checkPruneOptions({ policies: [{}, { minAge: -1 }] }, NOW), RangeError, 'prune() policies[1]: "minAge" must be a finite number ≥ 0, got -1');
      expectError(() => checkPruneOptions({ policies: [{ filter: 1 }] }, NOW), TypeError, "prune() policies[0] filter: options must be an object, got a number");
    });
  });

  describe("plan: a dry run's report", () => {
    const dig = (c: string) => `sha256:${c.repeat(64)}`;
    const report = {
      dryRun: true,
      removed: {
        references: [{ reference: "app:1", manifestDigest: dig("a") }, { reference: "app:2", manifestDigest: dig("b") }],
        manifests: [{ digest: dig("a") }],
        layers: [{ diffId: dig("c") }, { diffId: dig("d") }],
      },
    };
    it("becomes the lists the addon re-checks", () => {
      const plan = checkPruneOptions({ plan: report }, NOW).native.plan!;
      expect(plan).toEqual({
        references: ["app:1", "app:2"],
        referenceDigests: [dig("a"), dig("b")],
        manifests: [dig("a")],
        layers: [dig("c"), dig("d")],
        manifestsJson: `["${dig("a")}"]`,
        layersJson: `["${dig("c")}","${dig("d")}"]`,
      });
      expect(checkPlanReport("ensureFree()", report)).toEqual(plan);
    });
    it("an empty plan is a plan", () => {
      const plan = checkPlanReport("prune()", { dryRun: true, removed: { references: [], manifests: [], layers: [] } });
      expect(plan).toEqual({ references: [], referenceDigests: [], manifests: [], layers: [], manifestsJson: "[]", layersJson: "[]" });
    });
    it("anything else is refused, naming the method", () => {
      const notPlan = 'prune(): "plan" must be the report of a prune({ dryRun: true })';
      expectError(() => checkPruneOptions({ plan: { ...report, dryRun: false } }, NOW), TypeError, notPlan);
      expectError(() => checkPruneOptions({ plan: { ...report, dryRun: "true" } }, NOW), TypeError, notPlan);
      expectError(() => checkPruneOptions({ plan: { removed: report.removed } }, NOW), TypeError, notPlan);
      expectError(() => checkPruneOptions({ plan: { dryRun: true, removed: null } }, NOW), TypeError, notPlan);
      expectError(() => checkPruneOptions({ plan: { dryRun: true, removed: "all" } }, NOW), TypeError, notPlan);
      expectError(() => checkPruneOptions({ plan: { dryRun: true } }, NOW), TypeError, notPlan);
      expectError(() => checkPruneOptions({ plan: 1 }, NOW), TypeError, "prune() plan: options must be an object, got a number");
      expectError(() => checkPlanReport("ensureFree()", { dryRun: false }), TypeError, 'ensureFree(): "plan" must be the report of a prune({ dryRun: true })');
    });
    it("each list must be there, each entry must carry its string", () => {
      const without = (key: string) => ({ dryRun: true, removed: { ...report.removed, [key]: undefined } });
      for (const key of ["references", "manifests", "layers"]) {
        expectError(() => checkPlanReport("prune()", without(key)), TypeError, `prune(): "plan.removed.${key}" must be an array`);
      }
      const bad = (key: string, entries: unknown[]) => ({ dryRun: true, removed: { ...report.removed, [key]: entries } });
      expectError(() => checkPlanReport("prune()", bad("manifests", [{ digest: 1 }])), TypeError, 'prune(): "plan.removed.manifests" entries need a string "digest"');
      expectError(() => checkPlanReport("prune()", bad("manifests", [null])), TypeError, 'prune(): "plan.removed.manifests" entries need a string "digest"');
      expectError(() => checkPlanReport("prune()", bad("layers", [{ digest: dig("c") }])), TypeError, 'prune(): "plan.removed.layers" entries need a string "diffId"');
      expectError(
        () => checkPlanReport("prune()", bad("references", [{ reference: "app:1" }])),
        TypeError,
        'prune(): "plan.removed.references" entries need a string "manifestDigest"',
      );
      expectError(
        () => checkPlanReport("prune()", bad("references", [{ manifestDigest: dig("a") }])),
        TypeError,
        'prune(): "plan.removed.references" entries need a string "reference"',
      );
    });
  });
});

// ---------------------------------------------------------------------------------------------- ensureFree()

describe("checkEnsureFreeOptions (ensureFree())", () => {
  it("the goal is the bytes asked for plus minFreeSpace (default 0), as one free-space target", () => {
    expect(checkEnsureFreeOptions(1000, undefined, NOW).requested).toEqual({ bytes: 1000 });
    expect(checkEnsureFreeOptions("3GiB", {}, NOW).requested).toEqual({ bytes: 3 * GIB });
    expect(checkEnsureFreeOptions("1MiB", { minFreeSpace: "1KiB" }, NOW).requested).toEqual({ bytes: 1024 * 1024 + 1024 });
    expect(checkEnsureFreeOptions(0, { minFreeSpace: 0 }, NOW).requested).toEqual({ bytes: 0 });
    // a share cannot be added to bytes before the file system is measured: both are sent
    const r = checkEnsureFreeOptions(500, { minFreeSpace: "10%" }, NOW);
    expect(r.requested).toEqual({ bytes: 500, percent: 10 });
    expect(r.native.minFreeSpace).toEqual({ bytes: 500, percent: 10 });
    expect(r.native.maxBytes).toBeUndefined();
  });
  it("the other options are prune()'s, checked as ensureFree()'s", () => {
    const fn = () => true;
    const signal = new AbortController().signal;
    const r = checkEnsureFreeOptions(1, { keep: ["a", "b"], minAge: 1000, dryRun: true, graceMs: "1m", reservedSpace: "1GiB", signal }, NOW);
    expect(r.native).toMatchObject({ dryRun: true, graceMs: 60_000, reservedSpace: { bytes: GIB }, minFreeSpace: { bytes: 1 } });
    expect(r.native.policies).toEqual([{ keep: ["a", "b"], createdAfterMs: NOW - 1000 }]);
    expect(r.signal).toBe(signal);
    expect(checkEnsureFreeOptions(1, { keep: fn }, NOW).keepFns).toEqual([[fn]]);
    expectError(() => checkEnsureFreeOptions(1, { minAge: "new" }, NOW), RangeError, 'ensureFree(): "minAge" is not a duration: "new" (expected a duration such as 7d, 12h, 10m, 1h30m (units ms, s, m, h, d, w))');
  });
  it("the bytes asked for: a whole number ≥ 0 or a size string", () => {
    expectError(() => checkEnsureFreeOptions(-1, {}, NOW), RangeError, "ensureFree(): the bytes asked for must be a whole number ≥ 0, got -1");
    expectError(() => checkEnsureFreeOptions(1.5, {}, NOW), RangeError, "ensureFree(): the bytes asked for must be a whole number ≥ 0, got 1.5");
    expectError(() => checkEnsureFreeOptions(2 ** 53, {}, NOW), RangeError, "ensureFree(): the bytes asked for must be a whole number ≥ 0, got 9007199254740992");
    expectError(
      () => checkEnsureFreeOptions("15%", {}, NOW),
      RangeError,
      'ensureFree(): the bytes asked for are not a size: "15%" (expected a size such as 20GiB, 500MB, 512KiB or 0 (units B, KiB, MiB, GiB, TiB, KB, MB, GB, TB; K, M, G, T = KiB..TiB))',
    );
    expectError(() => checkEnsureFreeOptions(undefined, {}, NOW), TypeError, 'ensureFree(): the bytes asked for must be a number or a size string such as "3GiB", got undefined');
    expectError(() => checkEnsureFreeOptions({ bytes: 1 }, {}, NOW), TypeError, 'ensureFree(): the bytes asked for must be a number or a size string such as "3GiB", got an object');
  });
  it("the sum must stay a safe integer", () => {
    expect(checkEnsureFreeOptions(2 ** 53 - 2, { minFreeSpace: 1 }, NOW).requested).toEqual({ bytes: 2 ** 53 - 1 });
    expectError(() => checkEnsureFreeOptions(2 ** 53 - 1, { minFreeSpace: 1 }, NOW), RangeError, "ensureFree(): the bytes asked for plus minFreeSpace are too large");
  });
  it("options prune() has and ensureFree() does not", () => {
    const accepted = ["signal", "minFreeSpace", "reservedSpace", "keep", "minAge", "filter", "dryRun", "graceMs", "onProgress"];
    for (const key of ["maxBytes", "olderThan", "policies", "plan"]) {
      expectError(() => checkEnsureFreeOptions(1, { [key]: undefined }, NOW), TypeError, `ensureFree(): unknown option "${key}" (expected ${accepted.map((k) => `"${k}"`).join(", ")})`);
    }
    expectError(() => checkEnsureFreeOptions(1, { minFreeSpace: true }, NOW), TypeError, 'ensureFree(): "minFreeSpace" must be a number of bytes or a string such as "20GiB" or "15%", got a boolean');
    expectError(() => checkEnsureFreeOptions(1, [], NOW), TypeError, "ensureFree(): options must be an object, got an array");
  });
});
