#!/usr/bin/env bash
# Builds the rtmpbench image (Containerfile) as rtmpbench:ci without a container registry: the
# base is made from this machine's own Node (node, npm, a shell and the libraries they link),
# imported as localhost/node-host:20. npm inside the build reads this machine's npm cache, so a
# tree installed here (npm install) builds without downloading again.
set -euo pipefail
cd "$(dirname "$0")/.."
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/.ci/containers.conf}"
[ -f /etc/containers/policy.json ] || {
  mkdir -p /etc/containers
  echo '{"default":[{"type":"insecureAcceptAnything"}]}' >/etc/containers/policy.json
}

base=localhost/node-host:20
if ! podman image exists "$base"; then
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  node_bin=$(readlink -f "$(command -v node)")
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  # A shell and the few tools the build and the pods' scripts use (npm's and tsc's scripts
  # start with #!/usr/bin/env node).
  tools="sh env rm mkdir ls cat wc sleep tar gzip base64"
  mkdir -p "$root"/{bin,usr/bin,usr/lib/node_modules,etc/ssl,tmp,root}
  chmod 1777 "$root/tmp"
  cp "$node_bin" "$root/usr/bin/node"
  cp -r "$npm_dir" "$root/usr/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/bin/npx"
  bins="$node_bin"
  for t in $tools; do
    b=$(readlink -f "$(command -v "$t")")
    cp "$b" "$root/usr/bin/$t"
    bins="$bins $b"
  done
  ln -s ../usr/bin/sh "$root/bin/sh"
  # The dynamic libraries of these, at the paths the loader looks for them.
  for lib in $(for b in $bins; do ldd "$b"; done | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  cp -rL /etc/ssl/certs "$root/etc/ssl/certs"
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
  printf 'root:x:0:\n' >"$root/etc/group"
  # npm in the build prefers this machine's cache (mounted below) to the registry, and trusts the
  # certificates this machine trusts (a proxy's, say).
  mkdir -p "$root/usr/etc"
  printf 'prefer-offline=true\ncafile=/etc/ssl/certs/ca-certificates.crt\n' >"$root/usr/etc/npmrc"
  tar -C "$root" -c . | podman import --change 'ENV PATH=/usr/bin:/bin' \
    --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' - "$base" >/dev/null
fi

podman build --quiet --network host --build-arg BASE="$base" --volume "$(npm config get cache):/root/.npm" -t rtmpbench:ci . >/dev/null
# The build stage (dev dependencies, ~500 MB) is not kept.
podman image prune -f >/dev/null
echo "rtmpbench:ci built on $base"
