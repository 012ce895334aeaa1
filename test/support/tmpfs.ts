// A home on a fresh tmpfs of a fixed size (CI runs as root): a file system only the test writes to, so
// its usage is exactly what msb and the library put there.
import { randomBytes } from "node:crypto";
import { statfs } from "node:fs/promises";
import { join } from "node:path";

import { writeDockerSave } from "./docker-save";
import { cleanupHomes, makeHome, msbEnv, run } from "./msb";

const mounted: string[] = [];

export async function tmpfsHome(size = "64m"): Promise<string> {
  const dir = await makeHome("msbcol-");
  const r = await run("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], msbEnv(dir));
  if (r.code !== 0) throw new Error(`mount -t tmpfs failed (the collector tests need root): ${r.stderr.trim()}`);
  mounted.push(dir);
  return dir;
}

export async function unmountAll(): Promise<void> {
  for (const dir of mounted.splice(0)) await run("umount", ["-l", dir], msbEnv(dir));
  await cleanupHomes();
}

export async function fsUsed(dir: string): Promise<{ size: number; free: number; used: number }> {
  const s = await statfs(dir);
  const size = s.blocks * s.bsize;
  const free = s.bavail * s.bsize;
  return { size, free, used: size - free };
}

export const MiB = 1024 * 1024;

/** A docker-save archive of one image whose single layer holds `bytes` of random (incompressible) data. */
export async function bigImageTar(dir: string, name: string, references: string[], bytes: number): Promise<string> {
  const tar = join(dir, `${name}.tar`);
  await writeDockerSave(tar, [{ repoTags: references, layers: [{ files: [{ path: `data/${name}`, content: randomBytes(bytes) }] }] }]);
  return tar;
}
