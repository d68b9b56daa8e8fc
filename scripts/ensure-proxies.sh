#!/usr/bin/env bash
# ensure-proxies.sh — make HAProxy (Berth's load-balancer data plane) and nginx
# (a peer in bench/loadbalancer.ts) available.
#
# Contract:
#   * If `haproxy -v` and `nginx -v` answer, print one line each and exit 0
#     (fast path).
#   * Otherwise, on Debian as root: `apt-get install haproxy nginx` (running
#     `apt-get update` first when the package lists are stale) and check again.
#     Neither package's service is started: Berth runs its own HAProxy
#     processes, and the benchmark its own nginx, each with its own config.
#   * Not root or no apt-get: exit 1 saying what to install.
set -euo pipefail

say() { printf 'ensure-proxies: %s\n' "$*"; }
die() { printf 'ensure-proxies: ERROR: %s\n' "$*" >&2; exit 1; }

# Debian installs both into /usr/sbin, which a non-login PATH may lack.
export PATH="$PATH:/usr/sbin:/sbin"

missing=()
command -v haproxy >/dev/null 2>&1 && haproxy -v >/dev/null 2>&1 || missing+=(haproxy)
command -v nginx >/dev/null 2>&1 && nginx -v >/dev/null 2>&1 || missing+=(nginx)

if (( ${#missing[@]} > 0 )); then
  command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]}: install them with your package manager"
  [[ $(id -u) == 0 ]] || die "missing ${missing[*]}: run 'apt-get install ${missing[*]}' as root"
  say "installing ${missing[*]} (apt-get)"
  # policy-rc.d 101 keeps the packages' own services from starting: Berth
  # starts its processes itself and needs ports 80/443 untouched.
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && own_policy=1
  fi
  trap 'if [[ $own_policy == 1 ]]; then rm -f "$policy"; fi' EXIT
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    apt-get update >/dev/null
    apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
  fi
fi
haproxy -v >/dev/null 2>&1 || die "haproxy installed but 'haproxy -v' fails"
nginx -v >/dev/null 2>&1 || die "nginx installed but 'nginx -v' fails"
say "$(haproxy -v 2>&1 | head -n1)"
say "$(nginx -v 2>&1 | head -n1)"
