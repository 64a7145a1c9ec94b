#!/usr/bin/env bash
# Finishes a `debootstrap --variant=minbase` rootfs for nos-ci/node (scripts/build-images.sh): the
# official node image's user (node, uid/gid 1000, home /home/node, shell /bin/bash), no apt lists,
# caches, docs or host files. Usage: images/node/rootfs.sh ROOTFS_DIR
set -euo pipefail
root=$1
echo 'node:x:1000:' >>"$root/etc/group"
echo 'node:x:1000:1000::/home/node:/bin/bash' >>"$root/etc/passwd"
echo 'node:*:20000:0:99999:7:::' >>"$root/etc/shadow"
install -d -o 1000 -g 1000 -m 0755 "$root/home/node"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
  "$root"/var/log/* "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
  "$root"/tmp/* "$root"/etc/hostname "$root"/etc/resolv.conf
