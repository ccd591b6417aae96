#!/usr/bin/env bash
# Installs the system packages the xtask cannot provision itself, on Debian/Ubuntu. Idempotent: what is
# already there is skipped. Everything else (maturin, ruff, taplo, typos, twine, wasm-bindgen-cli, wasm-opt...)
# is provisioned by the xtask into .tools/ at the versions pinned in xtask/src/config.rs.
#
#   sudo scripts/bootstrap-debian.sh          # or as root
#
# What it installs, and why:
#   python3-venv, nodejs, npm, git, curl  the Python tests' virtualenvs, the wasm bundle's node tests
#   rustc-web + rust-web-src + lld        a wasm32 toolchain that builds std from source, linked as the rustup
#                                         toolchain `debian-web` (only when the default toolchain has no
#                                         wasm32-unknown-unknown target, e.g. rustup cannot add targets here)
#   minisign                              verifies release signatures independently of the xtask
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  exec sudo -E "$0" "$@"
fi
export DEBIAN_FRONTEND=noninteractive

want=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
need_cmd() { command -v "$1" >/dev/null 2>&1; }

need_cmd git || want+=(git)
need_cmd curl || want+=(curl)
need_cmd node || want+=(nodejs)
need_cmd npm || want+=(npm)
need_cmd minisign || want+=(minisign)
python3 -c 'import venv, ensurepip' 2>/dev/null || want+=(python3-venv)

wasm_target_installed() {
  local sysroot
  sysroot=$(rustc --print sysroot 2>/dev/null) || return 1
  [ -d "$sysroot/lib/rustlib/wasm32-unknown-unknown/lib" ]
}
if ! wasm_target_installed && ! rustup target add wasm32-unknown-unknown 2>/dev/null; then
  for p in rustc-web cargo-web rust-web-src rust-web-llvm; do have "$p" || want+=("$p"); done
  need_debian_web=1
fi

if [ ${#want[@]} -gt 0 ]; then
  echo "bootstrap: installing ${want[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${want[@]}"
else
  echo "bootstrap: system packages already present"
fi

if [ "${need_debian_web:-0}" = 1 ]; then
  # rust-lld is a symlink to the versioned lld package, which the rustc-web packages do not pull in.
  lld_pkg=$(basename "$(readlink /usr/bin/rust-lld)")
  if ! have "$lld_pkg"; then
    apt-get install -y -qq --no-install-recommends "$lld_pkg"
  fi
  rustc_v=$(dpkg-query -W -f='${Version}' rustc-web)
  src_v=$(dpkg-query -W -f='${Version}' rust-web-src)
  if [ "$rustc_v" != "$src_v" ]; then
    echo "bootstrap: rustc-web $rustc_v and rust-web-src $src_v differ; run: apt-get install rustc-web=$src_v" >&2
    exit 1
  fi
  if ! rustup toolchain list | grep -q '^debian-web'; then
    rustup toolchain link debian-web /usr
  fi
  echo "bootstrap: wasm32 builds use the rustup toolchain debian-web (rustc-web $rustc_v, std built from source)"
fi
