// The typed errors (lib/errors.ts) in process: what the addon's rejections become (docs/api.md's error
// table: class, code, fields), the errors' names, and stacks moved to the caller. The interop tests see
// these errors from real failures; here every code, including the fields a failure may leave out.
import { describe, expect, it } from "vitest";

import {
  AbortError,
  AmbiguousReferenceError,
  CacheClosedError,
  CacheDirError,
  DatabaseError,
  HomeConfigError,
  HomeNotFoundError,
  ImageCacheError,
  ImageInUseError,
  ImageNotFoundError,
  InsufficientSpaceError,
  InvalidReferenceError,
  MaintenanceError,
  PermissionDeniedError,
  PruneInProgressError,
  SchemaError,
  fromNative,
  withCallSite,
} from "../../lib/errors";

/** An Error as the addon rejects with: a message, a code and the code's fields. */
function native(code: string | undefined, fields: Record<string, unknown> = {}, message = `the ${code} failure`): Error {
  return Object.assign(new Error(message), code === undefined ? {} : { code }, fields);
}

describe("fromNative: the addon's codes become the documented classes", () => {
  it.each<[string, Function, Record<string, unknown>, Record<string, unknown>]>([
    ["imageNotFound", ImageNotFoundError, { reference: "app:1" }, { reference: "app:1" }],
    ["imageInUse", ImageInUseError, { reference: "app:1", sandboxes: ["sb"], snapshots: ["snap"] }, { reference: "app:1", sandboxes: ["sb"], snapshots: ["snap"] }],
    ["ambiguousReference", AmbiguousReferenceError, { reference: "a", candidates: ["a:1", "a:2"] }, { reference: "a", candidates: ["a:1", "a:2"] }],
    ["database", DatabaseError, { sqliteCode: 1 }, { sqliteCode: 1 }],
    ["databaseCorrupt", DatabaseError, { sqliteCode: 11 }, { sqliteCode: 11 }],
    ["databaseBusy", DatabaseError, { sqliteCode: 5 }, { sqliteCode: 5 }],
    ["databaseReadOnly", DatabaseError, { sqliteCode: 8 }, { sqliteCode: 8 }],
    ["schemaUnsupported", SchemaError, { missing: ["image_ref.reference"] }, { missing: ["image_ref.reference"] }],
    ["maintenanceInProgress", MaintenanceError, {}, {}],
    ["homeConfig", HomeConfigError, {}, {}],
    ["homeNotFound", HomeNotFoundError, { path: "/h" }, { path: "/h" }],
    ["cacheDirInvalid", CacheDirError, { path: "/c", problem: "not-msb-layout" }, { path: "/c", problem: "not-msb-layout" }],
    ["permissionDenied", PermissionDeniedError, { path: "/c/layers" }, { path: "/c/layers" }],
    ["pruneInProgress", PruneInProgressError, {}, {}],
  ])("%s", (code, cls, fields, expected) => {
    const e = fromNative(native(code, fields));
    expect(e).toBeInstanceOf(cls);
    expect(e).toBeInstanceOf(ImageCacheError);
    expect(e).toBeInstanceOf(Error);
    expect((e as ImageCacheError).code).toBe(code);
    expect(e.message).toBe(`the ${code} failure`);
    expect(e.name).toBe(cls.name);
    expect(e).toMatchObject(expected);
  });

  it("fields a rejection leaves out get empty defaults, never undefined", () => {
    expect(fromNative(native("imageNotFound"))).toMatchObject({ reference: "" });
    const inUse = fromNative(native("imageInUse")) as ImageInUseError;
    expect([inUse.reference, inUse.sandboxes, inUse.snapshots]).toEqual(["", [], []]);
    const ambiguous = fromNative(native("ambiguousReference")) as AmbiguousReferenceError;
    expect([ambiguous.reference, ambiguous.candidates]).toEqual(["", []]);
    expect((fromNative(native("databaseBusy")) as DatabaseError).sqliteCode).toBeUndefined();
    expect((fromNative(native("schemaUnsupported")) as SchemaError).missing).toEqual([]);
    expect((fromNative(native("homeNotFound")) as HomeNotFoundError).path).toBe("");
    const dir = fromNative(native("cacheDirInvalid")) as CacheDirError;
    expect([dir.path, dir.problem]).toEqual(["", "missing"]);
    expect((fromNative(native("permissionDenied")) as PermissionDeniedError).path).toBe("");
  });

  it("lists are frozen copies: the caller cannot change what the error says", () => {
    const sandboxes = ["sb1"];
    const e = fromNative(native("imageInUse", { reference: "a", sandboxes, snapshots: ["s"] })) as ImageInUseError;
    sandboxes.push("sb2");
    expect(e.sandboxes).toEqual(["sb1"]);
    expect(Object.isFrozen(e.sandboxes)).toBe(true);
    expect(Object.isFrozen(e.snapshots)).toBe(true);
    const amb = fromNative(native("ambiguousReference", { reference: "a", candidates: ["x"] })) as AmbiguousReferenceError;
    expect(Object.isFrozen(amb.candidates)).toBe(true);
    const schema = fromNative(native("schemaUnsupported", { missing: ["t"] })) as SchemaError;
    expect(Object.isFrozen(schema.missing)).toBe(true);
  });

  it("cacheClosed: the one fixed message", () => {
    const e = fromNative(native("cacheClosed"));
    expect(e).toBeInstanceOf(CacheClosedError);
    expect(e.message).toBe("this ImageCache is closed; create a new one to keep using the cache");
    expect((e as CacheClosedError).code).toBe("cacheClosed");
  });

  it("aborted: an AbortError by name, as DOM's, with the addon's message", () => {
    const e = fromNative(native("aborted", {}, "stopped"));
    expect(e).toBeInstanceOf(AbortError);
    expect(e.name).toBe("AbortError");
    expect(e.message).toBe("stopped");
    expect((e as AbortError).code).toBe("aborted");
    expect((e as AbortError).report).toBeUndefined();
  });

  it("a code this version does not know keeps its code, with the original as the cause", () => {
    const original = native("somethingNew");
    const e = fromNative(original) as ImageCacheError;
    expect(e.constructor).toBe(ImageCacheError);
    expect(e.name).toBe("ImageCacheError");
    expect(e.code).toBe("somethingNew");
    expect(e.message).toBe("the somethingNew failure");
    expect(e.cause).toBe(original);
    const bare = fromNative(native(undefined, {}, "no code")) as ImageCacheError;
    expect([bare.code, bare.message]).toEqual(["internal", "no code"]);
    expect(bare.cause).toBeInstanceOf(Error);
  });

  it("a rejection that is not an Error is internal, with its text", () => {
    for (const [value, text] of [["boom", "boom"], [42, "42"], [null, "null"], [undefined, "undefined"]] as const) {
      const e = fromNative(value) as ImageCacheError;
      expect(e.constructor).toBe(ImageCacheError);
      expect([e.code, e.message]).toEqual(["internal", text]);
    }
  });
});

describe("the classes themselves", () => {
  it("AbortError: a default message, a cause and a report", () => {
    expect(new AbortError().message).toBe("the operation was aborted");
    const cause = new Error("reason");
    const report = { removed: [] };
    const e = new AbortError("stopped", { cause, report });
    expect([e.message, e.cause, e.report, e.code, e.name]).toEqual(["stopped", cause, report, "aborted", "AbortError"]);
    expect(new AbortError("x", {}).cause).toBeUndefined();
  });

  it("InsufficientSpaceError: its numbers, and shortBy never below zero", () => {
    const details = { requested: 100, free: 10, available: 60, pinned: ["p"], kept: ["k"], tooNew: ["n"] };
    const e = new InsufficientSpaceError("no room", details);
    expect(e).toMatchObject({ ...details, shortBy: 40, code: "insufficientSpace", message: "no room", name: "InsufficientSpaceError" });
    expect(new InsufficientSpaceError("m", { ...details, available: 150 }).shortBy).toBe(0);
    expect(new InsufficientSpaceError("m", { ...details, available: 100 }).shortBy).toBe(0);
  });

  it("InvalidReferenceError keeps the value as given, whatever it is", () => {
    const value = { not: "a string" };
    const e = new InvalidReferenceError("bad", value);
    expect(e.reference).toBe(value);
    expect([e.code, e.name]).toEqual(["invalidReference", "InvalidReferenceError"]);
  });

  it("a subclass made elsewhere still names itself", () => {
    class MyError extends ImageCacheError {}
    expect(new MyError("m", "internal").name).toBe("MyError");
    expect(String(new MyError("m", "internal"))).toBe("MyError: m");
  });
});

describe("withCallSite: a rejection's stack points at the caller", () => {
  it("the error's own first line, then the call site's frames", () => {
    const site = { stack: "Error\n    at caller (app.js:1:1)\n    at main (app.js:9:9)" };
    const e = withCallSite(new ImageNotFoundError("no such image", "app:1"), site);
    expect(e.stack).toBe("ImageNotFoundError: no such image\n    at caller (app.js:1:1)\n    at main (app.js:9:9)");
  });
  it("without frames, the stack is left alone", () => {
    for (const site of [{}, { stack: "" }, { stack: "Error" }]) {
      const e = new Error("x");
      const before = e.stack;
      expect(withCallSite(e, site)).toBe(e);
      expect(e.stack).toBe(before);
    }
  });
});
