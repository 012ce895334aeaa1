/**
 * A small but varied image cache made by the real msb (0.6.18): write one docker-save archive, `msb load` it.
 *
 * Images (in archive order, so image_ref.created_at rises in this order and list() shows them reversed):
 *
 * | references                               | layers              | config                                   |
 * |------------------------------------------|---------------------|------------------------------------------|
 * | base:1                                   | BASE                | nothing (no Env/Cmd/Entrypoint/Labels…)  |
 * | app:1, app:latest, docker.io/library/app:2 | BASE, APP         | everything: env, cmd, entrypoint, workdir, user "", labels, stop signal, ports, volumes |
 * | localhost:5000/team/app:1                | BASE, TEAM, EXTRA   | env + cmd, user "1000:1000", arm64 image |
 * | plain (no tag)                           | SOLO                | entrypoint only                          |
 * | tools:2.0                                | TOOLS               | labels {} , env []                        |
 *
 * BASE is shared by three manifests (base:1, app, localhost…); every other layer belongs to one manifest.
 * Loading takes ~0.2 s.
 */
import { join } from "node:path";
import { writeDockerSave, type BuiltImage, type ImageSpec, type LayerSpec } from "./docker-save";

import { msbLoad } from "./msb";

export const BASE_LAYER: LayerSpec = {
  files: [
    { path: "etc/os-release", content: 'NAME="msb test base"\nID=msbtest\nVERSION_ID=1\n' },
    { path: "etc/passwd", content: "root:x:0:0:root:/root:/bin/sh\n" },
    { path: "bin/busybox", content: Buffer.alloc(3000, 0x7f), mode: 0o755 },
    { path: "bin/sh", type: "symlink", linkname: "busybox" },
    { path: "tmp", type: "directory", mode: 0o1777 },
  ],
};

export const APP_LAYER: LayerSpec = {
  files: [
    { path: "app/main.py", content: "print('hello from app')\n" },
    { path: "app/data.bin", content: Buffer.alloc(5000, 1) },
  ],
};

export const SAMPLE_IMAGES: ImageSpec[] = [
  { repoTags: ["base:1"], layers: [BASE_LAYER], created: "2024-01-01T00:00:00Z" },
  {
    repoTags: ["app:1", "app:latest", "docker.io/library/app:2"],
    layers: [BASE_LAYER, APP_LAYER],
    env: ["PATH=/usr/local/bin:/usr/bin:/bin", "APP_MODE=test", "EMPTY="],
    cmd: ["python", "/app/main.py"],
    entrypoint: ["/bin/sh", "-c"],
    workingDir: "/app",
    user: "",
    labels: { "org.opencontainers.image.title": "app", "com.example.team": "core", "empty": "" },
    stopSignal: "SIGINT",
    exposedPorts: ["8080/tcp"],
    volumes: ["/data"],
    created: "2024-02-03T04:05:06.789Z",
  },
  {
    repoTags: ["localhost:5000/team/app:1"],
    layers: [
      BASE_LAYER,
      { files: [{ path: "team/readme.txt", content: "team layer\n" }] },
      { files: [{ path: "team/extra.txt", content: "extra layer\n" }, { path: "team/bin/run", content: "#!/bin/sh\n", mode: 0o755 }] },
    ],
    env: ["TEAM=1"],
    cmd: ["/team/bin/run"],
    user: "1000:1000",
    architecture: "arm64",
    variant: "v8",
  },
  {
    repoTags: ["plain"],
    layers: [{ files: [{ path: "solo", content: "solo layer\n" }] }],
    entrypoint: ["/solo"],
    created: null,
  },
  {
    repoTags: ["tools:2.0"],
    layers: [{ files: [{ path: "usr/bin/tool", content: "tool\n", mode: 0o755 }] }],
    env: [],
    labels: {},
  },
];

/** Every reference in the sample cache, in load order (oldest first). */
export const SAMPLE_REFERENCES = SAMPLE_IMAGES.flatMap((i) => i.repoTags);

export interface SampleCache {
  home: string;
  tarPath: string;
  /** Configs, layer tars, diff_ids, sizes, as written (msb's manifest digests are its own; read them from msb). */
  images: BuiltImage[];
  references: string[];
}

/**
 * Write the sample docker-save archive to `<home>/sample.tar` (or `tarPath`) and `msb load` it into `home`.
 * `home` may be empty or already hold a cache.
 */
export async function buildSampleCache(home: string, opts: { tarPath?: string; images?: ImageSpec[] } = {}): Promise<SampleCache> {
  const tarPath = opts.tarPath ?? join(home, "sample.tar");
  const specs = opts.images ?? SAMPLE_IMAGES;
  const images = await writeDockerSave(tarPath, specs);
  await msbLoad(home, tarPath);
  return { home, tarPath, images, references: specs.flatMap((i) => i.repoTags) };
}
