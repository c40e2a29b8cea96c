#!/usr/bin/env bash
# Sets up a fresh Debian machine, builds tokrl from scratch and runs every test.
# Usage: bash scripts/test.sh   (BUILD_DIR=build-x to change the build folder)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Test-only tools: headless Chromium opens the report page; a one-node SLURM
# cluster on localhost runs a real sweep array job. Both tests are required
# here (they would skip themselves on a machine without them).
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y chromium
$SUDO bash scripts/slurm_local.sh install
$SUDO bash scripts/slurm_local.sh start
export TOKRL_REQUIRE_BROWSER=1 TOKRL_REQUIRE_SLURM=1
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTOKRL_WARNINGS_AS_ERRORS=ON
cmake --build "$BUILD_DIR" -j "$JOBS"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS"
