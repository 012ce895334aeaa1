import { describe, expect, it } from "vitest";
import { checkPruneOptions } from "../../lib/validate";

// prune()'s options as the facade hands them to op_prune.cc: the human forms of lib/units.ts, the
// targets as { bytes } or { percent }, policies in order. Bad input: a precise TypeError/RangeError.
describe("checkPruneOptions", () => {
  const now = 1_800_000_000_000;
  it("durations and sizes in the CLI's forms, numbers as before", () => {
    const { native } = checkPruneOptions({ olderThan: "7d", minAge: "10m", maxBytes: "20GiB", graceMs: "1h" }, now);
    expect(native.policies).toEqual([expect.objectContaining({ lastUsedBeforeMs: now - 7 * 86_400_000, createdAfterMs: now - 600_000 })]);
    expect(native.maxBytes).toEqual({ bytes: 20 * 1024 ** 3 });
    expect(native.graceMs).toBe(3_600_000);
    expect(checkPruneOptions({ maxBytes: 5, olderThan: 1000 }, now).native).toMatchObject({
      maxBytes: { bytes: 5 },
      policies: [{ lastUsedBeforeMs: now - 1000 }],
    });
  });
  it("targets as shares of the file system", () => {
    const { native } = checkPruneOptions({ maxBytes: "40%", minFreeSpace: "15%", reservedSpace: "2GiB" }, now);
    expect(native).toMatchObject({ maxBytes: { percent: 40 }, minFreeSpace: { percent: 15 }, reservedSpace: { bytes: 2 * 1024 ** 3 } });
  });
  it("policies: in order, the top level's keep joined to each, keep functions collected", () => {
    const fn = () => true;
    const r = checkPruneOptions({ keep: ["pinned/*"], minFreeSpace: "10%", policies: [{ olderThan: "1d", filter: { reference: "ci/*" } }, { keep: fn, maxBytes: "40%" }] }, now);
    expect(r.native.policies).toEqual([
      expect.objectContaining({ keep: ["pinned/*"], lastUsedBeforeMs: now - 86_400_000, referenceGlobs: ["ci/*"] }),
      expect.objectContaining({ keep: ["pinned/*"], maxBytes: { percent: 40 } }),
    ]);
    expect(r.native.minFreeSpace).toEqual({ percent: 10 });
    expect(r.keepFns).toEqual([[], [fn]]);
  });
  it("refuses what cannot be meant", () => {
    const bad: Array<[unknown, ErrorConstructor, RegExp]> = [
      [{ maxBytes: "101%" }, RangeError, /"maxBytes" is not a size.*between 0% and 100%/],
      [{ minFreeSpace: -1 }, RangeError, /"minFreeSpace" must be a whole number of bytes ≥ 0/],
      [{ reservedSpace: "10" }, RangeError, /needs a unit/],
      [{ maxBytes: 1.5 }, RangeError, /whole number/],
      [{ maxBytes: true }, TypeError, /"maxBytes" must be a number of bytes or a string/],
      [{ olderThan: "7" }, RangeError, /"olderThan" is not a duration/],
      [{ minAge: "soon" }, RangeError, /"minAge" is not a duration/],
      [{ policies: {} }, TypeError, /"policies" must be an array/],
      [{ policies: [] }, RangeError, /must not be empty/],
      [{ policies: [null] }, TypeError, /policies\[0\]: must be an object/],
      [{ policies: [{ policies: [{}] }] }, TypeError, /policies\[0\]: policies cannot be nested/],
      [{ policies: [{ dryRun: true }] }, TypeError, /policies\[0\]: unknown option "dryRun"/],
      [{ policies: [{ maxBytes: "200%" }] }, RangeError, /policies\[1\]|policies\[0\].*"maxBytes"/],
      [{ filter: { reference: "x" }, policies: [{}] }, TypeError, /"filter" cannot be given beside "policies"/],
      [{ keep: 3 }, TypeError, /"keep" must be a string, an array of strings or a function/],
      [{ minFreeSpce: "1GiB" }, TypeError, /unknown option "minFreeSpce"/],
    ];
    for (const [options, type, message] of bad) {
      expect(() => checkPruneOptions(options, now), JSON.stringify(options)).toThrow(type);
      expect(() => checkPruneOptions(options, now), JSON.stringify(options)).toThrow(message);
    }
  });
});
