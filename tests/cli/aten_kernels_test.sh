#!/usr/bin/env bash
# aten_kernels_test.sh TOKRL WORK: short MinAtar runs (DQN SoftMoE-4,
# Rainbow-lite SoftMoE-1 x4, DER tokenized avg x4, DQN PerFeat SoftMoE-1 x4:
# Phi's normalization, C51's atoms, NoisyNet, the dueling mean, experts off
# the small-matrix kernel with d = 100; each of the last two differed before
# 2026-12-04) give byte-identical checkpoints under ATen's AVX2 and AVX-512
# kernels (ATEN_CPU_CAPABILITY), as docs/design.md (Reproducibility) says.
# Skips (77) on a CPU without AVX-512, where ATen has only the one.
set -euo pipefail
tokrl=$1
work=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
if ! grep -qw avx512f /proc/cpuinfo; then
  echo "no AVX-512 on this CPU: ATen's AVX-512 kernels cannot run"
  exit 77
fi
rm -rf "$work"
for run in dqn_minatar:softmoe4 rainbow_lite_minatar:softmoe1_scaled4 \
  der_minatar:tokenized_avg_x4 dqn_minatar:softmoe1_scaled4_perfeat; do
  agent=${run%%:*}
  net=${run##*:}
  for cap in avx2 avx512; do
    ATEN_CPU_CAPABILITY=$cap "$tokrl" train -q -c "$src/configs/$agent.toml" \
      -c "$src/configs/networks/$net.toml" --set train.total_steps=1500 \
      --set agent.min_replay=500 --set train.eval_every=0 \
      --run-dir "$work/$cap/$agent-$net"
  done
  if ! cmp "$work/avx2/$agent-$net/checkpoint/agent.pt" \
    "$work/avx512/$agent-$net/checkpoint/agent.pt"; then
    echo "FAIL: $agent $net differs between ATen's AVX2 and AVX-512 kernels"
    exit 1
  fi
  echo "same bits: $agent $net"
done
