#!/usr/bin/env bash
# diskUsage side by side: its floor (bench/du-floor.c), optionally another build, and this build, one call per
# fresh process each, alternating, for a number of rounds; prints every time and the medians (ms). What
# docs/performance.md ("diskUsage on a faster machine") measured with. The cache is only read.
#
#   bash bench/du-side-by-side.sh <home> [rounds=7] [other-dist/index.js]
set -euo pipefail
home=$(realpath "$1")
rounds=${2:-7}
other=${3:-}
root=$(cd "$(dirname "$0")/.." && pwd)
floor=$(mktemp)
trap 'rm -f "$floor"' EXIT
cc -O2 -o "$floor" "$root/bench/du-floor.c"

usage() {  # $1: dist/index.js; prints the call's time
  MSB_HOME="$home" node "$root/bench/child.cjs" ours "$1" '[{"op":"diskUsage"}]' | node -e \
    'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(Math.round(JSON.parse(s).results[0].times[0])))'
}

impls=(floor this)
[[ -n "$other" ]] && impls=(floor other this)
results=$(
  for ((i = 1; i <= rounds; i++)); do
    for impl in "${impls[@]}"; do
      case $impl in
        floor) echo "floor $("$floor" "$home/cache" | awk '{printf "%d", $1}')" ;;
        this) echo "this $(usage "$root/dist/index.js")" ;;
        other) echo "other $(usage "$other")" ;;
      esac
    done
  done
)
echo "$results" | node "$root/bench/side-by-side-medians.cjs"
