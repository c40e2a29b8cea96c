#!/usr/bin/env bash
# Installs every Debian package tokrl needs to build, run and benchmark
# (gnuplot-nox draws the plots of `tokrl report`). scripts/test.sh adds the
# test-only tools (Chromium, a one-node SLURM cluster).
# Safe to run again. Needs root (or sudo) and Debian 12 (bookworm). Recommended
# packages are kept, as in the install the build was verified with.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y \
  build-essential cmake ninja-build pkg-config git \
  libtorch-dev libopenblas0-openmp \
  libgtest-dev libgmock-dev libbenchmark-dev \
  libcli11-dev libtomlplusplus-dev nlohmann-json3-dev libfmt-dev \
  gnuplot-nox
