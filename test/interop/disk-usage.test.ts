// diskUsage() on msb-made caches: totals that match the files, per-image sizes, and a
// reclaimableBytes equal to what prune() then reclaims.
import { execFileSync } from "node:child_process";
import { mkdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { ImageCache } from "../../lib/index";
import { binding } from "../../lib/native";
import { listFiles, makeHome, pinImage, pinSnapshot, sql } from "../support/msb";
import { metadataFileName as oracleMetadataFileName, oracleStem } from "../support/oracle";
import { sampleCacheEach } from "../support/sample-cache";

let home: string;
let cache: ImageCache;
sampleCacheEach((h, c) => {
  home = h;
  cache = c;
});

const stem = (d: string) => d.replace(":", "_");

describe("diskUsage()", () => {
  it("totals every file under the cache, split by kind", async () => {
    await mkdir(join(home, "cache", "tmp"), { recursive: true });
    await writeFile(join(home, "cache", "tmp", "load-1-2-3.blob"), Buffer.alloc(1234));
    await writeFile(join(home, "cache", "layers", "sha256_" + "f".repeat(64) + ".tar.gz"), Buffer.alloc(777));
    await writeFile(join(home, "cache", "layers", "sha256_" + "e".repeat(64) + ".erofs"), Buffer.alloc(4096));
    const files = await listFiles(join(home, "cache"));
    const u = await cache.diskUsage();
    expect(u.totalBytes).toBe(files.reduce((n, f) => n + f.size, 0));
    expect(Object.values(u.byKind).reduce((n, b) => n + b, 0)).toBe(u.totalBytes);
    expect(u.byKind.tmp).toBe(1234);
    expect(u.byKind.orphans).toBe(777 + 4096);
    const sum = (prefix: string, suffix: string) =>
      files.filter((f) => f.path.startsWith(prefix) && f.path.endsWith(suffix)).reduce((n, f) => n + f.size, 0);
    expect(u.byKind.fsmeta).toBe(sum("fsmeta/", ".erofs"));
    expect(u.byKind.vmdk).toBe(sum("vmdk/", ".vmdk"));
    expect(u.byKind.metadata).toBe(sum("manifests/", ".json"));
    expect(u.byKind.layers).toBe(sum("layers/", ".erofs") - 4096);
    expect(u.allocatedBytes).toBeGreaterThan(0);
  });

  it("sizes each image: virtual disk from its VMDK, unique and shared files", async () => {
    const u = await cache.diskUsage();
    expect(u.images.map((i) => i.reference)).toEqual((await cache.list()).map((h) => h.reference));
    const files = new Map((await listFiles(join(home, "cache"))).map((f) => [f.path, f.size]));
    for (const img of u.images) {
      const detail = await cache.inspect(img.reference);
      const vmdk = binding.formats.parseVmdk(await readFile(join(home, "cache", "vmdk", stem(img.manifestDigest) + ".vmdk"), "utf8"));
      expect(img.virtualBytes).toBe(vmdk.virtualBytes);
      const fsmeta = files.get(`fsmeta/${stem(img.manifestDigest)}.erofs`)!;
      expect(img.virtualBytes).toBe(fsmeta + detail.layers.reduce((n, l) => n + l.erofsSizeBytes!, 0));
      const own =
        fsmeta +
        files.get(`vmdk/${stem(img.manifestDigest)}.vmdk`)! +
        detail.layers.reduce((n, l) => n + l.erofsSizeBytes!, 0) +
        files.get("manifests/" + binding.formats.metadataFileName(img.reference)!)!;
      expect(img.uniqueBytes + img.sharedBytes).toBe(own);
      expect(img.lastUsedAt).toEqual(detail.lastUsedAt);
    }
    // Per image, against an independent count of each file's users, from the rows and the file list
    // (test/support/oracle.ts names files; nothing here comes from the library).
    const rows = await sql<{ reference: string; digest: string; diff_id: string | null }>(
      home,
      "SELECT r.reference, m.digest, l.diff_id FROM image_ref r JOIN manifest m ON m.id = r.manifest_id " +
        "LEFT JOIN manifest_layer ml ON ml.manifest_id = m.id LEFT JOIN layer l ON l.id = ml.layer_id",
    );
    const users = new Map<string, Set<string>>();
    const use = (path: string, ref: string) => {
      if (!files.has(path)) return;
      if (!users.has(path)) users.set(path, new Set());
      users.get(path)!.add(ref);
    };
    for (const r of rows) {
      use(`fsmeta/${oracleStem(r.digest)}.erofs`, r.reference);
      use(`vmdk/${oracleStem(r.digest)}.vmdk`, r.reference);
      if (r.diff_id) use(`layers/${oracleStem(r.diff_id)}.erofs`, r.reference);
      use(`manifests/${oracleMetadataFileName(r.reference)}`, r.reference);
    }
    for (const img of u.images) {
      let unique = 0;
      let shared = 0;
      for (const [path, who] of users) {
        if (!who.has(img.reference)) continue;
        if (who.size === 1) unique += files.get(path)!;
        else shared += files.get(path)!;
      }
      expect({ ref: img.reference, unique: img.uniqueBytes, shared: img.sharedBytes }).toEqual({ ref: img.reference, unique, shared });
    }
    const plain = u.images.find((i) => i.reference === "plain")!;
    expect(plain.sharedBytes).toBe(0); // its own layer, manifest and metadata
    const app = u.images.find((i) => i.reference === "app:1")!;
    const appFsmeta = files.get(`fsmeta/${stem(app.manifestDigest)}.erofs`)!;
    expect(app.sharedBytes).toBeGreaterThanOrEqual(appFsmeta); // three tags share the manifest
  });

  it("a file exactly two references use is shared by both, unique to neither", async () => {
    // The sample has files used by 1, 3 and 5 references; a second tag of plain's manifest makes its
    // fsmeta, VMDK and layer used by exactly two (the JSON stays plain's own; plain:two has none).
    await sql(home, "INSERT INTO image_ref(reference, manifest_id, created_at, updated_at) SELECT 'plain:two', manifest_id, created_at, updated_at FROM image_ref WHERE reference = 'plain'");
    const [row] = await sql<{ digest: string; diff_id: string }>(
      home,
      "SELECT m.digest, l.diff_id FROM image_ref r JOIN manifest m ON m.id = r.manifest_id JOIN manifest_layer ml ON ml.manifest_id = m.id JOIN layer l ON l.id = ml.layer_id WHERE r.reference = 'plain'",
    );
    const files = new Map((await listFiles(join(home, "cache"))).map((f) => [f.path, f.size]));
    const size = (p: string) => files.get(p) ?? 0;
    const shared = size(`fsmeta/${oracleStem(row!.digest)}.erofs`) + size(`vmdk/${oracleStem(row!.digest)}.vmdk`) + size(`layers/${oracleStem(row!.diff_id)}.erofs`);
    expect(shared).toBeGreaterThan(0);
    const u = await cache.diskUsage();
    const of = (ref: string) => u.images.find((i) => i.reference === ref)!;
    expect({ unique: of("plain").uniqueBytes, shared: of("plain").sharedBytes }).toEqual({ unique: size(`manifests/${oracleMetadataFileName("plain")}`), shared });
    expect({ unique: of("plain:two").uniqueBytes, shared: of("plain:two").sharedBytes }).toEqual({ unique: 0, shared });
  });

  it("a layer a manifest lists twice is counted once, still unique to its one image", async () => {
    // Two identical layers (an image built with the same step twice) share one diff_id: msb's index is
    // unique by (manifest, position) only, so the layer is listed at two positions.
    const before = (await cache.diskUsage()).images.find((i) => i.reference === "plain")!;
    await sql(
      home,
      "INSERT INTO manifest_layer(manifest_id, layer_id, position) SELECT ml.manifest_id, ml.layer_id, 1 + (SELECT MAX(position) FROM manifest_layer WHERE manifest_id = ml.manifest_id) " +
        "FROM manifest_layer ml JOIN image_ref r ON r.manifest_id = ml.manifest_id WHERE r.reference = 'plain'",
    );
    const after = (await cache.diskUsage()).images.find((i) => i.reference === "plain")!;
    expect(before.sharedBytes).toBe(0);
    expect({ unique: after.uniqueBytes, shared: after.sharedBytes }).toEqual({ unique: before.uniqueBytes, shared: 0 });
  });

  it("reclaimableBytes equals the bytes the next prune() reclaims, pins included", async () => {
    const pin = await pinImage(home, "base:1", { name: "sb-1" });
    const [tools] = await sql<{ digest: string }>(home, "SELECT m.digest FROM manifest m JOIN image_ref r ON r.manifest_id = m.id WHERE r.reference = 'tools:2.0'");
    await pinSnapshot(home, tools!.digest, { name: "snap-1" });
    const u = await cache.diskUsage();
    expect(u.images.find((i) => i.reference === "base:1")!.pinnedBy).toEqual(["sandbox:sb-1"]);
    expect(u.images.find((i) => i.reference === "tools:2.0")!.pinnedBy).toEqual(["snapshot:snap-1"]);
    const r = await cache.prune();
    expect(u.reclaimableBytes).toBe(r.bytesReclaimed);
    // and with nothing left to take
    await sql(home, "DELETE FROM sandbox WHERE id = ?", [pin.sandboxId]);
    const u2 = await cache.diskUsage();
    const r2 = await cache.prune();
    expect(u2.reclaimableBytes).toBe(r2.bytesReclaimed ?? 0);
    expect((await cache.diskUsage()).reclaimableBytes).toBe(0);
  });

  it("reads each VMDK descriptor whole, never through a link, a FIFO or past its size limit", async () => {
    // Five images with a manifest of their own, each descriptor replaced by something else. The walk reads
    // descriptors as it lists vmdk/ (cache_walk.cc).
    const before = new Map((await cache.diskUsage()).images.map((i) => [i.reference, i]));
    const refs = ["base:1", "plain", "tools:2.0", "localhost:5000/team/app:1", "app:1"];
    const file = (ref: string) => join(home, "cache", "vmdk", stem(before.get(ref)!.manifestDigest) + ".vmdk");
    const text = Object.fromEntries(await Promise.all(refs.map(async (r) => [r, await readFile(file(r), "utf8")] as const)));
    for (const r of refs) expect(before.get(r)!.virtualBytes, r).toBeGreaterThan(0);
    const comments = (bytes: number) => ("# padding\n").repeat(Math.ceil(bytes / 10));
    const outside = join(await makeHome("msbvmdk-"), "descriptor.vmdk");
    await writeFile(outside, text["plain"]!);
    await rm(file("plain"));
    await symlink(outside, file("plain")); // a link to a good descriptor: not followed
    await rm(file("tools:2.0"));
    execFileSync("mkfifo", [file("tools:2.0")]); // no writer: a blocking open or read would hang the call
    await writeFile(file("base:1"), comments(9000) + text["base:1"]!); // far longer than the usual few hundred bytes
    await writeFile(file("localhost:5000/team/app:1"), comments(1 << 20) + text["localhost:5000/team/app:1"]!); // > 1 MiB
    await rm(file("app:1"));
    await mkdir(file("app:1")); // a directory where the descriptor was
    const after = new Map((await cache.diskUsage()).images.map((i) => [i.reference, i]));
    expect(refs.map((r) => [r, after.get(r)!.virtualBytes])).toEqual([
      ["base:1", before.get("base:1")!.virtualBytes],
      ["plain", null],
      ["tools:2.0", null],
      ["localhost:5000/team/app:1", null],
      ["app:1", null],
    ]);
    expect(after.get("app:latest")!.virtualBytes).toBeNull(); // a tag of app:1's manifest
  });

  it("reports zeros for a home without a database or cache", async () => {
    const c = new ImageCache({ home: await makeHome() });
    const u = await c.diskUsage();
    expect(u).toMatchObject({ totalBytes: 0, images: [], reclaimableBytes: 0 });
    await c.close();
  });
});
