/**
 * For scripts/valgrind-leaks.sh: a docker-save archive of four images (one sharing the others' base layer)
 * written to <dir>/images.tar, loaded by the real msb into <dir>/home, and one of them pinned by a sandbox
 * row, so the loop meets a pinned image, shared layers and unpinned ones.
 *
 *   npx vite-node scripts/valgrind/make-cache.ts <dir>
 */
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";

import { writeDockerSave, type ImageSpec } from "../../test/support/docker-save";
import { msbLoad, pinImage } from "../../test/support/msb";

const dir = resolve(process.argv[2] ?? "");
const base = { files: [{ path: "etc/os-release", content: "ID=valgrind\n" }, { path: "bin/sh", content: Buffer.alloc(2000, 1) }] };
const images: ImageSpec[] = [
  { repoTags: ["vg/base:1"], layers: [base] },
  { repoTags: ["vg/app:1", "vg/app:latest"], layers: [base, { files: [{ path: "app/x", content: "x\n" }] }], env: ["A=1"], cmd: ["/app/x"] },
  { repoTags: ["localhost:5000/vg/pinned:1"], layers: [base, { files: [{ path: "p", content: "p\n" }] }] },
  { repoTags: ["vg/solo:2"], layers: [{ files: [{ path: "solo", content: "solo\n" }] }], labels: { a: "b" } },
];

(async () => {
  const home = join(dir, "home");
  mkdirSync(home, { recursive: true });
  const tar = join(dir, "images.tar");
  await writeDockerSave(tar, images);
  await msbLoad(home, tar);
  await pinImage(home, "localhost:5000/vg/pinned:1", { name: "vg-pin" });
  console.log(JSON.stringify({ home, tar }));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
