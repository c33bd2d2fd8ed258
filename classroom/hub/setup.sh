#!/usr/bin/env bash
# Set up a machine as the class hub (run as root from the clone, after `make venv` or with the
# course installed: pip install -c requirements/constraints.txt -r classroom/hub/requirements.txt).
# Like binder/postBuild: what the environment needs beyond pip. INSTRUCTORS.md walks through it.
set -euo pipefail
cd "$(dirname "$0")/../.."
classroom/hub/install-proxy.sh          # configurable-http-proxy (npm, pinned)
EXCHANGE="${TINYTORCH_EXCHANGE:-/srv/nbgrader/exchange}"
mkdir -p "$EXCHANGE" "${TINYTORCH_HUB_STATE:-/srv/jupyterhub}"
chmod 0777 "$EXCHANGE"                 # nbgrader's exchange: every learner writes their submissions here
echo "hub ready: TINYTORCH_INSTRUCTORS=you .venv/bin/jupyterhub -f classroom/hub/jupyterhub_config.py"
