#!/usr/bin/env bash
# ensure-docker.sh — make a Docker Engine available to Berth.
#
# Contract:
#   * If `docker info` already answers, print one line and exit 0 (fast path).
#   * Otherwise, on Debian as root: install `docker.io` if dockerd is missing,
#     start dockerd in the background (it outlives this script), log to
#     "${BERTH_DATA_DIR:-$PWD/.berth}/dockerd.log", and wait up to
#     BERTH_DOCKER_WAIT_SECONDS (default 60) until `docker info` answers.
#   * If dockerd fails to come up because of the storage driver or iptables,
#     retry once per problem with a fallback (vfs / fuse-overlayfs storage,
#     --iptables=false). Bridge networking and port publishing keep working
#     with --iptables=false because dockerd's userland proxy binds the ports.
#   * Not root, not Debian, or DOCKER_HOST pointing at a remote engine: exit 1
#     with a message saying what to install or start.
#
# Environment:
#   BERTH_DATA_DIR               where dockerd.log goes (default: ./.berth)
#   BERTH_DOCKER_WAIT_SECONDS    how long to wait for the engine (default: 60)
#   BERTH_DOCKERD_ARGS           extra dockerd arguments (word-split)
set -euo pipefail

say() { printf 'ensure-docker: %s\n' "$*"; }
die() { printf 'ensure-docker: ERROR: %s\n' "$*" >&2; exit 1; }

engine_summary() {
  docker info --format '{{.ServerVersion}} (storage {{.Driver}}, cgroup v{{.CgroupVersion}})' 2>/dev/null || echo unknown
}

engine_up() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

if engine_up; then
  say "Docker Engine ready: $(engine_summary)"
  exit 0
fi

# A non-local DOCKER_HOST is somebody else's engine: we cannot start it.
if [[ -n "${DOCKER_HOST:-}" && "${DOCKER_HOST}" != "unix:///var/run/docker.sock" ]]; then
  die "DOCKER_HOST=${DOCKER_HOST} does not answer 'docker info'. Start that engine, or unset DOCKER_HOST to use a local one."
fi

if [[ $(id -u) -ne 0 ]]; then
  die "no Docker Engine is reachable and this script is not running as root.
  Install Docker Engine (Debian/Ubuntu: 'sudo apt-get install docker.io';
  elsewhere see https://docs.docker.com/engine/install/), start it
  ('sudo systemctl start docker' or 'sudo dockerd &'), and make sure your user
  may use /var/run/docker.sock (e.g. 'sudo usermod -aG docker \$USER'),
  or re-run this script as root."
fi

if [[ ! -f /etc/debian_version ]]; then
  die "no Docker Engine is reachable and this is not a Debian-based system.
  Install Docker Engine for your distribution (https://docs.docker.com/engine/install/)
  and start it, then re-run."
fi

apt_install() {
  # Try without refreshing the package lists first (fast, works offline with a
  # warm cache); refresh only when the install fails.
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"; then
    say "apt-get install failed; refreshing package lists and retrying"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
  fi
}

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
  say "installing docker.io (Docker Engine and CLI) with apt-get"
  apt_install docker.io iptables
fi

data_dir="${BERTH_DATA_DIR:-$PWD/.berth}"
mkdir -p "$data_dir"
log="$data_dir/dockerd.log"
wait_seconds="${BERTH_DOCKER_WAIT_SECONDS:-60}"

# Waits until the engine answers (0), the dockerd process $1 dies (1), or the
# time runs out (2).
wait_for_engine() {
  local pid="$1" deadline=$((SECONDS + wait_seconds))
  while (( SECONDS < deadline )); do
    if engine_up; then return 0; fi
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    sleep 0.5
  done
  return 2
}

# A dockerd may already be starting (for example launched by another shell):
# give it the chance to finish instead of starting a second one.
if existing=$(pidof dockerd 2>/dev/null); then
  say "dockerd is already running (pid $existing); waiting for it to answer"
  if wait_for_engine "${existing%% *}"; then
    say "Docker Engine ready: $(engine_summary)"
    exit 0
  fi
  die "dockerd (pid $existing) is running but 'docker info' does not answer after ${wait_seconds}s; see its log or stop it and re-run"
fi

# containerd is started by dockerd itself when no system containerd runs.
extra_args=()
if [[ -n "${BERTH_DOCKERD_ARGS:-}" ]]; then
  read -r -a extra_args <<<"$BERTH_DOCKERD_ARGS"
fi

storage_fallback_done=0
iptables_fallback_done=0
for attempt in 1 2 3; do
  say "starting dockerd (attempt $attempt${extra_args[*]:+, args: ${extra_args[*]}}); log: $log"
  printf '\n==== %s ensure-docker: dockerd %s\n' "$(date -u +%FT%TZ)" "${extra_args[*]:-}" >>"$log"
  start_offset=$(stat -c %s "$log")
  setsid nohup dockerd ${extra_args[@]+"${extra_args[@]}"} >>"$log" 2>&1 </dev/null &
  pid=$!
  rc=0
  wait_for_engine "$pid" || rc=$?
  if (( rc == 0 )); then
    say "Docker Engine ready (dockerd pid $pid): $(engine_summary)"
    exit 0
  fi
  if (( rc == 2 )); then
    die "dockerd (pid $pid) did not answer within ${wait_seconds}s; see $log"
  fi

  # dockerd exited: look at what it said this time and pick a fallback.
  # Only the fatal lines count: the normal start-up chatter also mentions
  # overlay and iptables.
  attempt_log=$(tail -c +"$((start_offset + 1))" "$log")
  fatal=$(grep -iE 'failed to start daemon|level=fatal' <<<"$attempt_log" || true)
  [[ -n "$fatal" ]] || fatal=$(tail -n 5 <<<"$attempt_log")
  if (( !storage_fallback_done )) && grep -qiE 'graphdriver|storage.driver|overlay|driver not supported' <<<"$fatal"; then
    storage_fallback_done=1
    if command -v fuse-overlayfs >/dev/null 2>&1 && [[ -e /dev/fuse ]]; then
      say "dockerd could not use its default storage driver; retrying with fuse-overlayfs"
      extra_args+=(--storage-driver=fuse-overlayfs)
    else
      say "dockerd could not use its default storage driver; retrying with vfs (slower, uses more disk)"
      extra_args+=(--storage-driver=vfs)
    fi
    continue
  fi
  if (( !iptables_fallback_done )) && grep -qiE 'iptables|nf_tables|netfilter|network controller' <<<"$fatal"; then
    iptables_fallback_done=1
    say "dockerd could not program iptables; retrying with --iptables=false (ports are then published by the userland proxy)"
    extra_args+=(--iptables=false)
    continue
  fi
  printf '%s\n' "$attempt_log" | tail -n 15 >&2
  die "dockerd exited during start-up; full log: $log"
done
die "dockerd did not start after trying the storage and iptables fallbacks; see $log"
