import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

// native/ is grouped by layer (CONTRIBUTING "Layout"); these keep the folders telling the truth: a file
// includes only its own layer and those below it, binding.gyp builds every source, and platform/ is the
// one place that knows which platform it is on.
const root = join(__dirname, "..", "..");
const native = join(root, "native");
// Top to bottom. runtime/ (an instance's state, the promise worker, progress, C++ → JS values) is what
// operations run on; the write path also uses it (removal takes the instance's state and builds the
// report), the one edge upwards.
const LAYERS = ["addon", "operations", "runtime", "write_path", "storage", "formats", "base", "platform"];
const ALLOWED_UP = new Set(["write_path→runtime"]);

function nativeFiles(): { layer: string; file: string; text: string }[] {
  return readdirSync(native, { withFileTypes: true }).flatMap((d) => {
    if (!d.isDirectory()) return [{ layer: "", file: d.name, text: "" }];
    return readdirSync(join(native, d.name)).map((f) => ({
      layer: d.name,
      file: `${d.name}/${f}`,
      text: readFileSync(join(native, d.name, f), "utf8"),
    }));
  });
}

describe("native/ layers", () => {
  const files = nativeFiles();

  it("every file sits in a layer's folder", () => {
    expect(files.filter((f) => !LAYERS.includes(f.layer)).map((f) => f.file)).toEqual([]);
    expect(files.length).toBeGreaterThan(40);
  });

  it("a file includes only its own layer and those below it (named by layer: \"storage/catalog.h\")", () => {
    const wrong: string[] = [];
    for (const f of files) {
      for (const m of f.text.matchAll(/^#include "([^"]+)"/gm)) {
        const target = m[1]!;
        const layer = target.split("/")[0]!;
        if (!target.includes("/") || !LAYERS.includes(layer)) {
          wrong.push(`${f.file}: "${target}" does not name its layer`);
          continue;
        }
        const up = LAYERS.indexOf(layer) < LAYERS.indexOf(f.layer);
        if (up && !ALLOWED_UP.has(`${f.layer}→${layer}`)) wrong.push(`${f.file} → ${target}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("binding.gyp builds every .cc under native/, and names no other", () => {
    const gyp = readFileSync(join(root, "binding.gyp"), "utf8");
    const built = [...gyp.matchAll(/"(native\/[^"]+\.cc)"/g)].map((m) => m[1]).sort();
    const present = files.filter((f) => f.file.endsWith(".cc")).map((f) => `native/${f.file}`).sort();
    expect(built).toEqual(present);
  });

  it("only platform/ tests the platform or names a platform's stat fields", () => {
    // (in_flight.cc uses inotify under platform.h's MSB_HAVE_INOTIFY, not under a platform test.)
    const platformSpecific = /__linux__|__APPLE__|_WIN32|st_ctim|st_mtim|st_atim/;
    const outside = files.filter((f) => f.layer !== "platform" && platformSpecific.test(f.text)).map((f) => f.file);
    expect(outside).toEqual([]);
  });
});
