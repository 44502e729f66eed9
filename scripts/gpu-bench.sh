#!/usr/bin/env bash
# The CUDA benchmark run for a session lent a GPU: one script, under
# 8 minutes on an H100, run through the device tool with `bash scripts/gpu-bench.sh`.
# It writes reports/gpu-<UTC time>/{fp32,bf16}/ with report.md, report.json,
# summary.txt and the other renders; commit that folder, naming the device.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python}
if ! "$PY" -c "import torch, esper" 2>/dev/null; then
  "$PY" -m pip install --quiet -e ".[report]"
fi
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name())"
out="reports/gpu-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$out/nvidia-smi.csv" || true
# bf16 first: the H100 goals (gpt2-small training step >= 1.5x, MFU >= 40 %) read it.
# Default and reduce-overhead modes; the bare host, dormant slots and a seed in TRAINING.
for dtype in bf16 fp32; do
  timeout 220 "$PY" -m benchmarks.run --device cuda --dtype "$dtype" \
    --mode default reduce-overhead --rounds 20 --compile-time bare \
    --workloads 'transformer-gpt2-small/*/bare' 'transformer-gpt2-small/train/dormant' \
                'transformer-small/*/bare' 'cnn-small/*/bare' 'transformer-gpt2-small/train/seed-training' \
    --out "$out/$dtype" || echo "benchmarks ($dtype) exited $?" >&2
done
ls -R "$out"
