"""How much of the hardware course_vit uses: FLOPs per image, achieved FLOP/s, share of the peak.

    KERAS_BACKEND=jax python -m benchmarks.gpu_efficiency                  # fp32 and mixed bf16,
                                                                           # attention auto and XLA
    KERAS_BACKEND=jax python -m benchmarks.gpu_efficiency --batch-sizes 256 1024 --steps 30

FLOPs are counted analytically from the preset's sizes (:func:`forward_flops`):
matrix multiplications only, a multiply-add being 2 FLOPs; layer norms,
softmax, GELU, biases and augmentation are left out (a few percent at these
sizes). A training step costs 3x the forward pass (the backward pass computes
two products per forward product). Achieved FLOP/s = training FLOPs per image x
training images per second, the latter measured exactly as ``benchmarks/throughput.py``
does (one fresh subprocess per configuration). The share of the peak needs the
device's peak: a GPU's from :data:`PEAK_TFLOPS` (the vendor's datasheet), a
CPU's float32 peak from its own flags (:func:`cpu_peak`: cores x vector lanes x
FMA units x 2 x clock). A CPU's bfloat16 peak is not modelled (it depends on
units the flags name but do not size), so mixed-precision rows on a CPU give
the achieved figure only.

Options measured: fp32 vs ``mixed_bfloat16`` (``keras.mixed_precision``), and
attention ``auto`` (``keras.ops.dot_product_attention`` with Keras' default
choice: cuDNN flash attention on a recent NVIDIA GPU when the dtype allows,
which needs bf16/fp16) vs ``xla`` (``keras.config.disable_flash_attention()``:
XLA's own fused attention). course_vit has no attention dropout and asks for no
scores, so its ``MultiHeadAttention`` always takes the ``dot_product_attention`` path.

Writes ``results/gpu_efficiency_<hardware-tag>.json``.
"""

import argparse
import os
import subprocess
import sys
import time

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import ROOT, contention, machine_snapshot, module_command, record_provenance, result_path
from benchmarks.throughput import run_in_subprocess
from vitcourse.provenance import read_cpuinfo, widest_vector_isa

# Dense peak TFLOP/s by device name (lower case substring), as the vendors state
# them for dense (not sparse) tensor-core math. (fp32/tf32 peak, bf16/fp16 peak).
PEAK_TFLOPS = {
    "h100 sxm": (494.7, 989.4),  # tf32, bf16 dense; NVIDIA H100 datasheet
    "h100 80gb hbm3": (494.7, 989.4),  # the SXM part reports itself so
    "h100 pcie": (378.0, 756.0),
    "h100 nvl": (417.5, 835.0),
    "h200": (494.7, 989.4),
    "a100": (156.0, 312.0),
    "l4": (60.0, 121.0),
    "t4": (8.1, 65.0),  # fp32 (no tf32), fp16 tensor
}


# FMA units per core are not in the CPU's flags. Every x86 server core since
# Haswell (Intel) and Zen (AMD) has two vector FMA pipes; a Zen 4 runs a 512-bit
# FMA as two 256-bit halves, so its 16 AVX-512 lanes go through one "unit".
FMA_UNITS = 2


def cpu_peak(cpuinfo=None, cores=None):
    """The CPU's nominal float32 peak, from its own flags: a dict with the inputs and ``tflops``.

    peak = cores x float32 lanes x FMA units x 2 FLOPs (a multiply-add) x clock.
    Lanes come from the widest vector extension in the flags (``avx512f``: 16,
    ``avx``/``avx2``: 8, else 4); FMA units are :data:`FMA_UNITS` (2, halved
    for a Zen 4, whose AVX-512 is double-pumped); the clock is the ``cpu MHz``
    that the kernel reports (the base clock on a VM; turbo would raise the peak).
    ``bf16_units`` names the bfloat16 matrix or dot-product units the flags show
    (``amx_bf16``, ``avx512_bf16``) or is None. ``cpuinfo``: the text of
    /proc/cpuinfo (default: read it); ``cores``: usable cores (default: this process's).
    """
    cpuinfo = read_cpuinfo() if cpuinfo is None else cpuinfo
    if cpuinfo is None:
        return None
    fields = {}
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip().lower(), value.strip())
    flags = set(fields.get("flags", "").split())
    if "cpu mhz" not in fields or not flags:
        return None
    isa = widest_vector_isa(flags)
    lanes = {"avx512f": 16, "avx2": 8, "avx": 8}.get(isa, 4)
    model = fields.get("model name", "")
    zen4 = isa == "avx512f" and "AMD" in model and "avx512_vp2intersect" not in flags  # Zen 5 adds it
    units = 1 if zen4 else FMA_UNITS
    ghz = float(fields["cpu mhz"]) / 1000
    cores = cores or len(os.sched_getaffinity(0))
    bf16 = [f for f in ("amx_bf16", "avx512_bf16") if f in flags]
    return {
        "cpu": model,
        "cores": cores,
        "isa": isa,
        "fp32_lanes": lanes,
        "fma_units": units,
        "ghz": round(ghz, 3),
        "tflops": round(cores * lanes * units * 2 * ghz / 1000, 4),
        "bf16_units": bf16[0] if bf16 else None,
        "formula": "cores x fp32 lanes x FMA units x 2 x clock (cpu MHz as the kernel reports it)",
    }


def peak_tflops(device, mixed_precision, cpu=None):
    """The device's dense peak for the run's precision, or None where it is unknown.

    ``cpu``: :func:`cpu_peak`'s dict, used when ``device`` is a CPU (float32 only).
    """
    if device.upper().startswith("CPU"):
        return cpu["tflops"] if cpu and not mixed_precision else None
    name = device.lower()
    for key, (tf32, bf16) in PEAK_TFLOPS.items():
        if key in name:
            return bf16 if mixed_precision else tf32
    return None


def dense_flops(rows, inputs, outputs):
    """FLOPs of ``rows`` vectors through a ``inputs -> outputs`` dense layer (multiply-add = 2)."""
    return 2 * rows * inputs * outputs


def forward_flops(preset):
    """Matrix-multiply FLOPs of one image's forward pass, by part. ``preset`` is a ``Preset``.

    Returns a dict: ``tokenizer``, ``attention_projections`` (Q, K, V and output),
    ``attention_scores`` (Q K^T), ``attention_values`` (weights x V), ``mlp``,
    ``head``, and ``total``. Covers every tokenizer and pooling of the presets.
    """
    p = preset
    side, tokens = p.grid()
    dim = p.projection_dim
    channels = p.input_shape[-1]
    key_dim = p.key_dim or dim // p.num_heads
    inner = p.num_heads * key_dim  # width of all heads together
    if p.tokenizer == "features":  # Flatten -> Dense(features_units), then a projection per token
        inputs = 1
        for size in p.input_shape:
            inputs *= size
        tokenizer = dense_flops(1, inputs, p.features_units) + dense_flops(tokens, dim, dim)
    elif p.tokenizer == "conv":  # each stage: a 3x3 convolution at its input's resolution, then a 2x pool,
        tokenizer, width, grid = 0, channels, side  # or one 3x3 convolution of stride 2 (at its output's)
        for filters in p.conv_filters:
            out = grid // 2 if p.conv_downsample == "stride" else grid
            tokenizer += 2 * out * out * 9 * width * filters
            width, grid = filters, grid // 2
        tokenizer += dense_flops(tokens, width, dim)
    else:  # each token: a patch of P*P pixels (x5 images for Shifted Patch Tokenization)
        patch = p.patch_size**2 * channels * (5 if p.tokenizer == "spt" else 1)
        tokenizer = dense_flops(tokens, patch, dim)
    n = tokens + (1 if p.class_token else 0)
    parts = {
        "tokenizer": tokenizer,
        "attention_projections": p.depth * (dense_flops(n, dim, 3 * inner) + dense_flops(n, inner, dim)),
        "attention_scores": p.depth * 2 * p.num_heads * n * n * key_dim,
        "attention_values": p.depth * 2 * p.num_heads * n * n * key_dim,
    }
    mlp, width = 0, dim
    for units in p.mlp_units:
        mlp, width = mlp + dense_flops(n, width, units), units
    parts["mlp"] = p.depth * mlp
    width = n * dim if p.pooling == "flatten" else dim
    head = 0
    for units in (*p.head_units, p.num_classes):
        head, width = head + dense_flops(1, width, units), units
    parts["head"] = head
    parts["total"] = sum(parts.values())
    return parts


def train_flops_per_image(preset):
    """Forward + backward: 3x the forward FLOPs."""
    return 3 * forward_flops(preset)["total"]


def xla_forward_flops(name, num_classes):
    """XLA's own FLOP count of one image's forward pass (JAX backend), to check :func:`forward_flops`.

    The model is built without augmentation; XLA also counts the elementwise
    work (layer norms, softmax, GELU) that the analytic count leaves out.
    """
    import jax
    import numpy as np

    from vitcourse.presets import build_model

    model = build_model(name, num_classes=num_classes, augmentation="none")
    images = np.zeros((1, *model.input_shape[1:]), "float32")

    def forward(trainable, non_trainable, x):
        return model.stateless_call(trainable, non_trainable, x, training=False)[0]

    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    cost = jax.jit(forward).lower(trainable, non_trainable, images).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost  # older JAX: one dict per device
    return int(cost["flops"])


def xla_check(name, num_classes):
    """:func:`xla_forward_flops` in a JAX subprocess; None where JAX is not installed or it fails."""
    code = "from benchmarks.gpu_efficiency import xla_forward_flops as count; "
    code += f"print(count({name!r}, {num_classes}))"
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    lines = done.stdout.strip().splitlines()
    return int(lines[-1]) if done.returncode == 0 and lines else None


def main(argv=None):
    import keras

    from vitcourse.presets import get_preset

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="course_vit")
    parser.add_argument("--num-classes", type=int, default=10)
    parser.add_argument("--backends", nargs="+", help="default: this process's Keras backend")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256])
    parser.add_argument("--precisions", nargs="+", default=["float32", "mixed_bfloat16"])
    parser.add_argument("--attention", nargs="+", default=["auto", "xla"], choices=["auto", "xla"])
    parser.add_argument("--steps", type=int, help="training steps per configuration (2 of them warmup)")
    parser.add_argument("--out", help="default: results/gpu_efficiency_<hardware-tag>.json")
    args = parser.parse_args(argv)

    preset = get_preset(args.preset, num_classes=args.num_classes)
    flops = forward_flops(preset)
    per_image = train_flops_per_image(preset)
    xla_flops = xla_check(args.preset, args.num_classes)
    cpu = cpu_peak()
    snapshot = machine_snapshot()
    started = time.perf_counter()
    results = []
    settings = [
        (backend, batch_size, precision, attention)
        for backend in args.backends or [keras.backend.backend()]
        for batch_size in args.batch_sizes
        for precision in args.precisions
        for attention in args.attention
    ]
    for backend, batch_size, precision, attention in settings:
        config = {
            "preset": args.preset,
            "overrides": {"num_classes": args.num_classes},
            "backend": backend,
            "batch_size": batch_size,
            "jit_compile": "auto",
            "augmentation": "model",
            "mixed_precision": precision == "mixed_bfloat16",
            "attention": attention,
            "steps": args.steps,
        }
        config_snapshot = machine_snapshot()
        result = dict(run_in_subprocess(config), contention=contention(config_snapshot))
        if "error" not in result:
            achieved = per_image * result["train_images_per_second"]
            peak = peak_tflops(result["device"], config["mixed_precision"], cpu)
            result["achieved_tflops"] = round(achieved / 1e12, 4)
            result["peak_tflops"] = peak
            result["share_of_peak"] = round(achieved / 1e12 / peak, 4) if peak else None
        results.append(result)
        setting = f"{backend} batch {batch_size} {precision} attention {attention}"
        if "error" in result:
            print(f"{setting}: failed: {result['error']}", flush=True)
        else:
            gflops = result["achieved_tflops"] * 1000
            print(f"{setting}: {result['train_images_per_second']} images/s, {gflops:.1f} GFLOP/s", flush=True)
    provenance = record_provenance(module_command("benchmarks.gpu_efficiency", argv), snapshot)
    record = {
        "benchmark": "gpu_efficiency",
        "preset": args.preset,
        "num_classes": args.num_classes,
        "forward_flops_per_image": flops,
        "train_flops_per_image": per_image,
        "flop_counting": "analytic matmul FLOPs (multiply-add = 2), training = 3x forward; see forward_flops()",
        # XLA's count of the same forward pass (no augmentation), elementwise work included
        "xla_forward_flops_per_image": xla_flops,
        "cpu_peak": cpu,
        "configurations": results,
        "wall_time_s": round(time.perf_counter() - started, 1),
        "provenance": provenance,
    }
    from vitcourse.provenance import write_json

    path = write_json(args.out or result_path(f"gpu_efficiency_{provenance['hardware_tag']}"), record)
    print(f"wrote {path}")
    return record


if __name__ == "__main__":
    main()
