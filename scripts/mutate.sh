#!/usr/bin/env bash
# Both mutation runs (CONTRIBUTING "Mutation testing"): the curated native mutations
# (`npm run mutate:native`, a build per mutation: ~12 min) and StrykerJS over lib/ (`npm run mutate:lib`,
# ~15 min on 2 cores), one after the other, each run to the end even when the first finds a survivor.
# Prints both scores and survivors at the end; exits non-zero when either run does.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT

npm run --silent mutate:native 2>&1 | tee "$logs/native.log"
native=${PIPESTATUS[0]}
npm run --silent mutate:lib 2>&1 | tee "$logs/lib.log"
lib=${PIPESTATUS[0]}

echo
echo "== mutation testing summary =="
echo "native (mutations/native.json), exit $native:"
grep -E '^(SURVIVED|mutate-native: score)' "$logs/native.log" | sed 's/^/  /' || echo "  (no score: see the output above)"
echo "lib/ (StrykerJS, stryker.config.json), exit $lib:"
grep -E '^  (UNEXPLAINED|equivalent )|^mutate-lib: (score|stryker took)' "$logs/lib.log" | sed 's/^/  /' || echo "  (no score: see the output above)"
(( native == 0 && lib == 0 ))
