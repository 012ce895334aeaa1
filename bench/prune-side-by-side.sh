#!/usr/bin/env bash
# Prune side by side: this build, optionally another build, and the `rm` floor of the same files, each on a
# fresh copy of a cache, alternating, for a number of rounds; prints every time and the medians (ms).
# What docs/performance.md ("prune, round two") measured each change with.
#
#   bash bench/prune-side-by-side.sh <home> [rounds=5] [other-dist/index.js] [place=/dev/shm]
#
# <home>: an msb home to copy (e.g. a test/support/fixture.ts cache). [place]: where the copies go; on a
# file system other than tmpfs, `sync` and dropped caches before each run (as root) make every run cold
# (WARM=1: `sync` only, the copy's pages and inodes stay cached).
set -euo pipefail
home=$(realpath "$1")
rounds=${2:-5}
other=${3:-}
place=${4:-/dev/shm}
root=$(cd "$(dirname "$0")/.." && pwd)
copy="$place/prune-sbs-$$"
list=$(mktemp)
trap 'rm -rf "$copy" "$list" "$list.order" "$list.before" "$list.after"' EXIT

fresh() {
  rm -rf "$copy"
  cp -a "$home" "$copy"
  if [[ "$(stat -f -c %T "$place")" != tmpfs ]]; then
    sync
    [[ -z "${WARM:-}" && -w /proc/sys/vm/drop_caches ]] && echo 3 > /proc/sys/vm/drop_caches
  fi
  return 0
}
prune() {  # $1: dist/index.js; prints the prune's time
  MSB_HOME="$copy" node "$root/bench/child.cjs" ours "$1" '[{"op":"prune"}]' | node -e \
    'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(Math.round(JSON.parse(s).results[0].times[0])))'
}

# The files a prune deletes (the floor deletes exactly these), in directory order as `rm -r` meets them:
# on tmpfs, unlinking 50,000 files in sorted (hash) order took 400 ms against 300 in directory order.
fresh
(cd "$copy/cache" && find . -type f > "$list.order")
sort "$list.order" > "$list.before"
prune "$root/dist/index.js" > /dev/null
(cd "$copy/cache" && find . -type f | sort > "$list.after")
comm -23 "$list.before" "$list.after" | awk 'NR == FNR { gone[$0] = 1; next } $0 in gone' - "$list.order" > "$list"
echo "prune deletes $(wc -l < "$list") files" >&2

impls=(this floor)
[[ -n "$other" ]] && impls=(other this floor)
results=$(
  for ((i = 1; i <= rounds; i++)); do
    for impl in "${impls[@]}"; do
      fresh
      case $impl in
        this) echo "this $(prune "$root/dist/index.js")" ;;
        other) echo "other $(prune "$other")" ;;
        floor)
          cd "$copy/cache"
          start=$(date +%s%N)
          tr '\n' '\0' < "$list" | xargs -0 rm -f --
          echo "floor $((($(date +%s%N) - start) / 1000000))"
          cd "$root"
          ;;
      esac
    done
  done
)
echo "$results" | node "$root/bench/side-by-side-medians.cjs"
