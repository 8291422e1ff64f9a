#!/usr/bin/env bash
# Static checks of deploy/ (Dockerfile, systemd units, Kubernetes manifests,
# nginx configurations); see deploy_check.py. Debian's python3 (python3-yaml).
# Usage: deploy_check.sh REPO_DIR SERVER_BINARY
set -euo pipefail
exec /usr/bin/python3 "$(dirname "$0")/deploy_check.py" "$@"
