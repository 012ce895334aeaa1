// formatBytes checked against the real msb: every row is what `msb image ls` prints. The in-process
// tests of the formatters and of the argument parser are in format-text.test.ts and args.test.ts.
import { afterAll, describe, expect, it } from "vitest";

import { cleanupHomes, makeHome, msbImage, sql, sqlTx } from "../support/msb";
import { buildSampleCache } from "../support/sample-cache";
import { formatBytes } from "../../lib/cli/format";

const BYTES_ROWS: Array<[number, string]> = [
    [0, "0 B"],
    [1023, "1023 B"],
    [1024, "1.0 KiB"],
    [1152, "1.1 KiB"], // 1.125
    [1280, "1.2 KiB"], // 1.25: Rust rounds ties to even
    [1792, "1.8 KiB"], // 1.75
    [3328, "3.2 KiB"], // 3.25
    [16896, "16.5 KiB"],
    [1048535, "1024.0 KiB"], // 1023.96 KiB: the unit is chosen before rounding
    [1048576, "1.0 MiB"],
    [14_628_864, "14.0 MiB"],
    [1024 ** 3, "1.0 GiB"],
    [1024 ** 4, "1.0 TiB"],
    [5 * 1024 ** 5, "5120.0 TiB"],
    [-5, "0 B"],
];

describe("formatBytes: microsandbox_utils::format_bytes (checked against msb's ls)", () => {
  it.each(BYTES_ROWS)("%d → %s", (n, s) => expect(formatBytes(n)).toBe(s));

  afterAll(cleanupHomes);
  it("every row is what `msb image ls` prints in its SIZE column for that total_size_bytes", async () => {
    const home = await makeHome();
    await buildSampleCache(home);
    const manifests = (await sql<{ id: number; reference: string }>(home, "SELECT manifest_id AS id, min(reference) AS reference FROM image_ref GROUP BY manifest_id ORDER BY manifest_id"));
    expect(manifests.length).toBeGreaterThan(1);
    for (let i = 0; i < BYTES_ROWS.length; i += manifests.length) {
      const batch = BYTES_ROWS.slice(i, i + manifests.length);
      await sqlTx(home, batch.map(([n], k) => ({ sql: "UPDATE manifest SET total_size_bytes = ? WHERE id = ?", params: [n, manifests[k]!.id] })));
      const r = await msbImage(home, ["ls"]);
      expect(r.code).toBe(0);
      const [header, ...lines] = r.stdout.split("\n").filter((l) => l.length > 0);
      const from = header!.indexOf("SIZE");
      const to = header!.indexOf("CREATED");
      expect(from).toBeGreaterThan(0);
      const sizeOf = new Map(lines.map((l) => [l.split(/\s+/)[0]!, l.slice(from, to).trim()]));
      for (const [k, [n, text]] of batch.entries()) {
        const theirs = sizeOf.get(manifests[k]!.reference);
        expect({ n, msb: theirs }).toEqual({ n, msb: text });
        expect(formatBytes(n)).toBe(theirs);
      }
    }
  });
});
