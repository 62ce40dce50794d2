#!/usr/bin/env bash
# Installs the Debian bookworm packages Tessera needs. Idempotent: packages
# already present are skipped, so a second run does nothing and needs no network.
set -euo pipefail
pkgs=(build-essential cmake pkg-config
      libsystemc-dev verilator libfmt-dev libboost-program-options-dev
      catch2 libyaml-cpp-dev nlohmann-json3-dev
      libonnx-dev libprotobuf-dev python3-onnx python3-numpy python3-matplotlib
      clang-14 libfuzzer-14-dev   # make test-sanitize / make fuzz (tests/fuzz)
      libsqlite3-dev libopenmpi-dev openmpi-bin
      python3-torch python3-torchvision)   # CPU PyTorch: the aten-trace tests (built-in models = PyTorch's ops)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "setup-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
