#!/bin/bash
# SIGTERM (what SLURM sends at a time limit, what `kill` sends) stops
# `tokrl train` and `tokrl sweep` with a resumable checkpoint.
# Usage: interrupt_test.sh TOKRL SOURCE_DIR WORK_DIR
set -euo pipefail
tokrl=$1 src=$2 work=$3
. "$src/tests/cli/lib.sh"
rm -rf "$work" && mkdir -p "$work"
# Sends SIGTERM to process $2 and requires it to exit with status 1 ($1 names it).
terminate() {
  kill -TERM "$2"
  local status=0
  wait "$2" || status=$?
  [ $status = 1 ] || fail "$1 exited with $status, wanted 1"
}

# 1. tokrl train: exit 1 naming the signal; the checkpoint loads on resume.
"$tokrl" train -c "$src/configs/dqn_catch.toml" --set train.total_steps=100000000 \
  --set train.log_every=500 --run-dir "$work/run" --quiet > "$work/train.log" 2>&1 &
pid=$!
await "$work/run/metrics.csv"
terminate train $pid
grep -q "stopped by signal 15.*a checkpoint was saved" "$work/train.log" ||
  fail "no stop message: $(cat "$work/train.log")"
[ -f "$work/run/checkpoint/MANIFEST" ] || fail "no checkpoint after SIGTERM"
"$tokrl" train -c "$src/configs/dqn_catch.toml" --set train.total_steps=100000000 \
  --set train.log_every=500 --run-dir "$work/run" --resume --stop-after 0 --quiet ||
  fail "the checkpoint written on SIGTERM does not resume"

# 2. tokrl sweep: stops its running runs, which resume next time.
write_catch_sweep "$work/sweep.toml"
"$tokrl" sweep "$work/sweep.toml" --out "$work/out" --jobs 2 > "$work/sweep.log" 2>&1 &
pid=$!
await "$work/out/dqn/catch/seed0/metrics.csv"
await "$work/out/dqn/catch/seed1/metrics.csv"
terminate sweep $pid
grep -q "interrupted; the stopped runs saved checkpoints" "$work/sweep.log" ||
  fail "no interruption message: $(cat "$work/sweep.log")"
"$tokrl" sweep "$work/sweep.toml" --out "$work/out" --list | grep -q "2 runs: 0 done, 2 partial" ||
  fail "runs not resumable after the interruption"
echo "interrupt: OK"
