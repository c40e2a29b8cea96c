#!/usr/bin/env bash
# gpu_check_test.sh BUILD_DIR WORK_DIR: scripts/gpu_check.sh as far as a
# machine without a GPU allows: every step on the CPU, at tiny sizes, with
# the existing build. Skips (77) without Debian's python3-torch unless
# TOKRL_REQUIRE_PEER=1.
set -euo pipefail
build=$(cd "$1" && pwd)
work=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
py=/usr/bin/python3
if ! $py -c "import torch, numpy" 2>/dev/null; then
  echo "python3-torch not installed"
  [ "${TOKRL_REQUIRE_PEER:-0}" = 1 ] && exit 1
  exit 77
fi
rm -rf "$work" && mkdir -p "$work"
OUT=$work PYTHON=$py bash "$root/scripts/gpu_check.sh" --device cpu --quick \
  --no-build --build "$build"
table=$work/gpu_check.md
cat "$table"
grep -Eq "^\| BM_PackedUpdate/1/1/16/1 \| rainbow_lite/softmoe4 K=16 packed \| [0-9]+ member updates/s \|$" "$table"
grep -Eq "^\| BM_UpdateAtari/1 \| dqn/nature \| [0-9]+ updates/s \|$" "$table"
grep -Eq "^\| BM_Sample/1 mirrored / host \| \| [0-9.]+x \|$" "$table"
grep -Eq "^packed K=16 SoftMoE-4 Rainbow-lite: [1-9][0-9]* aggregate env steps/s \(16 of 16 members" "$table"
grep -Eq "^\| dqn flatten \| [0-9]+ \| [0-9]+ \| [0-9.]+x \| [0-9]+ \| [0-9]+ \| [0-9.]+x \|" "$table"
grep -Eq "^\| dqn nature \| [0-9]+ \| [0-9]+ \| [0-9.]+x \| - \|" "$table"
grep -Eq "^peer: ok" "$table"
# At most 8 files come back from the device: the table and one archive.
[ "$(ls "$work")" = "$(printf 'gpu_check.md\nlogs.tgz')" ]
[ "$(tar tzf "$work/logs.tgz" | grep -c 'pack16/seed[0-9]*/metrics.jsonl$')" = 16 ]

# Out of time: a step past the budget is reported, the table still written,
# and the exit status says so.
rm -rf "$work" && mkdir -p "$work"
if OUT=$work PYTHON=$py bash "$root/scripts/gpu_check.sh" --device cpu --quick \
    --no-build --build "$build" --budget 40 > "$work.log" 2>&1; then
  echo "gpu_check passed with a 40 s budget"; exit 1
fi
grep -Eq "SKIPPED \(out of time\)|TIMED OUT" "$work/gpu_check.md"
echo "gpu check (cpu): OK"
