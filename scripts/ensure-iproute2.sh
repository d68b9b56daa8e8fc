#!/usr/bin/env bash
# ensure-iproute2.sh — the `ip` command, with which the agent adds the task
# credentials address (169.254.170.2) to the loopback interface.
#
# Contract: idempotent; quick when `ip` is on PATH. Installs iproute2 with
# apt-get when it is missing and the machine is Debian and we are root;
# otherwise says what to install and fails.
set -euo pipefail

say() { printf 'ensure-iproute2: %s\n' "$*"; }
die() { printf 'ensure-iproute2: ERROR: %s\n' "$*" >&2; exit 1; }

if command -v ip >/dev/null 2>&1; then
  say "ip present"
  exit 0
fi
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  say "installing iproute2 (apt-get)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iproute2 >/dev/null \
    || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iproute2 >/dev/null; } \
    || die "apt-get could not install iproute2"
  command -v ip >/dev/null 2>&1 || die "iproute2 installed but no ip command on PATH"
  exit 0
fi
die "the ip command (iproute2) is missing: install it (apt-get install iproute2) as root"
