#!/bin/bash
# End-to-end test of `tokrl sweep --launcher local` on a real sweep file:
# interrupted runs are resumed, finished runs are skipped, and `tokrl report`
# turns the finished sweep into a report.
# Usage: local_sweep_test.sh TOKRL SOURCE_DIR WORK_DIR
set -euo pipefail
tokrl=$1 src=$2 work=$3
sweep=$src/configs/sweeps/scaled_expert.toml
fail() { echo "FAIL: $*" >&2; exit 1; }
rm -rf "$work" && mkdir -p "$work"
run() { "$tokrl" sweep "$sweep" --budget tiny --out "$work/out" "$@"; }

# 1. Every run stops early with a checkpoint, as if the machine went down.
run --jobs 2 --stop-after 200 > "$work/1.log"
run --list > "$work/list1.log"
grep -q "16 runs: 0 done, 16 partial, 0 to start" "$work/list1.log" ||
  fail "expected 16 partial runs: $(tail -1 "$work/list1.log")"

# 2. A run folder that died before its first checkpoint is moved aside.
stale=$work/out/flatten/breakout/seed0
rm -rf "$stale/checkpoint" "$stale/checkpoint.old"

# 3. The next invocation resumes the rest and restarts the stale one.
run --jobs 2 > "$work/2.log"
[ "$(grep -c '^resume ' "$work/2.log")" = 15 ] || fail "expected 15 resumed runs"
grep -q "^start  flatten/breakout/seed0" "$work/2.log" || fail "stale run not restarted"
[ -f "$stale/attempt-1/config.toml" ] && [ -f "$stale/attempt-1/train.log" ] ||
  fail "the stale run's files were not kept in $stale/attempt-1"
grep -q "moved the stale run's files to $stale/attempt-1" "$work/2.log" ||
  fail "the sweep log does not say where the stale run's files went"
run --list > "$work/list2.log"
grep -q "16 runs: 16 done" "$work/list2.log" || fail "not all done: $(tail -1 "$work/list2.log")"
n_resumed=$(find "$work/out" -name 'run_info.resume-200.json' | wc -l)
[ "$n_resumed" = 15 ] || fail "expected 15 resume records, found $n_resumed"
grep -q 'variant = "softmoe1_x4"' "$work/out/softmoe1_x4/freeway/seed1/config.toml" ||
  fail "experiment.variant not recorded"

# 4. Nothing left to do: everything is skipped.
run --jobs 2 > "$work/3.log"
grep -q "skipping 16 finished runs" "$work/3.log" || fail "finished runs not skipped"
! grep -q "^start" "$work/3.log" || fail "a finished run was started again"

# 5. A report over the sweep (the stale copy is unfinished and left out).
# 300 steps end no Freeway episode, so the score is the final evaluation.
"$tokrl" report "$work/out" --out "$work/report" --reps 2000 \
  --metric eval/return_mean > "$work/report.log" 2>&1 ||
  fail "report failed: $(tail -5 "$work/report.log")"
for v in flatten flatten_x4 softmoe4 softmoe1_x4; do
  grep -q "$v" "$work/report/summary.md" || fail "variant $v missing from summary.md"
done
echo "local sweep: OK"
