#!/usr/bin/env bash
# ensure-skopeo.sh — make skopeo available for the registry's end-to-end tests.
#
# Contract:
#   * If `skopeo --version` answers, print one line and exit 0 (fast path).
#   * Otherwise, on Debian as root: `apt-get install skopeo` (running
#     `apt-get update` first when the package lists are stale) and check again.
#   * Not root or no apt-get: exit 1 saying what to install.
set -euo pipefail

say() { printf 'ensure-skopeo: %s\n' "$*"; }
die() { printf 'ensure-skopeo: ERROR: %s\n' "$*" >&2; exit 1; }

if command -v skopeo >/dev/null 2>&1 && skopeo --version >/dev/null 2>&1; then
  say "$(skopeo --version 2>&1 | head -n1)"
  exit 0
fi
command -v apt-get >/dev/null 2>&1 || die "skopeo is missing: install it (https://github.com/containers/skopeo/blob/main/install.md)"
[[ $(id -u) == 0 ]] || die "skopeo is missing: run 'apt-get install skopeo' as root"
say "installing skopeo (apt-get)"
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends skopeo >/dev/null 2>&1; then
  apt-get update >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends skopeo >/dev/null || die "apt-get install skopeo failed"
fi
skopeo --version >/dev/null 2>&1 || die "skopeo installed but 'skopeo --version' fails"
say "$(skopeo --version 2>&1 | head -n1)"
