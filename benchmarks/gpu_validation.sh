#!/usr/bin/env bash
# GPU validation: everything envdoctor can only check on a real NVIDIA GPU, in one run of at most 11 minutes (the
# steps' limits add up to 650 s; on one H200 it takes about 4).
#
#   PYTHONPATH=. bash benchmarks/gpu_validation.sh [OUTPUT_DIR]     (default: gpu-validation-<date>)
#
# Needs a machine with an NVIDIA GPU and torch (plus rich, psutil, nvidia-ml-py, pytest) already installed; it
# installs nothing. Each step has its own time limit, and a failing step does not stop the others. Everything goes
# into OUTPUT_DIR: the logs, check's document, the bench plan and results, and summary.txt with each step's status.
set -u
cd "$(dirname "$0")/.."
out=${1:-gpu-validation-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
export PYTHONPATH=${PYTHONPATH:-.}
export TORCHINDUCTOR_CACHE_DIR=${TORCHINDUCTOR_CACHE_DIR:-$out/inductor-cache}
py=${PYTHON:-python3}
summary="$out/summary.txt"
: >"$summary"

step() {  # step NAME SECONDS COMMAND...: run it with a limit, keep its output, record its exit status and time
    local name=$1 limit=$2
    shift 2
    local start=$EPOCHREALTIME
    timeout --kill-after=10 "$limit" "$@" >"$out/$name.out" 2>"$out/$name.err"
    local status=$?
    printf '%-14s exit %3d  %6.2fs  %s\n' "$name" "$status" "$(awk "BEGIN { print $EPOCHREALTIME - $start }")" "$*" \
        | tee -a "$summary"
}

gpus=$($py -c "import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)" 2>/dev/null || echo 0)
echo "GPUs visible to torch: $gpus" | tee -a "$summary"
nvidia-smi >"$out/nvidia-smi.txt" 2>&1
nvidia-smi -q -x >"$out/nvidia-smi-q.xml" 2>&1

step check 60 $py -m envdoctor check --deep --json
# "Works here, fails there": plain and --python timings, the libraries torch loaded, and this machine's
# collect_env report beside its check document (a real pair for `envdoctor diff`).
for round in 1 2 3; do
    step "check-plain-$round" 30 $py -m envdoctor check --json
    step "check-python-$round" 30 $py -m envdoctor check --json --python "$(command -v "$py")"
done
step collect-env 30 $py -m torch.utils.collect_env
step shadowing 90 $py -m pytest -q -p no:cacheprovider tests/test_loaded_libraries_standin.py
step plan 30 $py -m envdoctor bench --dry-run --compile --amp --preset small --json
step gpu-tests 90 $py -m pytest -m gpu -q -p no:cacheprovider tests
step bench 150 $py -m envdoctor bench --device cuda:0 --compile --amp --preset small --min-time 1 --timeout 90 \
    --output "$out/bench.json" --json
if [ "$gpus" -ge 2 ]; then
    step bench-ddp 100 $py -m envdoctor bench --device cuda --workload mlp --ddp --preset small \
        --min-time 1 --timeout 60 --output "$out/bench-ddp.json" --json
else
    echo "bench-ddp      skipped: DDP needs two or more GPUs, torch sees $gpus" | tee -a "$summary"
fi
echo "results in $out"
