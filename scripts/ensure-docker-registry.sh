#!/usr/bin/env bash
# ensure-docker-registry.sh — make Debian's docker-registry available: the
# upstream registry the pull-through cache tests run on a loopback port.
#
# Contract:
#   * If /usr/bin/docker-registry exists, print one line and exit 0 (fast path).
#   * Otherwise, on Debian as root: `apt-get install docker-registry` (running
#     `apt-get update` first when needed) and check again. The tests start
#     their own instance with their own configuration; the package's service
#     is not used.
#   * Not root or no apt-get: exit 1 saying what to install.
set -euo pipefail

say() { printf 'ensure-docker-registry: %s\n' "$*"; }
die() { printf 'ensure-docker-registry: ERROR: %s\n' "$*" >&2; exit 1; }

if [[ -x /usr/bin/docker-registry ]]; then
  say "docker-registry present"
  exit 0
fi
command -v apt-get >/dev/null 2>&1 || die "docker-registry is missing: install Debian's docker-registry package"
[[ $(id -u) == 0 ]] || die "docker-registry is missing: run 'apt-get install docker-registry' as root"
say "installing docker-registry (apt-get)"
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker-registry >/dev/null 2>&1; then
  apt-get update >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker-registry >/dev/null || die "apt-get install docker-registry failed"
fi
[[ -x /usr/bin/docker-registry ]] || die "docker-registry installed but /usr/bin/docker-registry is missing"
say "docker-registry installed"
