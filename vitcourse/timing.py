"""How fast something runs, measured with its conditions: images per second.

A speed means nothing without the machine, the backend and the batch size it
was measured with, so every function here returns them next to the number.
Chapter 04 uses :func:`time_training` to compare augmentation inside the model
with augmentation in the ``tf.data`` pipeline; ``benchmarks/`` uses the same
functions.

Example:

    from vitcourse.timing import images_per_second, time_training

    batches = [x_test[i : i + 64] for i in range(0, 256, 64)]
    images_per_second(lambda b: model.predict_on_batch(b), batches)
    # {"images_per_second": 5321.0, "seconds": 0.048, "images": 256, "batch_size": 64,
    #  "repeats": 3, "backend": "tensorflow", "device": "CPU: ... (2 cores)"}

    model.compile(...)                      # time_training needs a compiled model
    time_training(model, (x_train, y_train), steps=8, batch_size=64)
    # {"images_per_second": 410.2, "seconds": 1.25, "steps": 8, "images": 512, ...}
"""

import platform
import statistics
import time

import keras
import numpy as np


def hardware_label(backend=None):
    """One line naming what the numbers were measured on, e.g. ``"CPU: Xeon ... (2 cores)"``.

    Uses :mod:`vitcourse.provenance` where it can, else the ``platform`` module.
    """
    try:
        from vitcourse.provenance import hardware

        info = hardware(backend)
        label = f"CPU: {info['cpu']} ({info['cpu_cores']} cores)"
        if info["gpus"]:
            label = f"GPU: {', '.join(info['gpus'])}; " + label
        return label
    except Exception:  # provenance must never break a measurement
        return f"{platform.machine()} {platform.processor() or platform.platform()}".strip()


def _conditions(batch_size):
    backend = keras.backend.backend()
    return {"batch_size": batch_size, "backend": backend, "device": hardware_label(backend)}


def _block(result):
    """Wait until ``result`` is computed (JAX and TF GPU ops return before they finish)."""
    for leaf in keras.tree.flatten(result):
        if hasattr(leaf, "block_until_ready"):
            leaf.block_until_ready()
        elif hasattr(leaf, "shape") and not isinstance(leaf, np.ndarray):
            keras.ops.convert_to_numpy(leaf)


def _num_images(batch):
    # A batch is images, or (images, labels, ...): count the images.
    images = batch[0] if isinstance(batch, (tuple, list)) else batch
    return len(images)


def _check_counts(**counts):
    for name, (value, minimum) in counts.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
            raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}.")


def images_per_second(fn, batches, warmup=1, repeats=3):
    """Times ``fn(batch)`` over ``batches``: the median of ``repeats`` passes.

    Args:
        fn: a callable taking one batch (images, or a tuple whose first item is images).
        batches: a non-empty list of batches; every pass calls ``fn`` once per batch.
        warmup: untimed calls first (on the first batches), to leave tracing,
            compilation and memory allocation out of the measurement.
        repeats: timed passes over ``batches``; the median pass is reported.

    Returns:
        A dict: ``images_per_second`` (median pass), ``best_images_per_second``,
        ``seconds`` (median pass), ``images`` (per pass), ``repeats``,
        ``batch_size`` (of the first batch), ``backend`` and ``device``.
    """
    if not callable(fn):
        raise ValueError(f"fn must be a callable taking one batch, got {type(fn).__name__}.")
    batches = list(batches)
    if not batches:
        raise ValueError("batches is empty: pass a list with at least one batch.")
    _check_counts(warmup=(warmup, 0), repeats=(repeats, 1))
    images = sum(_num_images(batch) for batch in batches)
    if images == 0:
        raise ValueError("The batches hold no images.")
    for i in range(warmup):
        _block(fn(batches[i % len(batches)]))
    durations = []
    for _ in range(repeats):
        start = time.perf_counter()
        for batch in batches:
            _block(fn(batch))
        durations.append(time.perf_counter() - start)
    seconds = statistics.median(durations)
    return {
        "images_per_second": images / seconds,
        "best_images_per_second": images / min(durations),
        "seconds": seconds,
        "images": images,
        "repeats": repeats,
        **_conditions(_num_images(batches[0])),
    }


def _is_tf_dataset(data):
    return type(data).__module__.startswith("tensorflow") and hasattr(data, "repeat")


def _training_input(data, steps, batch_size):
    """``fit`` arguments yielding at least ``steps`` batches, and the batch size."""
    if isinstance(data, (tuple, list)):
        if len(data) != 2:
            raise ValueError(f"Pass the arrays as (x, y); got a {type(data).__name__} of {len(data)} items.")
        if batch_size is None:
            raise ValueError("Pass batch_size when timing on arrays (x, y).")
        _check_counts(batch_size=(batch_size, 1))
        x, y = np.asarray(data[0]), np.asarray(data[1])
        if len(x) != len(y) or len(x) == 0:
            raise ValueError(f"x has {len(x)} images and y {len(y)} labels: pass one label per image.")
        # Cycle through the arrays so that any number of steps has data.
        index = np.arange(steps * batch_size) % len(x)
        return {"x": x[index], "y": y[index], "batch_size": batch_size, "shuffle": False}, batch_size
    if _is_tf_dataset(data):
        first = next(iter(data.take(1)))
        found = _num_images(first)
        if batch_size is not None and batch_size != found:
            raise ValueError(f"batch_size={batch_size}, but the dataset's batches hold {found} images.")
        return {"x": data.repeat(), "shuffle": False}, found
    if isinstance(data, keras.utils.PyDataset):
        if len(data) < steps:
            raise ValueError(
                f"The PyDataset has {len(data)} batches, fewer than steps={steps}: time fewer steps."
            )
        return {"x": data, "shuffle": False}, _num_images(data[0])
    raise ValueError(
        f"data must be (x, y) arrays, a tf.data.Dataset or a keras.utils.PyDataset; "
        f"got {type(data).__name__}."
    )


def time_training(model, data, steps, batch_size=None, warmup_steps=1, repeats=1):
    """Training speed of a compiled ``model``: images per second through ``fit``.

    Runs ``fit`` for ``warmup_steps`` untimed steps (tracing, compilation), then
    ``repeats`` timed runs of ``steps`` steps each. What is timed is what
    training costs: the input pipeline, augmentation wherever it runs, the
    forward and backward passes and the optimizer update. The model's weights
    change, as in any training.

    Args:
        model: a compiled Keras model.
        data: ``(x, y)`` arrays (then ``batch_size`` is needed), a batched
            ``tf.data.Dataset`` (repeated as needed), or a
            ``keras.utils.PyDataset`` with at least ``steps`` batches.
        steps: timed optimizer steps per run.
        batch_size: images per step; read from the data unless it is arrays.
        warmup_steps: untimed steps before timing.
        repeats: timed runs; the median is reported.

    Returns:
        A dict: ``images_per_second``, ``seconds`` (median run), ``steps``,
        ``images`` (per run), ``repeats``, ``batch_size``, ``backend``, ``device``.
    """
    _check_counts(steps=(steps, 1), warmup_steps=(warmup_steps, 0), repeats=(repeats, 1))
    if not isinstance(model, keras.Model):
        raise ValueError(f"model must be a keras.Model, got {type(model).__name__}.")
    if getattr(model, "optimizer", None) is None or not getattr(model, "compiled", True):
        raise ValueError("The model is not compiled: call model.compile(...) (or compile_model) first.")
    fit_input, batch_size = _training_input(data, max(steps, warmup_steps), batch_size)
    if warmup_steps:
        model.fit(**fit_input, epochs=1, steps_per_epoch=warmup_steps, verbose=0)
    durations = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.fit(**fit_input, epochs=1, steps_per_epoch=steps, verbose=0)
        durations.append(time.perf_counter() - start)
    seconds = statistics.median(durations)
    images = steps * batch_size
    return {
        "images_per_second": images / seconds,
        "seconds": seconds,
        "steps": steps,
        "images": images,
        "repeats": repeats,
        **_conditions(batch_size),
    }


def describe_timing(result, label=""):
    """One printable line: ``label: 1,234 images/s (batch 64, 8 steps in 0.41 s; tensorflow, CPU: ...)``."""
    rate = result["images_per_second"]
    rate_text = f"{rate:,.0f}" if rate >= 100 else f"{rate:.3g}"
    what = f"{result['steps']} steps" if "steps" in result else f"{result['images']} images"
    prefix = f"{label}: " if label else ""
    return (
        f"{prefix}{rate_text} images/s (batch {result['batch_size']}, {what} in "
        f"{result['seconds']:.2f} s; {result['backend']}, {result['device']})"
    )


__all__ = ["describe_timing", "hardware_label", "images_per_second", "time_training"]
