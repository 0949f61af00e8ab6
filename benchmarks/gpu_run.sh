#!/usr/bin/env bash
# The GPU figures, sized for a lent GPU machine (the `device` tool: 10 minutes a
# command, 15 minutes of device time a session, start-up included; JAX and no
# TensorFlow there). Prepare here, once:
#
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d .whl keras==3.15.1 namex optree
#   mkdir -p .data && cp ../shared/data/cifar10-train-jpeg.tar.gz .data/
#
# then run it there, carrying .whl and .data (timeout_s=600):
#
#   bash benchmarks/gpu_run.sh all            # the whole record in one command (~9 min, below)
#
# `all`: course_vit and kerasio_vit trained for BUDGET=150 s each in one process (one data
# load), evaluated every 5 s of training (time to 60/80/90%), then course_vit's throughput
# and FLOP/s share of the GPU's peak at batch 1024, float32 and mixed bfloat16 (~1.5 min).
# Each part has its own time limit, so a slow part cannot lose the other's file.
# With more device time, the steps one by one:
#
#   bash benchmarks/gpu_run.sh course_vit     # equal budget, 420 s of training (~8 min)
#   bash benchmarks/gpu_run.sh kerasio_vit    # the same for keras.io's ViT
#   bash benchmarks/gpu_run.sh efficiency     # throughput of every preset + FLOP/s share of peak (~6 min)
#
# Each writes its JSON into $OUT (or results/ where OUT is unset); copy them into results/ here
# and run `python -m benchmarks.tables --write-readme`. BUDGET=<seconds> changes the budget.
set -euo pipefail
case "${1:-}" in "" | -h | --help) sed -n '2,27p' "$0"; exit 0 ;; esac

export KERAS_BACKEND="${KERAS_BACKEND:-jax}" PYTHONUNBUFFERED=1
if ! python3 -c "import keras" 2>/dev/null; then  # the GPU image has JAX but not Keras
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$PWD:${PYTHONPATH:-}"
if [ -f .data/cifar10-train-jpeg.tar.gz ]; then
    export VITCOURSE_CIFAR10_JPEG="$PWD/.data/cifar10-train-jpeg.tar.gz"
fi
out="${OUT:-results}"
tag=$(python3 -c "from vitcourse.provenance import hardware; from vitcourse.results import hardware_tag; print(hardware_tag(hardware()))")
budget="${BUDGET:-420}"

case "${1:-}" in
    all)
        budget="${BUDGET:-150}"
        timeout $((budget * 2 + 180)) python3 -m benchmarks.equal_budget --budget-seconds "$budget" \
            --presets course_vit kerasio_vit --evaluations $((budget / 5)) \
            --out "$out/equal_budget_cifar10_${tag}.json" || echo "equal_budget stopped (exit $?)"
        timeout 150 python3 -m benchmarks.gpu_efficiency --batch-sizes 1024 --attention auto --steps 30 \
            --out "$out/gpu_efficiency_$tag.json" || echo "gpu_efficiency stopped (exit $?)"
        ;;
    efficiency)
        python3 -m benchmarks.throughput --backends jax --out "$out/throughput_$tag.json"
        python3 -m benchmarks.gpu_efficiency --batch-sizes 256 512 1024 --steps 30 \
            --out "$out/gpu_efficiency_$tag.json"
        ;;
    *)  # a preset (or a variant, e.g. course_vit:patch_size=2): one equal-budget run
        python3 -m benchmarks.equal_budget --budget-seconds "$budget" --presets "$1" \
            --evaluations $((budget / 10)) --out "$out/equal_budget_cifar10_${tag}_${1//[^A-Za-z0-9_.-]/_}.json"
        ;;
esac
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv 2>/dev/null || true
