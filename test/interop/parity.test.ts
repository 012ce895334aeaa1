// list/get/inspect against the official addon (through the official SDK's shaping) on caches
// made by the real msb 0.6.18: every field, in the same order.
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { ImageCache, ImageDetail, ImageHandle } from "../../lib/index";
import { cleanupHomes, makeHome, msbImageJson, official, sql, type SdkImageHandle } from "../support/msb";
import { buildSampleCache, SAMPLE_REFERENCES } from "../support/sample-cache";

function asSdk(h: ImageHandle): SdkImageHandle {
  return {
    reference: h.reference,
    sizeBytes: h.sizeBytes,
    manifestDigest: h.manifestDigest,
    architecture: h.architecture,
    os: h.os,
    layerCount: h.layerCount,
    lastUsedAt: h.lastUsedAt,
    createdAt: h.createdAt,
  };
}

let home: string;
let cache: ImageCache;

beforeAll(async () => {
  home = await makeHome();
  await buildSampleCache(home);
  cache = new ImageCache({ home });
});

afterAll(async () => {
  await cache.close();
  await cleanupHomes();
});

describe("on a cache made by msb load", () => {
  it("list() equals the official list, field by field and in order", async () => {
    const [ours, theirs] = await Promise.all([cache.list(), official(home).sdk.list()]);
    expect(ours.map((h) => h.reference).sort()).toEqual([...SAMPLE_REFERENCES].sort());
    expect(ours.map(asSdk)).toEqual(theirs);
    for (const h of ours) expect(h).toBeInstanceOf(ImageHandle);
  });

  it("list() order matches msb image ls", async () => {
    const ls = await msbImageJson<{ reference: string; digest: string; size_bytes: number; layer_count: number }[]>(home, ["ls"]);
    const ours = await cache.list();
    expect(ours.map((h) => [h.reference, h.manifestDigest, h.sizeBytes, h.layerCount])).toEqual(
      ls.map((r) => [r.reference, r.digest, r.size_bytes, r.layer_count]),
    );
  });

  it("get() equals the official get for every reference", async () => {
    const o = official(home);
    const theirs = await o.batch(SAMPLE_REFERENCES.map((r) => ({ fn: "imageGet", args: [r] })));
    for (const [i, ref] of SAMPLE_REFERENCES.entries()) {
      const ours = await cache.get(ref);
      const t = theirs[i]!.value as Record<string, unknown>;
      expect(asSdk(ours)).toEqual({
        reference: t.reference,
        sizeBytes: t.sizeBytes ?? null,
        manifestDigest: t.manifestDigest ?? null,
        architecture: t.architecture ?? null,
        os: t.os ?? null,
        layerCount: t.layerCount,
        lastUsedAt: typeof t.lastUsedAt === "number" ? new Date(t.lastUsedAt) : null,
        createdAt: typeof t.createdAt === "number" ? new Date(t.createdAt) : null,
      });
    }
  });

  it("inspect() equals the official inspect, with EROFS sizes read from the layer files", async () => {
    for (const ref of SAMPLE_REFERENCES) {
      const [ours, theirs] = await Promise.all([cache.inspect(ref), official(home).sdk.inspect(ref)]);
      expect(ours).toBeInstanceOf(ImageDetail);
      expect(asSdk(ours)).toEqual(theirs.handle);
      expect(asSdk(ours.handle)).toEqual(theirs.handle);
      expect(ours.config).toEqual(theirs.config);
      expect(ours.layers.map((l) => ({ ...l, erofsSizeBytes: null }))).toEqual(theirs.layers);
      for (const layer of ours.layers) {
        // msb never writes the column; the superblock's size equals the file's length.
        const file = join(home, "cache", "layers", layer.diffId.replace(":", "_") + ".erofs");
        expect(layer.erofsSizeBytes).toBe((await stat(file)).size);
      }
    }
  });

  it("keeps an empty user as \"\" and unset fields as null", async () => {
    const app = await cache.inspect("app:1");
    expect(app.config?.user).toBe("");
    expect(app.config?.labels).toEqual({ "com.example.team": "core", empty: "", "org.opencontainers.image.title": "app" });
    const base = await cache.inspect("base:1");
    expect(base.config).toMatchObject({ env: [], cmd: null, entrypoint: null, workingDir: null, user: null, labels: null });
  });

  it("toJSON() gives the handle's fields with ISO dates", async () => {
    const h = await cache.get("app:1");
    const json = JSON.parse(JSON.stringify(h));
    expect(Object.keys(json)).toEqual([
      "reference",
      "manifestDigest",
      "architecture",
      "os",
      "layerCount",
      "sizeBytes",
      "createdAt",
      "lastUsedAt",
    ]);
    expect(json.createdAt).toBe(h.createdAt?.toISOString());
    expect(() => {
      (h as unknown as { reference: string }).reference = "x";
    }).toThrow(TypeError);
  });

  it("handles spread as {} by design (docs/api.md: lazily decoded getters); { ...h.toJSON() } is the plain-data view", async () => {
    const [h] = (await cache.list()).filter((x) => x.reference === "app:1");
    expect({ ...h }).toEqual({});
    expect(Object.keys(h!)).toEqual([]);
    const spread = { ...h!.toJSON(), host: "h1" };
    expect(spread).toMatchObject({ reference: "app:1", manifestDigest: h!.manifestDigest, host: "h1" });
    expect(JSON.parse(JSON.stringify({ ...h!.toJSON() }))).toEqual(JSON.parse(JSON.stringify(h)));
  });

  it("erofsSizeBytes is null when the layer file is missing or not EROFS", async () => {
    const copy = await makeHome();
    await buildSampleCache(copy);
    const c = new ImageCache({ home: copy });
    try {
      const before = await c.inspect("plain");
      const file = join(copy, "cache", "layers", before.layers[0]!.diffId.replace(":", "_") + ".erofs");
      const { writeFile, rm } = await import("node:fs/promises");
      await writeFile(file, Buffer.alloc(8192));
      expect((await c.inspect("plain")).layers[0]!.erofsSizeBytes).toBeNull();
      await rm(file);
      expect((await c.inspect("plain")).layers[0]!.erofsSizeBytes).toBeNull();
    } finally {
      await c.close();
    }
  });

  it("a garbage timestamp nulls that field only (the official addon fails the whole list)", async () => {
    const copy = await makeHome();
    await buildSampleCache(copy);
    await sql(copy, "UPDATE image_ref SET created_at = 'garbage', updated_at = 12345 WHERE reference = 'plain'");
    const c = new ImageCache({ home: copy });
    try {
      const list = await c.list();
      expect(list).toHaveLength(SAMPLE_REFERENCES.length);
      const plain = list.find((h) => h.reference === "plain")!;
      expect(plain.createdAt).toBeNull();
      expect(plain.lastUsedAt).toBeNull();
      expect(list.filter((h) => h.createdAt instanceof Date)).toHaveLength(SAMPLE_REFERENCES.length - 1);
      await expect(official(copy).sdk.list()).rejects.toThrow(/invalid datetime|decod/);
    } finally {
      await c.close();
    }
  });
});
