#!/bin/bash
# End-to-end test of `tokrl sweep --launcher slurm` through a real SLURM
# cluster (CI starts a one-node cluster on localhost with
# scripts/slurm_local.sh). Exits 77 (skipped) when no cluster answers, unless
# TOKRL_REQUIRE_SLURM=1, where that is a failure.
# Usage: slurm_sweep_test.sh TOKRL SOURCE_DIR WORK_DIR
set -euo pipefail
tokrl=$1 src=$2 work=$3
sweep=$src/configs/sweeps/tokenization_types.toml
fail() { echo "FAIL: $*" >&2; exit 1; }
if ! command -v sbatch > /dev/null || ! sinfo -h > /dev/null 2>&1; then
  [ "${TOKRL_REQUIRE_SLURM:-0}" = 1 ] && fail "no SLURM cluster answers (sinfo failed)"
  echo "no SLURM cluster: skipped"
  exit 77
fi
rm -rf "$work" && mkdir -p "$work"
run() { "$tokrl" sweep "$sweep" --budget tiny --out "$work/out" --launcher slurm "$@"; }

run --jobs 2 --wait > "$work/1.log" 2>&1 || fail "sweep failed: $(cat "$work/1.log")"
grep -q "submitted SLURM job [0-9]" "$work/1.log" || fail "no job id: $(cat "$work/1.log")"
grep -q "20 of 20 runs done" "$work/1.log" || fail "runs missing: $(cat "$work/1.log")"
n_out=$(find "$work/out/slurm" -name '*_*.out' | wc -l)
[ "$n_out" = 20 ] || fail "expected 20 array task logs, found $n_out"
n_done=$(find "$work/out" -name summary.json | wc -l)
[ "$n_done" = 20 ] || fail "expected 20 finished runs, found $n_done"
# Everything is done: nothing is submitted again.
run > "$work/2.log" 2>&1
grep -q "nothing to submit" "$work/2.log" || fail "resubmitted finished runs: $(cat "$work/2.log")"

# Packed: each array task trains two seeds in one process (tokrl train
# --pack-seeds), and they finish as ordinary runs.
packed=$src/configs/sweeps/scaled_expert.toml
"$tokrl" sweep "$packed" --budget tiny --out "$work/packed" --launcher slurm \
  --pack 2 --jobs 2 --wait > "$work/3.log" 2>&1 || fail "packed sweep failed: $(cat "$work/3.log")"
grep -q "(8 array tasks)" "$work/3.log" || fail "expected 8 packs: $(cat "$work/3.log")"
grep -q "16 of 16 runs done" "$work/3.log" || fail "runs missing: $(cat "$work/3.log")"
n_packed=$(cat "$work"/packed/slurm/*_*.out | grep -c '^start  .*/seed0 + .*/seed1$' || true)
[ "$n_packed" = 8 ] || fail "expected 8 packed starts in the task logs, found $n_packed"
echo "slurm sweep: OK"
