/**
 * Writes `docker save` archives that the real `msb load -i` accepts (checked against msb 0.6.18).
 *
 * Layout (the classic docker-save format, which is what msb imports):
 *
 *   manifest.json                      [{ Config, RepoTags, Layers }...]   (one entry per image)
 *   repositories                       { repo: { tag: topLayerId } }       (legacy, written for fidelity)
 *   <config-hex>.json                  the image's OCI/Docker config JSON
 *   <diff-hex>/layer.tar               an uncompressed layer tar (diff_id = blob digest = sha256 of it)
 *   <diff-hex>/VERSION, <diff-hex>/json
 *
 * With `layout: "oci"` it writes the Docker ≥ 25 shape instead (`blobs/sha256/<hex>` for configs and
 * layers, manifest.json pointing at them, plus `oci-layout` and `index.json`).
 *
 * Everything is deterministic: a LayerSpec always serializes to the same bytes (entries sorted by path,
 * mtime/uid/gid/uname/gname fixed, parent directories added implicitly), so two images built from equal
 * layer specs share diff_ids — and therefore `layer` rows and `layers/<diff>.erofs` files — in msb's cache.
 * The whole archive is deterministic too (same inputs → same bytes).
 */
import { createHash } from "node:crypto";
import { writeFile, mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { pack } from "tar-stream";

/** The subset of tar-stream's entry header used here (works with tar-stream's own types and @types/tar-stream). */
interface Headers {
  name: string;
  type: "file" | "directory" | "symlink";
  mode: number;
  size: number;
  mtime: Date;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  linkname?: string;
}

export interface FileSpec {
  /** Path inside the layer, relative (a leading "/" or "./" is stripped). */
  path: string;
  /** File content; ignored for directories and symlinks. Default "". */
  content?: string | Buffer;
  /** Permission bits. Default 0o644 for files, 0o755 for directories, 0o777 for symlinks. */
  mode?: number;
  /** Default "file". */
  type?: "file" | "directory" | "symlink";
  /** Target for symlinks. */
  linkname?: string;
}

export interface LayerSpec {
  files: FileSpec[];
}

export interface ImageSpec {
  /** e.g. ["app:1", "localhost:5000/team/app:1"]. Empty → an untagged image. */
  repoTags: string[];
  /** Bottom layer first. At least one layer is recommended (msb accepts zero? — untested; avoid). */
  layers: LayerSpec[];
  env?: string[];
  cmd?: string[];
  entrypoint?: string[];
  workingDir?: string;
  user?: string;
  labels?: Record<string, string>;
  stopSignal?: string;
  exposedPorts?: string[];
  volumes?: string[];
  /** Default "amd64". */
  architecture?: string;
  /** Default "linux". */
  os?: string;
  variant?: string;
  /** RFC 3339 creation time of the image. Default "2024-01-01T00:00:00Z". Set null to omit. */
  created?: string | null;
  /** Extra top-level fields merged into the config JSON (for odd cases). */
  extraConfig?: Record<string, unknown>;
}

export interface WriteOptions {
  /** "docker" (classic `<hex>/layer.tar`, default) or "oci" (Docker ≥ 25: `blobs/sha256/<hex>`). */
  layout?: "docker" | "oci";
}

export interface BuiltLayer {
  tar: Buffer;
  /** "sha256:<hex>" of the uncompressed tar — both diff_id and (for docker-save) blob digest. */
  diffId: string;
  size: number;
}

export interface BuiltImage {
  repoTags: string[];
  configJson: Buffer;
  /** "sha256:<hex>" of configJson — msb's config digest (and `Image ID`). */
  configDigest: string;
  layers: BuiltLayer[];
  /** Σ layer tar sizes (what msb stores as manifest.total_size_bytes for docker-save archives). */
  totalLayerBytes: number;
}

const FIXED_MTIME = new Date("2024-01-01T00:00:00Z");

export function sha256Hex(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}

async function packToBuffer(entries: Array<{ header: Headers; body?: Buffer }>): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    p.on("data", (c: unknown) => chunks.push(c as Buffer));
    p.on("end", () => resolve(Buffer.concat(chunks)));
    p.on("error", reject);
  });
  for (const { header, body } of entries) {
    await new Promise<void>((resolve, reject) => {
      p.entry(header, body ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
    });
  }
  p.finalize();
  return done;
}

function header(name: string, type: Headers["type"], mode: number, size = 0, linkname?: string): Headers {
  const h: Headers = {
    name,
    type,
    mode,
    size,
    mtime: FIXED_MTIME,
    uid: 0,
    gid: 0,
    uname: "root",
    gname: "root",
  };
  if (linkname !== undefined) h.linkname = linkname;
  return h;
}

function normPath(p: string): string {
  let s = p.replace(/^\.?\/+/, "");
  s = s.replace(/\/+$/, "");
  if (!s || s.split("/").some((c) => c === "" || c === "." || c === "..")) {
    throw new Error(`bad layer path: ${JSON.stringify(p)}`);
  }
  return s;
}

/** Serialize one layer deterministically. */
export async function buildLayer(spec: LayerSpec): Promise<BuiltLayer> {
  const items = new Map<string, FileSpec & { path: string }>();
  for (const f of spec.files) {
    const path = normPath(f.path);
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join("/");
      if (!items.has(d)) items.set(d, { path: d, type: "directory" });
    }
    items.set(path, { ...f, path });
  }
  const sorted = [...items.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const entries = sorted.map((f) => {
    const type = f.type ?? "file";
    if (type === "directory") return { header: header(f.path + "/", "directory", f.mode ?? 0o755) };
    if (type === "symlink") return { header: header(f.path, "symlink", f.mode ?? 0o777, 0, f.linkname ?? "") };
    const body = Buffer.isBuffer(f.content) ? f.content : Buffer.from(f.content ?? "", "utf8");
    return { header: header(f.path, "file", f.mode ?? 0o644, body.length), body };
  });
  const tar = await packToBuffer(entries);
  return { tar, diffId: "sha256:" + sha256Hex(tar), size: tar.length };
}

function configObject(spec: ImageSpec, diffIds: string[]): Record<string, unknown> {
  const cfg: Record<string, unknown> = {};
  if (spec.env !== undefined) cfg.Env = spec.env;
  if (spec.cmd !== undefined) cfg.Cmd = spec.cmd;
  if (spec.entrypoint !== undefined) cfg.Entrypoint = spec.entrypoint;
  if (spec.workingDir !== undefined) cfg.WorkingDir = spec.workingDir;
  if (spec.user !== undefined) cfg.User = spec.user;
  if (spec.labels !== undefined) cfg.Labels = spec.labels;
  if (spec.stopSignal !== undefined) cfg.StopSignal = spec.stopSignal;
  if (spec.exposedPorts !== undefined) cfg.ExposedPorts = Object.fromEntries(spec.exposedPorts.map((p) => [p, {}]));
  if (spec.volumes !== undefined) cfg.Volumes = Object.fromEntries(spec.volumes.map((v) => [v, {}]));
  const obj: Record<string, unknown> = {
    architecture: spec.architecture ?? "amd64",
    os: spec.os ?? "linux",
  };
  if (spec.variant !== undefined) obj.variant = spec.variant;
  const created = spec.created === undefined ? "2024-01-01T00:00:00Z" : spec.created;
  if (created !== null) obj.created = created;
  obj.config = cfg;
  obj.rootfs = { type: "layers", diff_ids: diffIds };
  obj.history = diffIds.map(() => ({ created: created ?? undefined, created_by: "msb-image-cache test" }));
  return { ...obj, ...(spec.extraConfig ?? {}) };
}

/** Build an image's config and layers in memory (also useful to predict digests). */
export async function buildImage(spec: ImageSpec): Promise<BuiltImage> {
  const layers: BuiltLayer[] = [];
  for (const l of spec.layers) layers.push(await buildLayer(l));
  const configJson = Buffer.from(JSON.stringify(configObject(spec, layers.map((l) => l.diffId))), "utf8");
  return {
    repoTags: [...spec.repoTags],
    configJson,
    configDigest: "sha256:" + sha256Hex(configJson),
    layers,
    totalLayerBytes: layers.reduce((n, l) => n + l.size, 0),
  };
}

function hex(digest: string): string {
  return digest.slice("sha256:".length);
}

/** Build a docker-save archive in memory. */
export async function buildDockerSave(images: ImageSpec[], opts: WriteOptions = {}): Promise<{ tar: Buffer; images: BuiltImage[] }> {
  const layout = opts.layout ?? "docker";
  const built: BuiltImage[] = [];
  for (const s of images) built.push(await buildImage(s));

  const entries: Array<{ header: Headers; body?: Buffer }> = [];
  const seen = new Set<string>();
  const file = (name: string, body: Buffer) => {
    if (seen.has(name)) return;
    seen.add(name);
    entries.push({ header: header(name, "file", 0o644, body.length), body });
  };
  const dir = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    entries.push({ header: header(name, "directory", 0o755) });
  };

  const manifest: Array<{ Config: string; RepoTags: string[] | null; Layers: string[] }> = [];
  const repositories: Record<string, Record<string, string>> = {};

  if (layout === "oci") {
    dir("blobs/");
    dir("blobs/sha256/");
  }
  for (const img of built) {
    let configPath: string;
    const layerPaths: string[] = [];
    if (layout === "docker") {
      configPath = `${hex(img.configDigest)}.json`;
      file(configPath, img.configJson);
      let parent: string | undefined;
      for (const l of img.layers) {
        const id = hex(l.diffId);
        dir(`${id}/`);
        file(`${id}/VERSION`, Buffer.from("1.0"));
        const legacy: Record<string, unknown> = { id, created: "1970-01-01T00:00:00Z", container_config: {} };
        if (parent) legacy.parent = parent;
        file(`${id}/json`, Buffer.from(JSON.stringify(legacy)));
        file(`${id}/layer.tar`, l.tar);
        layerPaths.push(`${id}/layer.tar`);
        parent = id;
      }
    } else {
      configPath = `blobs/sha256/${hex(img.configDigest)}`;
      file(configPath, img.configJson);
      for (const l of img.layers) {
        const p = `blobs/sha256/${hex(l.diffId)}`;
        file(p, l.tar);
        layerPaths.push(p);
      }
    }
    manifest.push({ Config: configPath, RepoTags: img.repoTags.length ? img.repoTags : null, Layers: layerPaths });
    const top = img.layers.length ? hex(img.layers[img.layers.length - 1]!.diffId) : hex(img.configDigest);
    for (const t of img.repoTags) {
      const { repo, tag } = splitTag(t);
      (repositories[repo] ??= {})[tag] = top;
    }
  }

  if (layout === "oci") {
    // Docker ≥ 25 also writes OCI image manifests + index; msb reads manifest.json, but keep it realistic.
    const manifests = [];
    for (let i = 0; i < built.length; i++) {
      const img = built[i]!;
      const m = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: img.configDigest, size: img.configJson.length },
          layers: img.layers.map((l) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: l.diffId, size: l.size })),
        }),
      );
      const d = "sha256:" + sha256Hex(m);
      file(`blobs/sha256/${hex(d)}`, m);
      const desc: Record<string, unknown> = { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: d, size: m.length };
      if (img.repoTags[0]) desc.annotations = { "io.containerd.image.name": img.repoTags[0] };
      manifests.push(desc);
    }
    file("oci-layout", Buffer.from(JSON.stringify({ imageLayoutVersion: "1.0.0" })));
    file("index.json", Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests })));
  }
  file("manifest.json", Buffer.from(JSON.stringify(manifest)));
  if (Object.keys(repositories).length) file("repositories", Buffer.from(JSON.stringify(repositories)));

  return { tar: await packToBuffer(entries), images: built };
}

/** Write a docker-save archive that `msb load -i <file>` accepts. Returns what was built (digests, sizes). */
export async function writeDockerSave(file: string, images: ImageSpec[], opts: WriteOptions = {}): Promise<BuiltImage[]> {
  const { tar, images: built } = await buildDockerSave(images, opts);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, tar);
  return built;
}

/**
 * The manifest digest msb 0.6.18 gives an image loaded from a docker-save archive: it synthesizes an OCI
 * manifest (compact JSON, keys sorted: config{digest,mediaType,size}, layers[{digest,mediaType,size}],
 * mediaType, schemaVersion) and hashes it. (Its `manifests/*.json` keeps that text as raw_manifest_json.)
 */
export function synthesizedManifestJson(img: BuiltImage): string {
  return JSON.stringify({
    config: { digest: img.configDigest, mediaType: "application/vnd.oci.image.config.v1+json", size: img.configJson.length },
    layers: img.layers.map((l) => ({ digest: l.diffId, mediaType: "application/vnd.oci.image.layer.v1.tar", size: l.size })),
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    schemaVersion: 2,
  });
}

export function predictManifestDigest(img: BuiltImage): string {
  return "sha256:" + sha256Hex(synthesizedManifestJson(img));
}

/** "localhost:5000/team/app:1" → { repo: "localhost:5000/team/app", tag: "1" }; no tag → "latest". */
export function splitTag(ref: string): { repo: string; tag: string } {
  const at = ref.indexOf("@");
  const base = at >= 0 ? ref.slice(0, at) : ref;
  const slash = base.lastIndexOf("/");
  const colon = base.lastIndexOf(":");
  if (colon > slash) return { repo: base.slice(0, colon), tag: base.slice(colon + 1) };
  return { repo: base, tag: "latest" };
}
