"""Training throughput and peak memory: every preset, TensorFlow and JAX, and the settings that matter.

    python -m benchmarks.throughput            # the whole sweep (~10 minutes on a 2-core CPU)
    python -m benchmarks.throughput --only course_vit

Each configuration runs in a fresh subprocess, so that its peak memory (the
process's maximum resident set size, and on a GPU the device's peak where the
backend reports it) belongs to it alone, and its backend is chosen before Keras
is imported. A configuration trains on random images for ``warmup + timed``
steps with ``model.fit``: 2 warmup steps, then timed steps until at least
10 seconds and 2 steps have passed (at most 10 steps). Images/s counts the
timed steps only; the first step (tracing and XLA compilation) is reported on
its own. The input pipeline
is also timed alone, without the model, so a slow pipeline shows as such.

Input pipelines, as the course uses them: ``vitcourse.data.make_tf_dataset``
(tf.data) on TensorFlow, ``vitcourse.data.ArrayDataset`` (a PyDataset) on JAX.
"Augmentation in pipeline" moves the preset's augmentation layers out of the
model into that pipeline.

Writes ``results/throughput_<hardware-tag>.json``.
"""

import argparse
import json
import os
import subprocess
import sys
import time

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import ROOT, contention, machine_snapshot, module_command, record_provenance, result_path

WARMUP_STEPS = 2  # the first compiles; the second settles the caches
MIN_TIMED_STEPS, MAX_TIMED_STEPS = 2, 10
MIN_TIMED_SECONDS = 10.0  # slow models stop after a few steps, fast ones after 10


def sweep(presets, backends):
    """The configurations of the sweep: each preset on each backend, then course_vit's settings."""
    base = {"batch_size": 64, "jit_compile": "auto", "augmentation": "model"}
    configs = [dict(base, preset=p, backend=b) for p in presets for b in backends]
    if "course_vit" in presets:
        for b in backends:
            course = dict(base, preset="course_vit", backend=b)
            # where the augmentation runs; "none" leaves it out, to show what it costs
            configs += [dict(course, augmentation=where) for where in ("pipeline", "none")]
            # auto is XLA on JAX always, and on TensorFlow only with a GPU: try the other one
            configs.append(dict(course, jit_compile=(b == "tensorflow")))
            configs += [dict(course, batch_size=size) for size in (32, 256)]
    return configs


# ---------------------------------------------------------------------------
# The worker: one configuration, in its own process.


def peak_rss_mib():
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux: KiB


def device_peak_mib():
    """The accelerator's peak memory where the backend reports it; None on a CPU."""
    import keras

    try:
        if keras.backend.backend() == "jax":
            import jax

            device = jax.local_devices()[0]
            stats = device.memory_stats() if device.platform != "cpu" else None
            return round(stats["peak_bytes_in_use"] / 2**20, 1) if stats else None
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            if tf.config.list_physical_devices("GPU"):
                return round(tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20, 1)
    except Exception:  # a backend without memory statistics
        return None
    return None


def device_name():
    from vitcourse.provenance import gpu_names

    names = gpu_names()
    return names[0] if names else "CPU"


def make_pipeline(backend, x, y, batch_size, augment):
    from vitcourse.data import ArrayDataset, make_tf_dataset

    if backend == "tensorflow":
        return make_tf_dataset(x, y, batch_size, shuffle=True, augment=augment)
    return ArrayDataset(x, y, batch_size, shuffle=True, augment=augment)


def seconds_to_iterate(data, steps):
    """Seconds the input pipeline alone takes to give ``steps`` batches."""
    started = time.perf_counter()
    iterator = iter(data) if not hasattr(data, "__getitem__") else (data[i] for i in range(steps))
    for _ in range(steps):
        next(iterator)
    return time.perf_counter() - started


def measure(config):
    """Trains one configuration for a few steps on random data; returns its timings and memory."""
    import keras
    import numpy as np

    from vitcourse.presets import augmentation_layers, build_model, get_preset, prepare_model
    from vitcourse.training import compile_model

    rss_after_import = peak_rss_mib()
    if config.get("mixed_precision"):
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    if config.get("attention") == "xla":  # no cuDNN flash attention: XLA's own attention
        keras.config.disable_flash_attention()
    keras.utils.set_random_seed(0)
    name, batch_size, backend = config["preset"], config["batch_size"], keras.backend.backend()
    overrides = dict(config.get("overrides", {}), num_classes=10)
    augment = None
    if config["augmentation"] == "none":
        overrides["augmentation"] = "none"
    if config["augmentation"] == "pipeline":
        preset = get_preset(name, **overrides)
        if preset.image_size:
            raise ValueError(f"{name} resizes inside the model; pipeline augmentation is for 32x32 presets")
        augment = augmentation_layers(preset)
        # Build it eagerly first: an unbuilt Normalization built inside tf.data's
        # map creates its constants in a graph that is gone by the next call.
        augment(np.zeros((1, *preset.input_shape), "float32"))
        overrides["augmentation"] = "none"
    model = build_model(name, **overrides)

    fixed_steps = config.get("steps")  # None: stop by time (see MIN_TIMED_SECONDS)
    steps = fixed_steps or WARMUP_STEPS + MAX_TIMED_STEPS
    rng = np.random.default_rng(0)
    shape = model.input_shape[1:]
    if name == "resnet_features_flatten":  # ResNet50 features, not pixels
        x = rng.random((steps * batch_size, *shape), dtype=np.float32)
    else:
        x = rng.integers(0, 256, (steps * batch_size, *shape), dtype=np.uint8)
    y = rng.integers(0, 10, steps * batch_size)
    prepare_model(model, x)
    compile_model(model, total_steps=steps, jit_compile=config["jit_compile"])
    data = make_pipeline(backend, x, y, batch_size, augment)

    step_ends = []

    class StepTimer(keras.callbacks.Callback):  # not async-safe: Keras waits for each step
        def on_train_batch_end(self, batch, logs=None):
            step_ends.append(time.perf_counter())
            timed = len(step_ends) - WARMUP_STEPS
            if not fixed_steps and timed >= MIN_TIMED_STEPS:
                if step_ends[-1] - step_ends[WARMUP_STEPS - 1] >= MIN_TIMED_SECONDS:
                    self.model.stop_training = True

    started = time.perf_counter()
    model.fit(data, epochs=1, steps_per_epoch=steps, callbacks=[StepTimer()], verbose=0)
    steps = len(step_ends)
    timed = steps - WARMUP_STEPS
    steady_s = step_ends[-1] - step_ends[WARMUP_STEPS - 1]
    pipeline_s = seconds_to_iterate(make_pipeline(backend, x, y, batch_size, augment), steps)
    return dict(
        config,
        backend=backend,
        device=device_name(),
        parameters=model.count_params(),
        steps=steps,
        timed_steps=timed,
        first_step_s=round(step_ends[0] - started, 3),
        step_s=round(steady_s / timed, 4),
        train_images_per_second=round(timed * batch_size / steady_s, 1),
        pipeline_alone_images_per_second=round(steps * batch_size / pipeline_s, 1),
        peak_rss_mib=peak_rss_mib(),
        rss_after_import_mib=rss_after_import,
        device_peak_mib=device_peak_mib(),
    )


def run_in_subprocess(config, timeout=900):
    """``measure(config)`` in a fresh Python process with ``KERAS_BACKEND=config["backend"]``."""
    env = dict(os.environ, KERAS_BACKEND=config["backend"], TF_CPP_MIN_LOG_LEVEL="2")
    command = [sys.executable, "-m", "benchmarks.throughput", "--worker", json.dumps(config)]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT ") :])
            result["process_wall_s"] = round(time.perf_counter() - started, 1)
            return result
    error = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return dict(config, error=error[:500], process_wall_s=round(time.perf_counter() - started, 1))


def describe(result):
    if "error" in result:
        return f"{result['preset']:24s} {result['backend']:10s} ERROR {result['error']}"
    return (
        f"{result['preset']:24s} {result['backend']:10s} batch {result['batch_size']:3d} "
        f"jit {str(result['jit_compile']):5s} aug {result['augmentation']:8s} "
        f"{result['train_images_per_second']:8.1f} img/s  first step {result['first_step_s']:6.1f}s  "
        f"pipeline alone {result['pipeline_alone_images_per_second']:9.1f} img/s  "
        f"peak RSS {result['peak_rss_mib']:7.0f} MiB"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", help="presets to measure (default: all)")
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax"])
    parser.add_argument("--out", help="default: results/throughput_<hardware-tag>.json")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: one configuration, as JSON
    args = parser.parse_args(argv)
    if args.worker:
        print("RESULT " + json.dumps(measure(json.loads(args.worker))), flush=True)
        return None

    from vitcourse.presets import list_presets
    from vitcourse.provenance import write_json

    snapshot = machine_snapshot()
    started = time.perf_counter()
    results = []
    for config in sweep(args.only or list_presets(), args.backends):
        config_snapshot = machine_snapshot()
        results.append(dict(run_in_subprocess(config), contention=contention(config_snapshot)))
        print(describe(results[-1]), flush=True)
    provenance = record_provenance(module_command("benchmarks.throughput", argv), snapshot)
    record = {
        "benchmark": "throughput",
        "data": "random uint8 images (ResNet50-sized random features for resnet_features_flatten), 10 classes",
        "method": (
            f"model.fit for {WARMUP_STEPS} warmup steps, then timed steps until {MIN_TIMED_SECONDS:g} s and "
            f"{MIN_TIMED_STEPS} steps have passed (at most {MAX_TIMED_STEPS}); "
            "images/s over the timed steps; first_step_s includes tracing and compilation; "
            "pipeline_alone: the input pipeline iterated without the model; "
            "peak_rss_mib: ru_maxrss of the worker process (includes the framework, see rss_after_import_mib)"
        ),
        "configurations": results,
        "wall_time_s": round(time.perf_counter() - started, 1),
        "provenance": provenance,
    }
    path = write_json(args.out or result_path(f"throughput_{provenance['hardware_tag']}"), record)
    print(f"wrote {path}")
    return record


if __name__ == "__main__":
    main()
