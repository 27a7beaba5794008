#!/usr/bin/env bash
# Builds the client packages from the current sources and installs each from its artifact into a
# clean environment, as a user would, so that a packaging mistake fails the tests:
#
#   DEST/dist/*.whl             the wheel (`pip wheel` with flit_core)
#   DEST/venv                   a new venv holding the wheel and its declared dependencies only
#                               (plus pytest), installed offline from target/ci-tools/wheelhouse
#   DEST/claudewatch-retry.tgz  the `npm pack` tarball (its prepack runs `tsc --strict`)
#   DEST/node                   clients/typescript/test: an app that installs the tarball and its
#                               peer with `npm ci --offline`, with the node:test suites and the
#                               examples/typescript programs compiled (`tsc --strict`) against it
#
# Prints DEST, target/clients/<hash of the inputs>/; a second run with the same sources only
# prints it. Test processes that call it at once wait for each other (flock). The tools come
# from .ci/install.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
tools="$PWD/target/ci-tools"
base="$PWD/target/clients"
mkdir -p "$base"

inputs=(
  clients/stage.sh
  clients/python/pyproject.toml clients/python/README.md clients/python/src
  clients/typescript/package.json clients/typescript/package-lock.json clients/typescript/tsconfig.json
  clients/typescript/README.md clients/typescript/CHANGELOG.md clients/typescript/src
  clients/typescript/test/package.json clients/typescript/test/package-lock.json
  clients/typescript/test/tsconfig.json clients/typescript/test/src
  examples/typescript/tsconfig.json examples/typescript/src
)
hash=$(find "${inputs[@]}" -type f -not -path '*/__pycache__/*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
dest="$base/$hash"

exec 9>"$base/.lock"
flock 9
if [ -f "$dest/.complete" ]; then
  echo "$dest"
  exit 0
fi
# Older builds of this checkout are stale: keep only this one.
find "$base" -mindepth 1 -maxdepth 1 -type d ! -name "$hash" -exec rm -rf {} +
rm -rf "$dest"
mkdir -p "$dest"

for tool in "$tools/venv/bin/pip" clients/typescript/node_modules/.bin/tsc; do
  [ -x "$tool" ] || { echo "stage.sh: $tool is missing: run \`bash .ci/install.sh\`" >&2; exit 1; }
done
# `npm ci --offline` below finds each package of the test app's lockfile in the npm cache only if
# clients/typescript's `npm ci` (in .ci/install.sh) put it there: the two lockfiles must agree.
node -e '
  const own = require("./clients/typescript/package-lock.json").packages;
  const app = require("./clients/typescript/test/package-lock.json").packages;
  for (const [path, p] of Object.entries(app)) {
    if (!path || p.link || p.resolved?.startsWith("file:")) continue;
    if (own[path]?.integrity !== p.integrity) {
      console.error(`stage.sh: ${path}@${p.version} of clients/typescript/test/package-lock.json is not in clients/typescript/package-lock.json: keep the two in step`);
      process.exit(1);
    }
  }'

{
  echo "--- python: wheel, clean venv"
  "$tools/venv/bin/pip" wheel -q --disable-pip-version-check --no-deps --no-build-isolation -w "$dest/dist" clients/python
  "$tools/venv/bin/python" -m venv --without-pip "$dest/venv"
  "$tools/venv/bin/pip" --python "$dest/venv/bin/python" install -q --disable-pip-version-check \
    --no-index --find-links "$tools/wheelhouse" "$dest"/dist/*.whl pytest

  echo "--- typescript: npm pack, clean app"
  (cd clients/typescript && npm pack --silent --pack-destination "$dest" >/dev/null)
  mv "$dest"/claudewatch-retry-*.tgz "$dest/claudewatch-retry.tgz"
  mkdir "$dest/node"
  cp -r clients/typescript/test/package.json clients/typescript/test/package-lock.json \
    clients/typescript/test/tsconfig.json clients/typescript/test/src "$dest/node/"
  mkdir -p "$dest/node/src/examples"
  cp examples/typescript/src/*.ts "$dest/node/src/examples/"
  (cd "$dest/node" && npm ci --offline --no-audit --no-fund --loglevel=error && ./node_modules/.bin/tsc -p .)
} >&2
touch "$dest/.complete"
echo "$dest"
