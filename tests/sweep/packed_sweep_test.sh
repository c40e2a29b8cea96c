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

# 2. They resume as packs and finish.
run --jobs 2 > "$work/2.log"
[ "$(grep -c '^resume .*/seed0 + .*/seed1$' "$work/2.log")" = 8 ] ||
  fail "expected 8 resumed packs: $(cat "$work/2.log")"
"$tokrl" sweep "$sweep" --budget tiny --out "$work/out" --list > "$work/list2.log"
grep -q "16 runs: 16 done" "$work/list2.log" || fail "not all done: $(tail -1 "$work/list2.log")"

# 3. --pack is local only.
if "$tokrl" sweep "$sweep" --budget tiny --out "$work/out" --pack 2 \
    --launcher slurm --no-submit > "$work/3.log" 2>&1; then
  fail "--pack with slurm was accepted"
fi
grep -q "local launcher only" "$work/3.log" || fail "unclear error: $(cat "$work/3.log")"

# 4. The report reads the members like any runs.
"$tokrl" report "$work/out" --out "$work/report" --reps 200 --no-plots \
  --metric eval/return_mean > "$work/report.log" 2>&1 ||
  fail "report failed: $(tail -5 "$work/report.log")"
grep -q "^16 runs, 2 games" "$work/report/summary.md" ||
  fail "not all 16 runs reported: $(head -5 "$work/report/summary.md")"
grep -q "| softmoe1_x4 | 2 | 2 |" "$work/report/summary.md" ||
  fail "softmoe1_x4 not reported over 2 seeds x 2 games"
echo "packed sweep: OK"
