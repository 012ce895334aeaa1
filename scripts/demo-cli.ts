// `npm run demo:cli`: builds a sample cache (with the real msb 0.6.18 when it is installed, else
// with the fixture builder), pins one image to a sandbox, then runs the command-line tool on it:
// ls, df, prune --dry-run. Nothing is deleted; the home is removed on exit. DEMO_FIXTURE=1 uses the
// fixture builder even where msb is installed.
import { spawnSync } from "node:child_process";
import { join } from "node:path";

import { buildFixture } from "../test/support/fixture";
import { REPO_ROOT, cleanupHomes, makeHome, msbAvailable, pinImage } from "../test/support/msb";
import { buildSampleCache } from "../test/support/sample-images";

const CLI = join(REPO_ROOT, "dist", "cli", "main.js");

function show(home: string, args: string[]): void {
  console.log(`\n$ msb-image-cache ${args.join(" ")}`);
  const r = spawnSync(process.execPath, [CLI, "--home", home, ...args], { stdio: "inherit" });
  if (r.status !== 0) console.log(`(exit code ${r.status})`);
}

async function main(): Promise<void> {
  const home = await makeHome("msb-cli-demo-");
  if (msbAvailable() && process.env.DEMO_FIXTURE !== "1") {
    console.log(`# a sample cache made by the real \`msb load\` in ${home}; base:1 pinned by sandbox demo-sandbox`);
    await buildSampleCache(home);
    await pinImage(home, "base:1", { name: "demo-sandbox" });
  } else {
    console.log(`# msb is not installed here: a fixture cache of 12 images in ${home}, the first 2 pinned`);
    await buildFixture(home, { images: 12, pinned: 2, aliases: 2 });
  }
  show(home, ["ls"]);
  show(home, ["df"]);
  show(home, ["prune", "--dry-run"]);
  // A size budget: what least-recently-used eviction down to half the cache would take.
  const total = Number(spawnSync(process.execPath, [CLI, "--home", home, "df", "-q"], { encoding: "utf8" }).stdout);
  show(home, ["prune", "--dry-run", "-q", "--max-size", `${Math.floor(total / 2)}B`]);
  await cleanupHomes();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
