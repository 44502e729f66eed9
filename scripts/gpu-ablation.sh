#!/usr/bin/env bash
# The gpt2-small bf16 ablation (benchmarks --ladder ablation) on a lent GPU, in two parts that each fit one
# device run of under 6 minutes (every rung compiles a gpt2-small training step):
#   bash scripts/gpu-ablation.sh 1   # baseline, +pad-vocab, +fused-optimizer
#   bash scripts/gpu-ablation.sh 2   # +compiled-optimizer, +tf32, +pure-bf16, whole step graphed
# Each part writes a run folder under $OUT (else reports/) whose summary.txt holds the
# ladder table with the commit and run of every row; put both parts' rows in the README.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python}
case ${1:-} in
  1) rungs=('baseline' '+pad-vocab' '+fused-optimizer') ;;
  2) rungs=('+compiled-optimizer*' '+tf32' '+pure-bf16' '+whole step*') ;;
  *) echo "usage: bash scripts/gpu-ablation.sh 1|2" >&2; exit 2 ;;
esac
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name())"
out="${OUT:-reports}/gpu-ablation-$1-$(date -u +%Y%m%dT%H%M%SZ)"
timeout 330 "$PY" -m benchmarks.run --device cuda --dtype bf16 --ladder ablation \
  --rungs "${rungs[@]}" --rounds 20 --compile-time none \
  --workloads 'transformer-gpt2-small/train/bare' --out "$out" -v
