#!/bin/bash
# Regression tests for issue 9 that need real processes: a full disk while a
# checkpoint is written, a run killed before its first checkpoint, resume
# from the run's own config, a finished run, two trainers on one folder, and
# a sweep killed with SIGKILL.
# Usage: reliability_test.sh TOKRL SOURCE_DIR WORK_DIR
set -euo pipefail
tokrl=$1 src=$2 work=$3
. "$src/tests/cli/lib.sh"
rm -rf "$work" && mkdir -p "$work"
catch=(-c "$src/configs/dqn_catch.toml" --set agent.min_replay=100)
# Runs "$@", which must fail with status 1 (a clean error, not a crash) and
# print the extended regex $1.
expect_error() {
  local pattern=$1; shift
  local status=0
  out=$("$@" 2>&1) || status=$?
  [ $status = 1 ] || fail "wanted exit 1, got $status from: $* :: $out"
  grep -Eq -- "$pattern" <<<"$out" || fail "no /$pattern/ in: $out"
}

# 1. Full disk while the checkpoint is written (a file size limit: writes
# fail with EFBIG as they would with ENOSPC): a clean error, and the
# previous checkpoint still resumes.
run=$work/disk
"$tokrl" train "${catch[@]}" --set train.total_steps=400 --run-dir "$run" --quiet
[ -f "$run/checkpoint/MANIFEST" ] || fail "no first checkpoint"
manifest=$(cat "$run/checkpoint/MANIFEST")
# 300 KiB: the logs fit, the replay file (100k transitions reserved) not.
expect_error "cannot write a checkpoint in .*previous one, if any, is intact" \
  bash -c "trap '' XFSZ; ulimit -f 300; exec \"\$0\" \"\$@\"" "$tokrl" train \
  --set train.total_steps=800 --resume --run-dir "$run" --quiet
grep -q "terminate called" <<<"$out" && fail "crashed: $out"
[ "$(cat "$run/checkpoint/MANIFEST")" = "$manifest" ] || fail "checkpoint changed"
[ ! -e "$run/checkpoint.tmp" ] || fail "checkpoint.tmp left behind"
"$tokrl" train --resume --run-dir "$run" --set train.total_steps=800 --quiet ||
  fail "the earlier checkpoint does not resume after the failed write"

# 2. Resume reads the run's own config.toml: no -c needed; a learning key
# cannot change; a finished run is left as it is.
"$tokrl" train --resume --run-dir "$run" --quiet > "$work/finished.log" ||
  fail "resuming a finished run is not a success"
summary=$(cat "$run/summary.json")
out=$("$tokrl" train --resume --run-dir "$run" --set train.total_steps=500)
grep -q "already finished at 800 env steps" <<<"$out" || fail "no finished note: $out"
[ "$(cat "$run/summary.json")" = "$summary" ] || fail "summary.json rewritten"
expect_error "cannot resume: config key 'agent.lr' is 0.5 but 0.001 in .*config.toml" \
  "$tokrl" train --resume --run-dir "$run" --set agent.lr=0.5

# 3. A run killed (kill -9) before its first checkpoint restarts under
# --resume, keeping the dead attempt's files.
run=$work/dead
"$tokrl" train "${catch[@]}" --set train.total_steps=100000000 \
  --set train.log_every=200 --run-dir "$run" --quiet &
pid=$!
await "$run/metrics.csv"
kill -9 $pid; wait $pid || true
[ ! -e "$run/checkpoint" ] || fail "the dead run has a checkpoint"
expect_error "already holds a run; pass --resume to restart it" \
  "$tokrl" train "${catch[@]}" --run-dir "$run"
"$tokrl" train --resume --run-dir "$run" --set train.total_steps=300 > "$work/restart.log" ||
  fail "restart failed: $(cat "$work/restart.log")"
grep -q "restarting the run from scratch" "$work/restart.log" || fail "no restart note"
[ -f "$run/attempt-1/metrics.csv" ] && [ -f "$run/summary.json" ] ||
  fail "the dead attempt was not kept or the restart did not finish"

# 4. Two trainers on one folder: the second is refused, naming the first.
run=$work/busy
"$tokrl" train "${catch[@]}" --set train.total_steps=100000000 \
  --set train.log_every=200 --set train.checkpoint_every=200 --run-dir "$run" --quiet &
pid=$!
await "$run/checkpoint/MANIFEST"
expect_error "is in use by another tokrl process \\(pid $pid\\)" \
  "$tokrl" train --resume --run-dir "$run"
kill -TERM $pid; wait $pid || true

# 5. kill -9 of a sweep takes its trainers with it (they checkpoint on the
# SIGTERM they get), and the next sweep resumes them.
write_catch_sweep "$work/sweep.toml"
"$tokrl" sweep "$work/sweep.toml" --out "$work/out" --jobs 2 > "$work/sweep.log" 2>&1 &
pid=$!
await "$work/out/dqn/catch/seed0/metrics.csv"
await "$work/out/dqn/catch/seed1/metrics.csv"
kill -9 $pid; wait $pid || true
for seed in 0 1; do
  for _ in $(seq 300); do
    holder=$(cat "$work/out/dqn/catch/seed$seed/lock" 2>/dev/null || true)
    [ -n "$holder" ] && kill -0 "$holder" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$holder" ] && kill -0 "$holder" 2>/dev/null && fail "trainer $holder outlived its sweep"
done
"$tokrl" sweep "$work/sweep.toml" --out "$work/out" --list | grep -q "2 runs: 0 done, 2 partial" ||
  fail "the killed sweep's runs did not checkpoint"
echo "reliability: OK"
