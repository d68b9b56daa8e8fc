#!/usr/bin/env bash
# ensure-awscli.sh — make the AWS CLI available for the end-to-end tests.
#
# Contract:
#   * If `aws --version` answers and an AWS CLI version 2 is on the machine
#     (`aws logs tail`, which the container-logs tests drive; Debian's
#     /usr/bin/aws when another CLI comes first on PATH), print one line and
#     exit 0 (fast path).
#   * Otherwise, on Debian as root: `apt-get install awscli` (running
#     `apt-get update` first when the package lists are empty) and check again.
#   * Not root or no apt-get: exit 1 saying what to install.
#
# Debian's awscli (2.9) ignores AWS_ENDPOINT_URL: tests pass --endpoint-url.
set -euo pipefail

say() { printf 'ensure-awscli: %s\n' "$*"; }
die() { printf 'ensure-awscli: ERROR: %s\n' "$*" >&2; exit 1; }

has_v2() {
  [[ -x /usr/bin/aws ]] && return 0
  aws --version 2>&1 | grep -q '^aws-cli/2\.'
}
if command -v aws >/dev/null 2>&1 && aws --version >/dev/null 2>&1 && has_v2; then
  say "$(aws --version 2>&1 | head -n1)"
  exit 0
fi
command -v apt-get >/dev/null 2>&1 || die "the AWS CLI is missing: install it (for example 'pip install awscli')"
[[ $(id -u) == 0 ]] || die "the AWS CLI is missing: run 'apt-get install awscli' as root"
say "installing awscli (apt-get)"
if ! apt-get install -y --no-install-recommends awscli >/dev/null 2>&1; then
  apt-get update >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends awscli >/dev/null || die "apt-get install awscli failed"
fi
aws --version >/dev/null 2>&1 || die "awscli installed but 'aws --version' fails"
say "$(aws --version 2>&1 | head -n1)"
