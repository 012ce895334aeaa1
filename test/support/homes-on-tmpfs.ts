// Imported first by a test file that runs another's tests with their homes on tmpfs (/dev/shm). The
// in-flight guard reads a new cache's metadata files one way on a disk's file system (after the listing,
// many at once: they may wait on the device) and another on tmpfs (behind the listing, as it goes); the
// project's temp dir is on a disk here, so without this the tmpfs way would go untested.
import { mkdtempSync, rmSync, statfsSync } from "node:fs";
import { join } from "node:path";
import { afterAll } from "vitest";

import { putHomesIn } from "./msb";

const TMPFS_MAGIC = 0x01021994;
const shm = "/dev/shm";
let type: number | undefined;
try {
  type = statfsSync(shm).type;
} catch {
  type = undefined;
}
if (type !== TMPFS_MAGIC) {
  throw new Error(`these tests need a tmpfs at ${shm} (found ${type === undefined ? "nothing" : `file system type 0x${type.toString(16)}`})`);
}
const root = mkdtempSync(join(shm, "msb-image-cache-test-"));
putHomesIn(root);
afterAll(() => rmSync(root, { recursive: true, force: true }));
