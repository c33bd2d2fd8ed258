#!/usr/bin/env bash
# configurable-http-proxy, JupyterHub's proxy (npm), pinned, into .venv/node/ of the clone (where
# classroom/hub/jupyterhub_config.py and tests/test_classroom_hub.py look for it). Needs npm, node >= 20.
set -euo pipefail
cd "$(dirname "$0")/../.."
CHP_VERSION=5.2.0
if [ -x .venv/node/node_modules/.bin/configurable-http-proxy ] \
        && [ "$(.venv/node/node_modules/.bin/configurable-http-proxy --version)" = "$CHP_VERSION" ]; then
    exit 0
fi
npm install --no-save --no-audit --no-fund --loglevel=error --prefix .venv/node "configurable-http-proxy@${CHP_VERSION}"
