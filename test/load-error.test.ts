// The message when no native addon loads: what was looked for, what this host is, how to build from source.
// Runs lib/native.ts (transpiled here, so a stale dist/ does not matter) from a copy of the package that has
// no build/ and only prebuilds for other platforms/libcs, in a child process; the real addon is never touched.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = join(__dirname, "..");
const tuple = `${process.platform}-${process.arch}`;
let pkg: string;

function loadIn(env: Record<string, string> = {}): { status: number | null; stderr: string } {
  const script = `try { require(${JSON.stringify(join(pkg, "dist", "native.js"))}); console.log("loaded") }
    catch (e) { console.error(e.message); console.error("CAUSE: " + (e.cause && e.cause.message)); process.exit(3) }`;
  const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", env: { ...process.env, ...env } });
  return { status: r.status, stderr: r.stderr };
}

beforeAll(() => {
  pkg = mkdtempSync(join(tmpdir(), "msb-load-"));
  const source = readFileSync(join(root, "lib", "native.ts"), "utf8");
  const js = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  }).outputText;
  mkdirSync(join(pkg, "dist"));
  writeFileSync(join(pkg, "dist", "native.js"), js);
  writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "msb-image-cache", version: "0.0.0" }));
  mkdirSync(join(pkg, "node_modules"));
  symlinkSync(join(root, "node_modules", "node-gyp-build"), join(pkg, "node_modules", "node-gyp-build"));
  // A prebuild for this platform but the other libc (an empty file: loading it would fail), and one elsewhere.
  const otherLibc = process.env.LIBC === "musl" ? "glibc" : "musl";
  mkdirSync(join(pkg, "prebuilds", tuple), { recursive: true });
  writeFileSync(join(pkg, "prebuilds", tuple, `msb-image-cache.${otherLibc}.node`), "");
  mkdirSync(join(pkg, "prebuilds", "plan9-mips"), { recursive: true });
  writeFileSync(join(pkg, "prebuilds", "plan9-mips", "msb-image-cache.node"), "");
});

afterAll(() => {
  if (pkg) rmSync(pkg, { recursive: true, force: true });
});

describe("native addon load failure", () => {
  it("lists the places looked in, the host, and the build-from-source command", () => {
    const { status, stderr } = loadIn({ LIBC: "" });
    expect(status).toBe(3);
    expect(stderr).toContain(`could not load the native addon for ${tuple}`);
    expect(stderr).toContain(`Node ${process.version}`);
    expect(stderr).toMatch(/libc: (glibc \d+\.\d+|musl|none|unknown)/);
    expect(stderr).toContain(`${join(pkg, "build", "Release")}/*.node (missing)`);
    expect(stderr).toContain(`${join(pkg, "build", "Debug")}/*.node (missing)`);
    expect(stderr).toContain(`${join(pkg, "prebuilds", tuple)}/*.node with libc tag glibc or none`);
    expect(stderr).toContain(`abi${process.versions.modules}, napi or none`);
    expect(stderr).toContain("msb-image-cache.glibc.node");
    expect(stderr).toContain("found: msb-image-cache.musl.node");
    expect(stderr).toMatch(/found: .*plan9-mips/);
    expect(stderr).toContain("npm rebuild msb-image-cache");
    expect(stderr).toContain("No native build was found"); // node-gyp-build's own reason, kept as cause
  });

  it("keeps the loader's reason when a matching file fails to load", () => {
    // With LIBC=musl the empty musl prebuild matches: dlopen fails, and the message says so.
    const { status, stderr } = loadIn({ LIBC: "musl" });
    expect(status).toBe(3);
    expect(stderr).toContain("e.g. msb-image-cache.musl.node");
    expect(stderr).toMatch(/could not load the native addon for .*: .*(too short|invalid ELF|not a valid)/i);
  });
});
