#!/usr/bin/env bash
# Make sure promtool (Prometheus's checker) is here: the metrics tests pipe cache.metrics() through
# `promtool check metrics`. Debian/Ubuntu's `prometheus` package ships it; installed with apt-get when running
# as root, otherwise the script fails with the command to run (the tests never skip for a missing tool).
# Idempotent: does nothing when promtool is there.
set -euo pipefail

if ! command -v promtool >/dev/null; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    echo "install-promtool: promtool missing; installing Debian's prometheus package with apt-get"
    apt-get update -qq
    # The package's post-install starts a Prometheus server where systemd runs; only promtool is needed.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  else
    echo "install-promtool: the metrics tests need promtool (run: sudo apt-get install -y prometheus, then npm test again)" >&2
    exit 1
  fi
  command -v promtool >/dev/null || { echo "install-promtool: promtool is still missing after installing prometheus" >&2; exit 1; }
fi
echo "install-promtool: $(promtool --version 2>&1 | head -1)"
