#!/usr/bin/env bash
# Install the real microsandbox runtime (msb CLI + official Node addon) pinned in interop/package-lock.json,
# for the interop tests and benchmarks. Idempotent: does nothing when the pinned version is already there.
# Linux x64 glibc only; elsewhere it prints a note and exits 0 (the interop tests then fail: they need the real runtime).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
interop="$root/interop"
pkg="@superradcompany/microsandbox-linux-x64-gnu"
pkgdir="$interop/node_modules/$pkg"
msb="$pkgdir/bin/msb"

# Read ldd's banner whole first: with pipefail, `ldd --version | grep -q` fails at random when grep
# exits early and ldd dies of SIGPIPE.
libc_banner="$(ldd --version 2>&1 || true)"
if [[ "$(uname -s)" != "Linux" || "$(uname -m)" != "x86_64" ]] || ! grep -qiE 'glibc|gnu libc' <<<"$libc_banner"; then
  echo "install-msb: $pkg needs linux x64 glibc; not installed (the interop tests need it and will fail here)"
  exit 0
fi

want="$(node -p "require(process.argv[1]).dependencies[process.argv[2]]" "$interop/package.json" "$pkg")"
have=""
if [[ -f "$pkgdir/package.json" ]]; then
  have="$(node -p "require(process.argv[1]).version" "$pkgdir/package.json" 2>/dev/null || true)"
fi

if [[ ! -f "$msb" || "$have" != "$want" ]]; then
  echo "install-msb: installing $pkg@$want into interop/ (had: ${have:-none})"
  (cd "$interop" && npm ci --no-audit --no-fund --engine-strict=false --loglevel=error </dev/null)
fi

[[ -x "$msb" ]] || chmod +x "$msb"

out="$("$msb" --version 2>&1 </dev/null)" || { echo "install-msb: '$msb --version' failed: $out" >&2; exit 1; }
if [[ "$out" != "msb $want" ]]; then
  echo "install-msb: expected 'msb $want', got '$out'" >&2
  exit 1
fi
echo "install-msb: $out ok"
