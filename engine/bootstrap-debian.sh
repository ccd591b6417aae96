#!/usr/bin/env bash
# Installs the system packages the xtask cannot provision itself, on Debian/Ubuntu. Idempotent: what is
# already there is skipped. Everything else (maturin, ruff, taplo, typos, twine, wasm-bindgen-cli, wasm-opt...)
# is provisioned by the xtask into .tools/ at the versions pinned in engine/src/config.rs.
#
# It is part of the engine (built into it): the jobs that need these packages write it into the tools directory
# and run it themselves, once per version of it; by hand:
#
#   sudo bash .tools/bootstrap-debian.sh      # where a job left it (or as root); in the engine's repository
#   sudo scripts/bootstrap-debian.sh          # also runs it
#
# What it installs, and why:
#   python3-venv, nodejs, npm, git, curl  the Python tests' virtualenvs, the wasm bundle's node tests
#   rustc-web + rust-web-src + lld        a wasm32 toolchain that builds std from source, linked as the rustup
#                                         toolchain `debian-web` (only when the default toolchain has no
#                                         wasm32-unknown-unknown target, e.g. rustup cannot add targets here)
#   minisign                              verifies release signatures independently of the xtask
#   chromium                              the viewer page's tests in a real browser (headless)
#   node 18, unpacked into the tools dir  the lowest node the pin allows (Debian 12's nodejs 18): the wasm tests
#                                         run on it too. Unpacked from Debian's packages beside the system node,
#                                         never installed over it (only its libraries and JS modules are)
#   qemu-user, and an arm64 Python        the aarch64 wheel's tests: Debian's arm64 python3.11 packages unpacked
#     unpacked into the tools dir         into the tools directory and run with `qemu-aarch64 -L`
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  exec sudo -E bash "$0" "$@"
fi
export DEBIAN_FRONTEND=noninteractive

want=()
updated=0
apt_update_once() { [ "$updated" = 1 ] || { apt-get update -qq; updated=1; }; }
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
need_cmd() { command -v "$1" >/dev/null 2>&1; }

need_cmd git || want+=(git)
need_cmd curl || want+=(curl)
need_cmd node || want+=(nodejs)
need_cmd npm || want+=(npm)
need_cmd minisign || want+=(minisign)
need_cmd chromium || need_cmd chromium-browser || want+=(chromium)
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
  apt_update_once
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

# Node at the pin's lower bound, unpacked (not installed: it would replace the system node) into the tools
# directory, where `cargo xtask test` finds it. Debian 12 ships it; elsewhere the test job says it skipped it.
repo=$(cd "$(dirname "$0")/.." && pwd)
tools_dir=${XTASK_TOOLS_DIR:-$repo/.tools}
node_min=18
node_dir=$tools_dir/node-lower-bound
if "$node_dir/bin/node" --version 2>/dev/null | grep -q "^v$node_min\."; then
  echo "bootstrap: node $node_min (the pin's lower bound) already in $node_dir"
else
  apt_update_once
  node_v=$(apt-cache madison nodejs 2>/dev/null | awk -F'|' '{gsub(/ /, "", $2); print $2}' | grep "^$node_min\." | head -1 || true)
  if [ -z "$node_v" ]; then
    echo "bootstrap: no nodejs $node_min in this machine's package lists: the wasm tests on node $node_min will be skipped"
  else
    libnode=$(apt-cache show "nodejs=$node_v" | sed -n 's/^Depends:.*\(libnode[0-9]*\).*/\1/p' | head -1)
    # What libnode needs: shared libraries, and the JS modules Debian's node loads from /usr/share/nodejs
    # (acorn, cjs-module-lexer, undici). Both are co-installable with any system node (node-acorn's `nodejs:any`
    # is satisfied by the node already there).
    libs=$(apt-cache show "$libnode=$node_v" | sed -n 's/^Depends: //p' | head -1 | tr ',' '\n' \
      | sed 's/([^)]*)//g; s/|.*//; s/ //g' | grep -E '^(lib|node-)' || true)
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $libs >/dev/null
    tmp=$(mktemp -d)
    chmod 755 "$tmp"
    (cd "$tmp" && apt-get download -qq "nodejs=$node_v" "$libnode=$node_v" 2>/dev/null)
    rm -rf "$node_dir"
    mkdir -p "$node_dir/bin"
    for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$node_dir/root"; done
    rm -rf "$tmp"
    libdir=$(dirname "$(find "$node_dir/root" -name 'libnode.so*' | head -1)")
    {
      echo '#!/bin/sh'
      echo "# Debian's nodejs $node_v, unpacked by the engine's bootstrap-debian.sh."
      echo "LD_LIBRARY_PATH=\"$libdir\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}\" exec \"$node_dir/root/usr/bin/node\" \"\$@\""
    } > "$node_dir/bin/node"
    chmod +x "$node_dir/bin/node"
    if [ -n "${SUDO_UID:-}" ]; then chown -R "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" "$tools_dir"; fi
    echo "bootstrap: node $("$node_dir/bin/node" --version) (the pin's lower bound) unpacked into $node_dir"
  fi
fi

# An aarch64 Python for the aarch64 wheel's tests under qemu-user: Debian's arm64 packages unpacked into the
# tools directory (never installed: python3:arm64 would replace the system Python), run with `qemu-aarch64 -L`.
py_arch=arm64
py_dir=$tools_dir/aarch64-python
if [ -x "$py_dir/root/usr/bin/python3.11" ] && command -v qemu-aarch64 >/dev/null 2>&1; then
  echo "bootstrap: the aarch64 Python is already in $py_dir"
elif [ "$(dpkg --print-architecture 2>/dev/null)" != amd64 ]; then
  echo "bootstrap: not an amd64 machine: the aarch64 wheel's tests under qemu will be skipped"
else
  if ! command -v qemu-aarch64 >/dev/null 2>&1; then
    apt_update_once
    apt-get install -y -qq --no-install-recommends qemu-user >/dev/null
  fi
  if ! dpkg --print-foreign-architectures | grep -qx "$py_arch"; then
    dpkg --add-architecture "$py_arch"
    apt-get update -qq
  fi
  tmp=$(mktemp -d)
  chmod 755 "$tmp"
  if (cd "$tmp" && apt-get download -qq python3.11-minimal:$py_arch libpython3.11-minimal:$py_arch \
        libpython3.11-stdlib:$py_arch libc6:$py_arch libexpat1:$py_arch zlib1g:$py_arch libffi8:$py_arch \
        libssl3:$py_arch libbz2-1.0:$py_arch liblzma5:$py_arch libsqlite3-0:$py_arch libuuid1:$py_arch \
        libcrypt1:$py_arch 2>/dev/null); then
    rm -rf "$py_dir"
    mkdir -p "$py_dir"
    for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$py_dir/root"; done
    if [ -n "${SUDO_UID:-}" ]; then chown -R "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" "$tools_dir"; fi
    echo "bootstrap: an aarch64 Python ($("$(command -v qemu-aarch64)" -L "$py_dir/root" "$py_dir/root/usr/bin/python3.11" --version 2>&1)) unpacked into $py_dir"
  else
    echo "bootstrap: Debian's arm64 Python packages are not available here: the aarch64 wheel's tests will be skipped"
  fi
  rm -rf "$tmp"
fi
