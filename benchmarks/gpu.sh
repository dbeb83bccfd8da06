#!/usr/bin/env bash
# What only a GPU shows, in one run of under 8 minutes, after the README's install (pip install -e .).
#   bash benchmarks/gpu.sh
# Writes JSON under benchmarks/results/ (each part as soon as it is measured; a part that runs out of
# its time leaves the others):
#   gpu.json                      bf16 training images/s of EDIT-S/B against DeiT3-S/B at 224 (eager and
#                                 torch.compile, both decoder forms), ratios, MFU; peak memory of EDIT-B
#                                 and DeiT3-B at per-device batch 64, 224 and 384, with and without
#                                 activation checkpointing
#   train_throughput_gpu.json     the eager rates in the layout `editrepro cost` reads
#   dataloader_throughput.json    images/s per CPU core of every recipe's input pipeline on this node
#   lavit_throughput_gpu.json     LaViT-S against its all-VA pyramid and PVTv2-b2; LA against VA blocks
#   ddp_check.json                (two or more GPUs) a two-GPU DDP job matches one GPU's
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=benchmarks/results
mkdir -p "$OUT"
export MLFLOW_TRACKING_URI="sqlite:///$(mktemp -d)/mlflow.db"   # benchmarks never write the project's store
GPUS=$(python -c "import torch; print(torch.cuda.device_count())")
if [ "${GPUS:-0}" -lt 1 ]; then
    echo "benchmarks/gpu.sh: no CUDA GPU is visible (torch.cuda.device_count() = ${GPUS:-0})" >&2
    exit 1
fi
echo "== $GPUS GPU(s): $(python -c 'import torch; print(torch.cuda.get_device_name(0))')"
status=0
run() {   # run SECONDS LABEL COMMAND...: a part with its own time limit
    local limit=$1 label=$2; shift 2
    echo "== $label (at most ${limit} s)"
    timeout "$limit" "$@" || { echo "== $label: did not finish (exit $?); its partial JSON is kept" >&2; status=1; }
}
run 280 "EDIT vs DeiT III: throughput, memory, compile" python benchmarks/gpu_bench.py --out "$OUT/gpu.json"
run 45 "data loader per core" python benchmarks/dataloader_throughput.py --images 48 --rounds 3
run 75 "LaViT vs PVTv2" python benchmarks/lavit_throughput.py --batch 128 --amp bf16 --rounds 3 \
    --out "$OUT/lavit_throughput_gpu.json"
if [ "$GPUS" -ge 2 ]; then
    run 60 "two-GPU DDP against one GPU" python benchmarks/ddp_check.py --out "$OUT/ddp_check.json"
else
    echo "== one GPU: the two-GPU DDP check is skipped"
fi
ls -l "$OUT"
exit $status
