#!/bin/bash
# `tokrl sweep --pack 2`: the seeds of each variant and game train in one
# packed process (tokrl train --pack-seeds), stop and resume as packs, and
# leave ordinary run folders that `tokrl report` reads.
# Usage: packed_sweep_test.sh TOKRL SOURCE_DIR WORK_DIR
set -euo pipefail
tokrl=$1 src=$2 work=$3
sweep=$src/configs/sweeps/scaled_expert.toml
fail() { echo "FAIL: $*" >&2; exit 1; }
rm -rf "$work" && mkdir -p "$work"
run() { "$tokrl" sweep "$sweep" --budget tiny --out "$work/out" --pack 2 "$@"; }

# 1. 16 runs (2 seeds each) start as 8 packs and stop with checkpoints.
run --jobs 2 --stop-after 200 > "$work/1.log"
[ "$(grep -c '^start  .*/seed0 + .*/seed1$' "$work/1.log")" = 8 ] ||
  fail "expected 8 packs of seeds 0 and 1: $(cat "$work/1.log")"
"$tokrl" sweep "$sweep" --budget tiny --out "$work/out" --list > "$work/list1.log"
grep -q "16 runs: 0 done, 16 partial, 0 to start" "$work/list1.log" ||
  fail "expected 16 partial runs: $(tail -1 "$work/list1.log")"
# Each partial run shows how far it got.
[ "$(grep -c $'\tpartial\t.*\t200/300 steps$' "$work/list1.log")" = 16 ] ||
  fail "expected 16 runs at 200/300 steps: $(cat "$work/list1.log")"
# An unreadable checkpoint does not break --list (the step is left blank).
cp -r "$work/out" "$work/corrupt"
: > "$work/corrupt/flatten/breakout/seed0/checkpoint/trainer.bin"
"$tokrl" sweep "$sweep" --budget tiny --out "$work/corrupt" --list > "$work/list_corrupt.log" ||
  fail "--list failed on a corrupt checkpoint"
grep -q $'\tpartial\t.*flatten/breakout/seed0\t$' "$work/list_corrupt.log" ||
  fail "the corrupt run's line: $(grep flatten/breakout/seed0 "$work/list_corrupt.log")"

grep -q "trained in a pack; its output is in .*/flatten/breakout/seed0/train.log" \
  "$work/out/flatten/breakout/seed1/train.log" || fail "seed1's train.log does not point to the pack's log"

# 2. They resume as packs and finish.
run --jobs 2 > "$work/2.log"
[ "$(grep -c '^resume .*/seed0 + .*/seed1$' "$work/2.log")" = 8 ] ||
  fail "expected 8 resumed packs: $(cat "$work/2.log")"
"$tokrl" sweep "$sweep" --budget tiny --out "$work/out" --list > "$work/list2.log"
grep -q "16 runs: 16 done" "$work/list2.log" || fail "not all done: $(tail -1 "$work/list2.log")"

# 3. Under SLURM a pack is one array task: the script covers the 8 packs
# and passes --pack on; all done, nothing is pending.
"$tokrl" sweep "$sweep" --budget tiny --out "$work/slurm" --pack 2 \
  --launcher slurm --no-submit > "$work/3.log" 2>&1 ||
  fail "slurm script not written: $(cat "$work/3.log")"
grep -q "(8 array tasks)" "$work/3.log" || fail "expected 8 tasks: $(cat "$work/3.log")"
grep -q -- "--pack 2 --task" "$work/slurm/slurm/scaled_expert.sbatch" ||
  fail "the script does not pass --pack: $(cat "$work/slurm/slurm/scaled_expert.sbatch")"
run --launcher slurm --no-submit > "$work/3b.log" 2>&1
grep -q "nothing to submit" "$work/3b.log" || fail "done packs resubmitted: $(cat "$work/3b.log")"
# Task 3 is the fourth pack (flatten_x4/breakout, seeds 0 and 1), here done.
run --task 3 > "$work/3c.log" 2>&1 || fail "task 3 failed: $(cat "$work/3c.log")"
grep -q "skipping 2 finished runs" "$work/3c.log" || fail "task 3 did not skip its pack: $(cat "$work/3c.log")"
if run --task 8 > "$work/3d.log" 2>&1; then fail "--task 8 of 8 packs was accepted"; fi
grep -q "out of range: the sweep has 8 packs of up to 2 runs" "$work/3d.log" ||
  fail "unclear error: $(cat "$work/3d.log")"

# 4. The report reads the members like any runs.
"$tokrl" report "$work/out" --out "$work/report" --reps 200 --no-plots \
  --metric eval/return_mean > "$work/report.log" 2>&1 ||
  fail "report failed: $(tail -5 "$work/report.log")"
grep -q "^16 runs, 2 games" "$work/report/summary.md" ||
  fail "not all 16 runs reported: $(head -5 "$work/report/summary.md")"
grep -q "| softmoe1_x4 | 2 | 2 |" "$work/report/summary.md" ||
  fail "softmoe1_x4 not reported over 2 seeds x 2 games"
echo "packed sweep: OK"
