// The published types: the .d.ts files npm would pack compile for a user without @types/node
// (a project with only TypeScript, "types": [], strict), and the string-literal unions reject typos
// (test/types/consumer.ts: every `@ts-expect-error` line must be an error, or tsc fails).
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { ensureCliBuilt } from "./support/cli";

const root = join(__dirname, "..");
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
let project: string;

beforeAll(async () => {
  await ensureCliBuilt(); // dist/ up to date with lib/
  project = mkdtempSync(join(tmpdir(), "msb-types-"));
  // What `npm pack` would publish (no tarball written, no scripts run): its .d.ts files and package.json.
  const packed = JSON.parse(execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: root, encoding: "utf8" })) as [
    { files: { path: string }[] },
  ];
  const pkgDir = join(project, "node_modules", "msb-image-cache");
  const files = packed[0].files.map((f) => f.path).filter((p) => p.endsWith(".d.ts") || p === "package.json");
  expect(files).toContain("dist/index.d.ts");
  for (const f of files) {
    mkdirSync(dirname(join(pkgDir, f)), { recursive: true });
    cpSync(join(root, f), join(pkgDir, f));
  }
  writeFileSync(
    join(project, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, types: [], noEmit: true, skipLibCheck: false },
      files: ["consumer.ts"],
    }),
  );
  writeFileSync(join(project, "consumer.ts"), readFileSync(join(__dirname, "types", "consumer.ts"), "utf8"));
}, 180_000);

afterAll(() => rmSync(project, { recursive: true, force: true }));

function compile(): { code: number; output: string } {
  try {
    return { code: 0, output: execFileSync(process.execPath, [tsc, "-p", project], { encoding: "utf8" }) };
  } catch (e) {
    const err = e as { status: number; stdout: string; stderr: string };
    return { code: err.status, output: err.stdout + err.stderr };
  }
}

describe("published types", () => {
  it("compile without @types/node, strict, and reject misspelt codes, reasons and kinds", () => {
    const r = compile();
    expect(r.output).toBe("");
    expect(r.code).toBe(0);
  }, 120_000);

  it("the bare project really has no Node types: a use of Buffer there fails", () => {
    writeFileSync(join(project, "consumer.ts"), readFileSync(join(__dirname, "types", "consumer.ts"), "utf8") + "\nexport const b = Buffer.from('x');\n");
    try {
      const r = compile();
      expect(r.code).not.toBe(0);
      expect(r.output).toMatch(/Cannot find name 'Buffer'/);
    } finally {
      writeFileSync(join(project, "consumer.ts"), readFileSync(join(__dirname, "types", "consumer.ts"), "utf8"));
    }
  }, 120_000);
});
