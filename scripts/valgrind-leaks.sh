#!/usr/bin/env bash
# Valgrind (memcheck) leak run of the normal build: scripts/valgrind/loop.cjs lists, gets, inspects, removes
# and prunes an msb-made cache through the public API for ROUNDS rounds (default 3; each round re-loads the
# archive with the real msb, so every prune really deletes), error paths included.
#
#   scripts/valgrind-leaks.sh            ROUNDS=10 scripts/valgrind-leaks.sh
#
# Fails on any definitely or indirectly lost block (Node 20 itself has none here, so no suppression file is
# needed; possibly lost: one 304-byte TLS block of Node's inspector thread), and on any memcheck error (invalid
# read/write, uninitialised value, bad free) whose stack passes through our addon. Checked to fail: a
# deliberate `new char[100]` in ListWorker::Run() is reported as 900 bytes in 9 blocks definitely lost.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${ROUNDS:-3}"
addon=build/Release/msb_image_cache.node
[[ -f "$addon" && -f dist/index.js ]] || { echo "valgrind-leaks: run npm ci first ($addon, dist/)" >&2; exit 1; }
if ! command -v valgrind >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
fi
bash scripts/install-msb.sh >/dev/null
msb="$PWD/interop/node_modules/@superradcompany/microsandbox-linux-x64-gnu/bin/msb"

work="$(mktemp -d "${TMPDIR:-/tmp}/msb-valgrind.XXXXXX")"
trap 'rm -rf "$work"' EXIT
npx vite-node scripts/valgrind/make-cache.ts "$work" >/dev/null

t0=$SECONDS
log="$work/memcheck.log"
status=0
valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect \
  --errors-for-leak-kinds=definite,indirect --num-callers=40 \
  --log-file="$log" \
  node scripts/valgrind/loop.cjs "$work/home" "$work/images.tar" "$msb" "$rounds" || status=$?
echo "valgrind-leaks: $rounds rounds under memcheck took $((SECONDS - t0)) s (exit $status)"
[[ $status -eq 0 ]] || { tail -60 "$log"; exit 1; }

summary="$(sed -n '/LEAK SUMMARY/,/suppressed:/p' "$log" | sed 's/^==[0-9]*== */  /')"
echo "$summary"
lost="$(grep -E 'definitely lost:|indirectly lost:' "$log" | grep -v ' 0 bytes in 0 blocks' || true)"
# memcheck errors (not leak records) whose stack has a frame in our addon: one line per error.
ours="$(awk '/^==[0-9]+== *$/ { if (blk ~ /msb_image_cache/ && blk !~ /in loss record/) print "error"; blk = ""; next }
             { blk = blk "\n" $0 }' "$log" | grep -c error || true)"
errors="$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$log" | tail -1)"
echo "  memcheck errors in total (leaks included): ${errors:-?}; errors with a frame in msb_image_cache.node: $ours"
if [[ -n "$lost" || "$ours" != 0 ]]; then
  echo "valgrind-leaks: FAIL; the reports:" >&2
  grep -v '^==[0-9]*== *$' "$log" | sed -n '/lost in loss record\|Invalid\|uninitialised\|free/,+40p' | head -200 >&2
  exit 1
fi
echo "valgrind-leaks: no definite or indirect leak, no memcheck error in our addon"
