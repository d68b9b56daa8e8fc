#!/usr/bin/env bash
# build-test-images.sh — build Berth's local test images without any registry.
#
# Images (all built from files on this machine, never pulled):
#
#   berth-test/busybox:latest
#       A one-layer image made from Debian's statically linked busybox
#       (package busybox-static). /bin/busybox plus a symlink for every applet
#       at its usual path (sh, ash, httpd, sleep, wget, nc, echo, cat, ls, env,
#       true, false, kill, dd, head, tail, ps, id, hostname, ip, nslookup,
#       timeout, seq, grep, sed, awk, ...), /etc/passwd and /etc/group with
#       root and nobody, /tmp (1777), /root, and /var/www/index.html
#       containing "berth-test". CMD ["sh"], PATH set, no ENTRYPOINT.
#       Label berth.test-image.hash=<sha256 of this script + the busybox binary>.
#       Examples:
#         docker run --rm berth-test/busybox echo hello
#         docker run -d -p 127.0.0.1::80 berth-test/busybox httpd -f -p 80 -h /var/www
#
# Contract: idempotent. An image whose hash label matches is left alone (the
# script then takes well under a second); any change to this script or to
# the busybox binary rebuilds it. Needs a running Docker Engine (run
# scripts/ensure-docker.sh first). Installs busybox-static with apt-get when
# it is missing and the machine is Debian and we are root; BERTH_BUSYBOX may
# name another statically linked busybox binary.
set -euo pipefail

say() { printf 'build-test-images: %s\n' "$*"; }
die() { printf 'build-test-images: ERROR: %s\n' "$*" >&2; exit 1; }

readonly IMAGE=berth-test/busybox:latest
readonly HASH_LABEL=berth.test-image.hash
readonly PATH_ENV=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

docker info >/dev/null 2>&1 || die "no Docker Engine answers 'docker info'; run scripts/ensure-docker.sh first"

is_static() {
  [[ -x "$1" ]] || return 1
  local out
  out=$(LC_ALL=C ldd "$1" 2>&1 || true)
  grep -qE 'not a dynamic executable|statically linked' <<<"$out"
}

find_busybox() {
  if [[ -n "${BERTH_BUSYBOX:-}" ]]; then
    is_static "$BERTH_BUSYBOX" || die "BERTH_BUSYBOX=$BERTH_BUSYBOX is not a statically linked executable"
    echo "$BERTH_BUSYBOX"; return
  fi
  # Debian's busybox-static installs /bin/busybox; the dynamic 'busybox'
  # package uses the same path, hence the static check.
  local candidate
  for candidate in /bin/busybox /usr/bin/busybox; do
    if is_static "$candidate"; then echo "$candidate"; return; fi
  done
  return 1
}

if ! busybox=$(find_busybox); then
  if [[ -f /etc/debian_version && $(id -u) -eq 0 ]]; then
    say "installing busybox-static with apt-get"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends busybox-static; then
      say "apt-get install failed; refreshing package lists and retrying"
      apt-get update
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends busybox-static
    fi
    busybox=$(find_busybox) || die "busybox-static is installed but no static /bin/busybox was found"
  else
    die "a statically linked busybox is needed. On Debian/Ubuntu: 'sudo apt-get install busybox-static';
  elsewhere set BERTH_BUSYBOX=/path/to/static/busybox."
  fi
fi

hash=$(cat "${BASH_SOURCE[0]}" "$busybox" | sha256sum | cut -c1-32)
current=$(docker image inspect --format "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$IMAGE" 2>/dev/null || true)
if [[ "$current" == "$hash" ]]; then
  say "$IMAGE is up to date ($hash)"
  exit 0
fi

say "building $IMAGE from $busybox"
rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT

install -D -m 0755 "$busybox" "$rootfs/bin/busybox"
# Every applet at the path busybox itself would install it to.
while read -r applet; do
  [[ -n "$applet" && "$applet" != bin/busybox ]] || continue
  mkdir -p "$rootfs/$(dirname "$applet")"
  ln -sf /bin/busybox "$rootfs/$applet"
done < <("$busybox" --list-full)
for a in sh sleep httpd wget nc echo cat ls env true false kill; do
  [[ -L "$rootfs/bin/$a" || -L "$rootfs/usr/bin/$a" || -L "$rootfs/sbin/$a" || -L "$rootfs/usr/sbin/$a" ]] \
    || die "busybox at $busybox lacks the applet '$a'"
done

mkdir -p "$rootfs"/{etc,root,proc,sys,dev,var/www,usr/local/bin}
install -d -m 1777 "$rootfs/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
printf 'berth-test\n' >"$rootfs/var/www/index.html"

tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$rootfs" -c . |
  docker import \
    --change 'CMD ["sh"]' \
    --change "ENV PATH=$PATH_ENV" \
    --change "LABEL $HASH_LABEL=$hash" \
    --message "berth test image from $(basename "$busybox") $("$busybox" 2>&1 | head -n1 | awk '{print $2}')" \
    - "$IMAGE" >/dev/null
say "built $IMAGE ($hash)"
