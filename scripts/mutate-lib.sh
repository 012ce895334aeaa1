#!/usr/bin/env bash
# Mutation testing of the TypeScript facade (lib/) with StrykerJS: mutates the files stryker.config.json
# lists and runs the fast in-process tests of vitest.mutate.config.ts against each mutant (per-test
# coverage: only the tests that reach a mutant run). CONTRIBUTING "Mutation testing (lib/)".
#
#   npm run mutate:lib                        every mutant (~15 min on 2 cores; ~30 with --concurrency 1)
#   npm run mutate:lib -- --mutate lib/units.ts   one file (any `stryker run` option is passed through)
#
# Then prints the score and every survivor, marked equivalent (explained in mutations/stryker-equivalent.md)
# or UNEXPLAINED; exit code 1 when one is unexplained.
#
# Stryker 10 needs Node >= 22; the library supports Node 20. On an older Node the run goes through
# `npx -p node@22.23.3` (the `node` package on npm: an official Node binary, fetched once into npm's
# cache). The addon is Node-API, so the same build/Release loads in either. Reports: reports/mutation/
# (HTML and JSON); equivalent mutants are explained in mutations/stryker-equivalent.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

NODE22="node@22.23.3"
stryker="node_modules/@stryker-mutator/core/bin/stryker.js"
if [[ ! -f "$stryker" ]]; then
  echo "mutate-lib: $stryker is missing; run npm ci first" >&2
  exit 2
fi

major="$(node -p 'process.versions.node.split(".")[0]')"
started=$SECONDS
if (( major >= 22 )); then
  node "$stryker" run "$@"
else
  echo "mutate-lib: Node $(node --version) is older than Stryker 10 needs (22); running it under npx -p $NODE22"
  npx -y -p "$NODE22" -- node "$stryker" run "$@"
fi
echo "mutate-lib: stryker took $((SECONDS - started)) s"
# Scores, and every survivor marked equivalent (mutations/stryker-equivalent.md) or UNEXPLAINED (exit 1).
npx vite-node scripts/mutate-lib-summary.ts
