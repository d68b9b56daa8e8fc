#!/usr/bin/env bash
# setup.sh — the one set-up behind every README command and CI.
#
# Steps, each skipped when already done, so a repeated run takes seconds:
#   1. dependencies: `npm ci` when node_modules is missing or package-lock.json
#      (or the Node.js ABI) changed since the last install; the stamp lives in
#      node_modules/.berth-install-stamp so deleting node_modules resets it.
#   2. build: `tsc -p .` (incremental) into dist/; a type error fails set-up.
#   3. scripts/ensure-docker.sh: a Docker Engine answers `docker info`.
#   4. scripts/build-test-images.sh: local test images exist (no registry).
#   5. scripts/ensure-awscli.sh: the AWS CLI the registry tests drive.
#   6. scripts/ensure-docker-registry.sh: Debian's docker-registry, the
#      upstream of the pull-through cache tests.
#   7. scripts/ensure-proxies.sh: HAProxy (the load-balancer data plane) and
#      nginx (a peer in the load-balancer benchmark).
#   6. scripts/ensure-skopeo.sh: skopeo, another registry client the tests drive.
#   8. scripts/ensure-iproute2.sh: `ip`, with which agents add the task
#      credentials address to the loopback interface.
#
# Environment: BERTH_SKIP_DOCKER=1 skips steps 3 to 8 (for machines that only
# build and run the unit tests that need no engine).
set -euo pipefail

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: ERROR: %s\n' "$*" >&2; exit 1; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
started=$SECONDS

# ---- Node.js --------------------------------------------------------------
command -v node >/dev/null 2>&1 || die "Node.js 20 or newer is required (https://nodejs.org/ or 'apt-get install nodejs npm')"
node_major=$(node -p 'process.versions.node.split(".")[0]')
(( node_major >= 20 )) || die "Node.js 20 or newer is required; found $(node --version)"
command -v npm >/dev/null 2>&1 || die "npm is required next to Node.js"

# ---- 1. dependencies --------------------------------------------------------
stamp_file=node_modules/.berth-install-stamp
want_stamp="$(sha256sum package-lock.json | cut -d' ' -f1) node-abi-$(node -p process.versions.modules)"
have_stamp=$(cat "$stamp_file" 2>/dev/null || true)
if [[ "$have_stamp" == "$want_stamp" ]]; then
  say "dependencies up to date"
elif [[ -d node_modules && -z "$have_stamp" ]] && npm ls --all >/dev/null 2>&1; then
  # Installed by hand before this script kept a stamp, and consistent.
  say "dependencies present and consistent; recording install stamp"
  printf '%s\n' "$want_stamp" >"$stamp_file"
else
  say "installing dependencies (npm ci)"
  npm ci --no-audit --no-fund || die "npm ci failed (see above)"
  printf '%s\n' "$want_stamp" >"$stamp_file"
fi

# ---- 2. build ---------------------------------------------------------------
say "building TypeScript (tsc -p .)"
if ! node_modules/.bin/tsc -p . ; then
  die "TypeScript build failed (errors above)"
fi

# ---- 3 & 4. Docker Engine and test images --------------------------------------
if [[ "${BERTH_SKIP_DOCKER:-}" == 1 ]]; then
  say "BERTH_SKIP_DOCKER=1: not checking the Docker Engine or test images"
else
  bash scripts/ensure-docker.sh || die "no Docker Engine (see above)"
  bash scripts/build-test-images.sh || die "could not build the test images (see above)"
  bash scripts/ensure-awscli.sh || die "no AWS CLI (see above)"
  bash scripts/ensure-docker-registry.sh || die "no docker-registry (see above)"
  bash scripts/ensure-proxies.sh || die "no HAProxy or nginx (see above)"
  bash scripts/ensure-skopeo.sh || die "no skopeo (see above)"
  bash scripts/ensure-iproute2.sh || die "no ip command (see above)"
fi

say "done in $((SECONDS - started))s"
