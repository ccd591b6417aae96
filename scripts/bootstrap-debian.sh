#!/usr/bin/env bash
# The engine's bootstrap script (engine/bootstrap-debian.sh), for running it by hand on a fresh Debian/Ubuntu
# machine: `sudo scripts/bootstrap-debian.sh`. The jobs run the copy built into the engine themselves.
set -euo pipefail
exec bash "$(dirname "$0")/../engine/bootstrap-debian.sh" "$@"
