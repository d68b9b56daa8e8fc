#!/usr/bin/env bash
# test-node24.sh — the second half of `npm test`: the whole compiled suite
# (unit and end-to-end; the same dist/) again under Node.js 24, so Berth is
# tested on the current LTS as well as on the machine's Node.js. The tests
# start servers and agents with process.execPath, so they run on Node.js 24
# too. There the better-sqlite3 addon, compiled for the machine's Node.js,
# does not load, and the store runs on node:sqlite.
#
# Skipped when `node` already is Node.js 24: `npm test` has just run on it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ "$(node --version)" == v24.* ]]; then
  printf 'test-node24: node is already %s; the suite has run on it\n' "$(node --version)"
  exit 0
fi
node24=$(bash scripts/node24.sh --path)
printf 'test-node24: running the test suite on Node.js %s (the first run was on %s)\n' "$("$node24" --version)" "$(node --version)"
exec "$node24" scripts/run-tests.mjs "$@"
