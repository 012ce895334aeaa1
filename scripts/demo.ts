// `npm run demo`: builds a sample cache with the real msb 0.6.18 in a temp home, pins one image
// to a sandbox, then lists, inspects and prunes it with this library, and asks msb what is left.
import { join } from "node:path";

import { ImageCache } from "../lib/index";
import { cleanupHomes, makeHome, msbImage, pinImage } from "../test/support/msb";
import { buildSampleCache } from "../test/support/sample-images";

async function main(): Promise<void> {
  const home = await makeHome("msb-demo-");
  console.log(`# sample cache made by \`msb load\` in ${home}`);
  await buildSampleCache(home);
  await pinImage(home, "base:1", { name: "demo-sandbox" });

  const cache = new ImageCache({ home });
  console.log("\n# list()");
  for (const img of await cache.list()) {
    console.log(`${img.reference.padEnd(28)} ${img.manifestDigest?.slice(0, 19)}  ${String(img.layerCount).padStart(2)} layers  ${img.sizeBytes} B`);
  }
  const detail = await cache.inspect("app:1");
  console.log("\n# inspect('app:1')");
  console.log(JSON.stringify({ config: detail.config, layers: detail.layers }, null, 2));

  console.log("\n# remove('base:1') — pinned by sandbox demo-sandbox");
  await cache.remove("base:1").catch((err: Error & { code: string }) => console.log(`${err.name} (${err.code}): ${err.message}`));

  console.log("\n# prune()");
  console.log(await cache.prune());
  await cache.close();

  console.log("\n# msb image ls, afterwards");
  process.stdout.write((await msbImage(home, ["ls"])).stdout);
  console.log(`(files under ${join(home, "cache")}; the home is removed on exit)`);
  await cleanupHomes();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
