#!/usr/bin/env bash
# One command for a lent GPU: the CUDA tests, the audit and the hazards on
# CUDA, and the gpt2-small benchmarks, in under 6 minutes on an H100/H200. It uses the
# machine's own torch, run from the source tree (PYTHONPATH=.): no pip install, no
# download. Each step has its own time budget; a step that fails or runs out is
# recorded in summary.txt and the next one still runs.
#
#   bash scripts/gpu-check.sh            # writes $OUT/gpu-check.tar.gz and $OUT/summary.txt
#   bash scripts/gpu-check.sh --dry-run  # prints the steps, runs nothing
#
# The report folder is gpu-check-<UTC time>/ under $OUT when set (the device tool brings
# $OUT back), else under reports/. It is packed into one tar.gz beside summary.txt.
# To commit a CUDA baseline from the audit step, rerun that step with --update-baseline:
#   PYTHONPATH=. python -m audits.run --device cuda --no-bench --fail-on none --update-baseline
# which writes reports/baseline/cuda-<class>-torch<version>.json (e.g. cuda-hopper-...).
set -uo pipefail
cd "$(dirname "$0")/.."
dry_run=0
case "${1:-}" in
  "") ;;
  --dry-run) dry_run=1 ;;
  *) echo "gpu-check.sh: unknown argument ${1@Q}; valid: --dry-run" >&2; exit 2 ;;
esac
PY=${PY:-python}
export PYTHONPATH=.
root=${OUT:-reports}
name="gpu-check-$(date -u +%Y%m%dT%H%M%SZ)"
dir="$root/$name"
summary="$root/summary.txt"

# step NAME SECONDS COMMAND...: run with a time budget, log to $dir/NAME.log, note the outcome.
step() {
  local label=$1 budget=$2
  shift 2
  if [[ $dry_run == 1 ]]; then
    printf '%-10s %4ss  %s\n' "$label" "$budget" "$*"
    return 0
  fi
  local start=$SECONDS rc=0
  timeout --kill-after=10 "$budget" "$@" > "$dir/$label.log" 2>&1 || rc=$?
  local outcome="exit $rc"
  [[ $rc == 124 || $rc == 137 ]] && outcome="ran out of its ${budget} s"
  printf '%-10s %-22s %4d s  %s\n' "$label" "$outcome" $((SECONDS - start)) "$*" >> "$summary"
}

if [[ $dry_run == 0 ]]; then
  mkdir -p "$dir"
  "$PY" - > "$summary" 2>&1 <<'PYEOF'
import torch
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}")
print(f"device {torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none'}")
PYEOF
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$dir/nvidia-smi.csv" 2>&1
fi

# Budgets add up to 330 s, inside the 6 minutes with the packing.
step tests 60 "$PY" -m pytest -q -x -m cuda tests/cuda -p no:cacheprovider
step audit 100 "$PY" -m audits.run --device cuda --jobs 8 --timeout 80 --no-bench \
  --fail-on none --baseline auto --out "$dir/audit"
step hazards 60 "$PY" -m audits.run --device cuda --hazards --jobs 8 --timeout 50 \
  --fail-on none --out "$dir/hazards"
step bench-bf16 110 "$PY" -m benchmarks.run --device cuda --dtype bf16 \
  --mode default reduce-overhead --rounds 10 --compile-time none \
  --workloads 'transformer-gpt2-small/*/bare' 'transformer-gpt2-small/train/dormant' \
  --out "$dir/bench-bf16"

if [[ $dry_run == 0 ]]; then
  tar -czf "$root/$name.tar.gz" -C "$root" "$name" && rm -rf "$dir"
  echo "report: $root/$name.tar.gz" >> "$summary"
  cat "$summary"
fi
