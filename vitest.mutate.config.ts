import { defineConfig } from "vitest/config";

// The fast, in-process tests that StrykerJS runs against each mutant of lib/ (stryker.config.json,
// scripts/mutate-lib.sh): no msb, no child processes, no real caches. Keep this list to tests that
// finish in well under a second; the full suite is vitest.config.ts.
export default defineConfig({
  test: {
    include: [
      "test/unit/units.test.ts",
      "test/unit/prune-options.test.ts",
      "test/unit/validate.test.ts",
      "test/unit/errors.test.ts",
      "test/unit/columns.test.ts",
      "test/unit/metrics.test.ts",
      "test/cli/args.test.ts",
      "test/cli/format-text.test.ts",
      "test/cli/verify-table.test.ts",
    ],
    pool: "forks",
    testTimeout: 10_000,
    reporters: ["default"],
  },
});
