#!/usr/bin/env bash
# peer_test.sh BUILD_DIR: the PyTorch peer benchmark (bench/peer) end to end
# at tiny sizes, and the C ABI's error path seen from Python. Skips (77)
# without Debian's python3-torch unless TOKRL_REQUIRE_PEER=1.
set -euo pipefail
build=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
py=/usr/bin/python3
if ! $py -c "import torch, numpy" 2>/dev/null; then
  echo "python3-torch not installed"
  [ "${TOKRL_REQUIRE_PEER:-0}" = 1 ] && exit 1
  exit 77
fi
# An unknown game is an error naming it, raised in Python, not a crash.
err=$(cd "$root/bench/peer" && $py -c "
import sys, peer
try:
    peer.Env(sys.argv[1], 'minatar/pong', 0)
except RuntimeError as e:
    print('error:', e)
" "$build/libtokrl_env_c.so")
echo "$err"
grep -q "error: .*unknown env 'minatar/pong'" <<<"$err"
# A run too short to time after its warm-up is refused up front, by name.
if err=$($py "$root/bench/peer/compare.py" --build "$build" --steps 3000 \
  --rows dqn/flatten 2>&1); then
  echo "compare.py accepted --steps 3000"; exit 1
fi
echo "$err"
grep -q "error: --steps 3000: a training run needs at least 4000 env steps" <<<"$err"
out=$($py "$root/bench/peer/compare.py" --build "$build" --quick \
  --agents dqn,rainbow_lite,der --networks softmoe4)
echo "$out"
# One table row per agent, with three ratios each.
for agent in dqn rainbow_lite der; do
  grep -Eq "^$agent/softmoe4 .*[0-9.]+x .*[0-9.]+x +[0-9]+ +[0-9]+$" <<<"$out"
done
# --repeats: medians, then the paired ratios' ranges of updates/s and env
# steps/s, each "lo-hi" with lo <= hi.
out=$($py "$root/bench/peer/compare.py" --build "$build" --quick \
  --rows dqn/flatten --repeats 2)
echo "$out"
grep -E "^dqn/flatten " <<<"$out" | grep -Eo "[0-9.]+-[0-9.]+x" | tr -d x \
  | awk -F- '$1 > 0 && $1 <= $2 { n++ } END { exit n != 2 }'
# The tokenized baseline's row, the peer with tokrl's malloc settings.
out=$($py "$root/bench/peer/compare.py" --build "$build" --quick \
  --rows dqn/tokenized_avg_x4 --peer-tuned-malloc)
echo "$out"
grep -q "peer with tuned malloc" <<<"$out"
grep -Eq "^dqn/tokenized_avg_x4 .*[0-9.]+x .*[0-9.]+x +[0-9]+ +[0-9]+$" <<<"$out"
