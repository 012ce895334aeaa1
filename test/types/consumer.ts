// Compiled by test/types.test.ts against the packed .d.ts files, in a project with only TypeScript
// ("types": [], strict, no @types/node). Each `@ts-expect-error` line must stay an error: a code,
// reason or kind that is not in its union (a typo) must not compile.
import {
  Image,
  ImageCache,
  ImageCacheError,
  ImageNotFoundError,
  DatabaseError,
  type DatabaseErrorCode,
  type ImageCacheErrorCode,
  type ImageHandle,
  type ImagePruneReport,
  type KeptReason,
  type ReportItemKind,
  type SkipReason,
  type VerifyFindingKind,
} from "msb-image-cache";

export async function use(e: unknown): Promise<string[]> {
  const cache = new ImageCache({ home: "/var/lib/msb" });
  const images: ImageHandle[] = await cache.list({ signal: AbortSignal.timeout(1000) });
  const report: ImagePruneReport = await Image.prune({ dryRun: true, maxBytes: 20 * 2 ** 30, keep: ["python:*"] });
  const out = images.map((h) => `${h.reference} ${h.createdAt?.toISOString() ?? "-"}`);

  if (e instanceof ImageCacheError) {
    const code: ImageCacheErrorCode = e.code;
    if (e.code === "imageNotFound") out.push(code);
    // @ts-expect-error a misspelt code is not an ImageCacheErrorCode
    if (e.code === "imageNotFoud") out.push(code);
    for (const c of ["homeNotFound", "cacheDirInvalid", "permissionDenied", "insufficientSpace", "cacheUnmeasurable"] as const) {
      const known: ImageCacheErrorCode = c;
      out.push(known);
    }
  }
  if (e instanceof ImageNotFoundError) {
    const c: "imageNotFound" = e.code;
    out.push(c, e.reference);
  }
  if (e instanceof DatabaseError) {
    const c: DatabaseErrorCode = e.code;
    // @ts-expect-error a DatabaseError's code is one of the four database codes
    const wrong: "imageInUse" = e.code;
    out.push(c, String(wrong));
  }

  for (const s of report.skipped) {
    const reason: SkipReason = s.reason;
    const kind: ReportItemKind = s.kind;
    if (s.reason === "in-use-again") out.push(reason, kind);
    // @ts-expect-error a misspelt skip reason
    if (s.reason === "lockd") out.push(reason);
    // @ts-expect-error a misspelt item kind
    if (s.kind === "manfest") out.push(kind);
  }
  for (const f of report.removed.files) {
    // @ts-expect-error removed files are tmp, flat-ref or flat-blob
    if (f.kind === "layer") out.push(f.path);
  }
  const removal = await cache.remove("python:3.12", { force: true });
  for (const k of removal.kept) {
    const why: KeptReason = k.reason;
    // @ts-expect-error a misspelt kept reason
    if (k.reason === "sharde") out.push(why);
  }
  const verified = await cache.verify({ graceMs: 0 });
  for (const f of verified.findings) {
    const kind: VerifyFindingKind = f.kind;
    // @ts-expect-error a misspelt finding kind
    if (f.kind === "orphan-fiel") out.push(kind);
  }
  await Image.close();
  await cache.close();
  return out;
}
