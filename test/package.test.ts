// The built package: `require` and `import` both work on Node 20 and share one module instance.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(__dirname, "..");

describe("package entry points", () => {
  it("require() and import() expose the same API and the same Image", () => {
    const script = `
      const cjs = require("msb-image-cache");
      import("msb-image-cache").then((esm) => {
        const names = (o) => Object.keys(o).filter((k) => k !== "default" && k !== "__esModule").sort();
        console.log(JSON.stringify({
          cjs: names(cjs), esm: names(esm),
          same: esm.Image === cjs.Image && esm.ImageCache === cjs.ImageCache,
          imageIsCache: cjs.Image instanceof cjs.ImageCache,
        }));
      });`;
    // Resolve the package by name from its own root, through package.json "exports".
    const out = JSON.parse(execFileSync(process.execPath, ["-e", script], { cwd: root, encoding: "utf8" }));
    expect(out.cjs).toEqual(out.esm);
    expect(out.cjs).toContain("Image");
    expect(out.cjs).toContain("ImageNotFoundError");
    for (const name of ["Collector", "CollectorStoppedError", "METRICS_CONTENT_TYPE", "registerPromClient"]) expect(out.cjs).toContain(name);
    expect(out.same).toBe(true);
    expect(out.imageIsCache).toBe(true);
  });
});
