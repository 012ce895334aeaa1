# Sourced by scripts that build and test a variant of the addon (sanitize.sh, no-inotify.sh) in a copy of the
# working tree, so the repo's build/Release, dist/ and prebuilds/ are never touched.
#
#   stage_tree ROOT TREE   copies the tracked and untracked, not ignored files of ROOT into TREE (keeping
#                          TREE/build/ and the sources' mtimes, so make recompiles only what changed) and links
#                          ROOT/node_modules into it. interop/node_modules is the caller's to provide.
stage_tree() {
  local root="$1" tree="$2"
  mkdir -p "$tree"
  find "$tree" -mindepth 1 -maxdepth 1 ! -name build -exec rm -rf {} +
  (cd "$root" && git ls-files -z --cached --others --exclude-standard) |
    while IFS= read -r -d '' f; do [[ -e "$root/$f" ]] && printf '%s\0' "$f"; done |
    (cd "$root" && tar --null -T - -cf -) | tar -xf - -C "$tree"
  ln -s "$root/node_modules" "$tree/node_modules"
}
