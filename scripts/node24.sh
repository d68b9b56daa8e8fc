#!/usr/bin/env bash
# node24.sh — runs Node.js 24 (the current LTS) next to the machine's Node.js,
# installing it first when it is missing.
#
#   bash scripts/node24.sh --path          print the Node.js 24 binary
#   bash scripts/node24.sh FILE [ARGS...]  run FILE with Node.js 24
#
# Node.js 24 comes from the npm registry (the `node` package) into
# .runtimes/node24/ (gitignored), never into the project's own dependencies:
# npm puts node_modules/.bin first on PATH, so there it would replace `node`
# for every script. A second run finds it and takes milliseconds.
set -euo pipefail

say() { printf 'node24: %s\n' "$*" >&2; }
die() { printf 'node24: ERROR: %s\n' "$*" >&2; exit 1; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir="$root/.runtimes/node24"
bin="$dir/node_modules/node/bin/node"

is_node24() { [[ -x "$bin" ]] && [[ "$("$bin" --version 2>/dev/null)" == v24.* ]]; }

if ! is_node24; then
  command -v npm >/dev/null 2>&1 || die "npm is needed to install Node.js 24"
  say "installing Node.js 24 into ${dir#"$root"/} (npm install node@24)"
  rm -rf "$dir"
  mkdir -p "$dir"
  printf '{ "private": true, "description": "Node.js 24 for the test suite (scripts/node24.sh)" }\n' >"$dir/package.json"
  npm install --prefix "$dir" --no-audit --no-fund --loglevel=error node@24 >&2 || die "npm install node@24 failed (see above)"
  is_node24 || die "npm installed node@24 but $bin does not run as Node.js 24 (did npm skip the package's install script?)"
  say "installed $("$bin" --version)"
fi

if [[ "${1:-}" == --path ]]; then
  printf '%s\n' "$bin"
  exit 0
fi
(( $# > 0 )) || die "usage: bash scripts/node24.sh --path | FILE [ARGS...]"
exec "$bin" "$@"
