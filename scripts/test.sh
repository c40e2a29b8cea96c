#!/usr/bin/env bash
# Sets up a fresh Debian machine, builds tokrl from scratch and runs every test.
# Usage: bash scripts/test.sh   (BUILD_DIR=build-x to change the build folder)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Test-only tools: headless Chromium opens the report page; a one-node SLURM
# cluster on localhost runs a real sweep array job; python3-torch runs the
# PyTorch peer benchmark (bench/peer). These tests are required here (they
# would skip themselves on a machine without them).
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y chromium python3-torch
$SUDO bash scripts/slurm_local.sh install
$SUDO bash scripts/slurm_local.sh start
export TOKRL_REQUIRE_BROWSER=1 TOKRL_REQUIRE_SLURM=1 TOKRL_REQUIRE_PEER=1
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTOKRL_WARNINGS_AS_ERRORS=ON
cmake --build "$BUILD_DIR" -j "$JOBS"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS"

# The torch-free tests (env, cli, stats, report, sweep, the parser fuzz
# tests) again under AddressSanitizer + UndefinedBehaviorSanitizer.
# LibTorch stays out (Debian's build is not instrumented), which keeps this
# build small. Warnings are errors in the build above only: GCC 12 reports
# false maybe-uninitialized warnings inside std::regex under ASan.
# SKIP_SANITIZERS=1 skips it.
if [ "${SKIP_SANITIZERS:-0}" != 1 ]; then
  ASAN_DIR=${ASAN_BUILD_DIR:-$BUILD_DIR-asan}
  cmake -S . -B "$ASAN_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Testing \
    -DTOKRL_WITH_TORCH=OFF -DTOKRL_BUILD_BENCH=OFF -DTOKRL_SANITIZER=address
  cmake --build "$ASAN_DIR" -j "$JOBS"
  ASAN_OPTIONS=detect_leaks=0 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$ASAN_DIR" --output-on-failure -j "$JOBS" -E "report_browser"
fi
