// The sample cache for tests: the images and buildSampleCache() live in sample-images.ts (which
// does not import vitest, so scripts such as the demos can use it); this adds the vitest hook.
import { afterAll, beforeEach } from "vitest";

import { ImageCache } from "../../lib/index";
import { cleanupHomes, makeHome } from "./msb";
import { buildSampleCache } from "./sample-images";

export * from "./sample-images";

/**
 * For a test file: before each test, a fresh home with the sample cache loaded by msb and an
 * ImageCache on it, handed to `use` (closed after the test); every home is removed after the file.
 */
export function sampleCacheEach(use: (home: string, cache: ImageCache) => void): void {
  let cache: ImageCache | undefined;
  beforeEach(async () => {
    const home = await makeHome();
    await buildSampleCache(home);
    cache = new ImageCache({ home });
    use(home, cache);
    return async () => {
      await cache?.close();
    };
  });
  afterAll(cleanupHomes);
}
