"""Training: a warmup-cosine schedule, AdamW, and a ``fit`` that survives interruptions.

``train`` is what every chapter calls. It writes three things into ``out_dir``:

- ``history.json``: per-epoch metrics, rewritten after every epoch;
- ``best.keras``: the model with the best validation accuracy so far;
- ``backup/``: the training state; it exists only while a run is unfinished.
  Calling ``train`` again with the same ``out_dir`` after a Colab disconnect,
  a Ctrl-C or a crash continues from the last finished epoch.

Only ``keras`` and numpy are used (no ``tf.data``), so it runs on the JAX
backend without TensorFlow installed.

Example:

    from vitcourse.data import load_dataset
    from vitcourse.presets import build_model
    from vitcourse.training import evaluate, train

    data = load_dataset("synthetic10", mode="smoke")   # x_train: (256, 32, 32, 3) uint8
    model = build_model("course_vit", num_classes=10, depth=1)
    result = train(model, data, "runs/example", epochs=2, batch_size=64)
    result.history["val_accuracy"]       # one value per epoch, on 10% of x_train held out
    evaluate(model, data.x_test, data.y_test)["accuracy"]   # the test split, untouched
"""

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
from keras import ops

from vitcourse.provenance import write_json

TOP_K = 5


@keras.saving.register_keras_serializable(package="vitcourse")
class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup from 0 to ``learning_rate``, then cosine decay to ``final_learning_rate``.

    Transformers trained from scratch diverge easily in their first steps, when
    Adam's moment estimates are still noise; a short warmup keeps the first
    updates small. After ``total_steps`` the rate stays at ``final_learning_rate``.

    Args:
        learning_rate: peak learning rate, reached at ``warmup_steps``.
        total_steps: optimizer steps of the whole run (epochs * batches per epoch).
        warmup_steps: steps of linear warmup; 0 starts at the peak.
        final_learning_rate: learning rate at ``total_steps`` and after.

    Example:

        schedule = WarmupCosine(1e-3, total_steps=1000, warmup_steps=100)
        float(schedule(0)), float(schedule(100)), float(schedule(1000))  # (0.0, 0.001, 0.0)
        optimizer = keras.optimizers.AdamW(learning_rate=schedule)

    Reference: Loshchilov and Hutter, SGDR (https://arxiv.org/abs/1608.03983)
    for the cosine decay; Goyal et al. (https://arxiv.org/abs/1706.02677) for the warmup.
    Introduced in chapter 05.
    """

    def __init__(self, learning_rate, total_steps, warmup_steps=0, final_learning_rate=0.0):
        if not learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {learning_rate}.")
        if int(total_steps) != total_steps or total_steps < 1:
            raise ValueError(f"total_steps must be a whole number >= 1, got {total_steps}.")
        if int(warmup_steps) != warmup_steps or not 0 <= warmup_steps <= total_steps:
            raise ValueError(
                f"warmup_steps must be a whole number between 0 and total_steps={total_steps}, "
                f"got {warmup_steps}."
            )
        if not 0 <= final_learning_rate <= learning_rate:
            raise ValueError(
                f"final_learning_rate must be between 0 and learning_rate={learning_rate}, "
                f"got {final_learning_rate}."
            )
        self.learning_rate = learning_rate
        self.total_steps = total_steps
        self.warmup_steps = warmup_steps
        self.final_learning_rate = final_learning_rate

    def __call__(self, step):
        step = ops.cast(step, "float32")
        peak = float(self.learning_rate)
        final = float(self.final_learning_rate)
        warmup = float(self.warmup_steps)
        warmup_rate = peak * step / max(warmup, 1.0)
        # progress runs from 0 at the end of warmup to 1 at total_steps.
        progress = ops.clip((step - warmup) / max(float(self.total_steps) - warmup, 1.0), 0.0, 1.0)
        cosine_rate = final + (peak - final) * 0.5 * (1.0 + ops.cos(math.pi * progress))
        return ops.where(step < warmup, warmup_rate, cosine_rate)

    def get_config(self):
        return {
            "learning_rate": self.learning_rate,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "final_learning_rate": self.final_learning_rate,
        }


def _num_outputs(model):
    """The number of classes the model predicts, or None when Keras cannot tell yet."""
    try:
        shape = model.output_shape
    except (AttributeError, ValueError, RuntimeError):
        return None
    if isinstance(shape, tuple) and shape and isinstance(shape[-1], int):
        return shape[-1]
    return None


def compile_model(
    model,
    learning_rate=1e-3,
    weight_decay=1e-4,
    total_steps=1000,
    warmup_fraction=0.1,
    from_logits=True,
    jit_compile="auto",
):
    """Compile ``model`` for classification with AdamW and a :class:`WarmupCosine` schedule.

    Args:
        model: a Keras classifier whose outputs are logits (or probabilities,
            then pass ``from_logits=False``).
        learning_rate: peak learning rate.
        weight_decay: AdamW's decoupled weight decay.
        total_steps: optimizer steps of the whole run.
        warmup_fraction: share of ``total_steps`` spent warming up.
        from_logits: whether the model outputs logits rather than softmax probabilities.
        jit_compile: passed on to ``model.compile``.

    Metrics: ``accuracy`` and, for more than 5 classes, ``top5_accuracy``
    (with 5 classes or fewer top-5 accuracy is always 1).

    Returns:
        The same model, compiled.
    """
    if not 0 <= warmup_fraction <= 1:
        raise ValueError(f"warmup_fraction must be between 0 and 1, got {warmup_fraction}.")
    total_steps = int(total_steps)
    schedule = WarmupCosine(
        learning_rate, total_steps=total_steps, warmup_steps=int(round(warmup_fraction * total_steps))
    )
    metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    num_outputs = _num_outputs(model)
    if num_outputs is not None and num_outputs > TOP_K:
        metrics.append(keras.metrics.SparseTopKCategoricalAccuracy(k=TOP_K, name="top5_accuracy"))
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=schedule, weight_decay=weight_decay),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits),
        metrics=metrics,
        jit_compile=jit_compile,
    )
    return model


class JsonHistory(keras.callbacks.Callback):
    """Writes per-epoch metrics to a JSON file after every epoch, atomically.

    The file holds ``{"planned_epochs", "batch_size", "completed_epochs",
    "complete", "history"}``; ``history`` maps each metric (``loss``,
    ``accuracy``, ``val_accuracy``, ..., ``learning_rate``, ``epoch_seconds``,
    ``elapsed_s``) to one value per epoch, like ``keras.callbacks.History``.
    ``elapsed_s`` adds up training time across interrupted and resumed calls.

    Args:
        path: the JSON file.
        planned_epochs: epochs the run is meant to last.
        batch_size: recorded in the file.
        previous: the ``history`` dict of an interrupted run to continue, or None.
    """

    def __init__(self, path, planned_epochs, batch_size, previous=None):
        super().__init__()
        self.path = Path(path)
        self.planned_epochs = planned_epochs
        self.batch_size = batch_size
        self.history = {key: list(values) for key, values in (previous or {}).items()}
        self.first_epoch = None  # the 0-based epoch this call started from
        self._epoch_start = None

    def _write(self, complete=False):
        write_json(
            self.path,
            {
                "planned_epochs": self.planned_epochs,
                "batch_size": self.batch_size,
                "completed_epochs": len(self.history.get("epoch", [])),
                "complete": complete,
                "history": self.history,
            },
        )

    def on_train_begin(self, logs=None):
        self._write()

    def on_epoch_begin(self, epoch, logs=None):
        if self.first_epoch is None:
            self.first_epoch = epoch
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._epoch_start
        # A resumed run redoes the epoch that was interrupted: keep earlier epochs only.
        done = {key: values[:epoch] for key, values in self.history.items()}
        elapsed_before = next((s for s in reversed(done.get("elapsed_s", [])) if s is not None), 0.0)
        record = {key: float(ops.convert_to_numpy(value)) for key, value in (logs or {}).items()}
        record["learning_rate"] = float(ops.convert_to_numpy(self.model.optimizer.learning_rate))
        record["epoch_seconds"] = seconds
        record["elapsed_s"] = elapsed_before + seconds
        history = {"epoch": list(range(1, epoch + 2))}
        for key in sorted((set(done) | set(record)) - {"epoch"}):
            values = done.get(key, [])
            # None pads an epoch the file missed (or a metric it did not have then).
            history[key] = values + [None] * (epoch - len(values)) + [record.get(key)]
        self.history = history
        self._write()

    def on_train_end(self, logs=None):
        self._write(complete=True)


@dataclass
class TrainResult:
    """What :func:`train` returns.

    ``history`` maps each metric to one value per epoch, across resumed calls;
    ``model`` holds the weights of the last epoch (``out_dir/"best.keras"``
    holds the best ones); ``initial_epoch`` is 0 for a fresh run and the number
    of epochs already done when this call resumed an interrupted one.
    """

    history: dict = field(repr=False)
    best_val_accuracy: float | None
    wall_time_s: float
    out_dir: Path
    model: keras.Model = field(repr=False)
    initial_epoch: int = 0

    @property
    def best_model_path(self):
        return self.out_dir / "best.keras"


def _labels(y, name):
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.reshape(-1)
    if y.ndim != 1:
        raise ValueError(
            f"{name} must be a flat array of class indices, got shape {y.shape}. "
            "Pass integer labels such as [3, 0, 7], not one-hot vectors."
        )
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{name} must hold integer class indices, got dtype {y.dtype}.")
    return y.astype("int64")


def _check_data(model, x, y, x_name, y_name):
    if len(x) != len(y):
        raise ValueError(f"{x_name} has {len(x)} images but {y_name} has {len(y)} labels.")
    if len(x) == 0:
        raise ValueError(f"{x_name} is empty: train needs at least one image in it.")
    num_outputs = _num_outputs(model)
    if num_outputs is not None and (y.min() < 0 or y.max() >= num_outputs):
        raise ValueError(
            f"{y_name} holds labels from {y.min()} to {y.max()}, but the model has "
            f"{num_outputs} outputs, so labels must lie in [0, {num_outputs - 1}]. "
            f"Build the model with num_classes={int(y.max()) + 1} (the number of label names), "
            "or use the dataset the model was built for."
        )
    try:
        expected = tuple(model.input_shape[1:])
    except (AttributeError, ValueError, RuntimeError):
        return
    if None not in expected and tuple(x.shape[1:]) != expected:
        raise ValueError(
            f"The model expects images of shape {expected}, but {x_name} has shape "
            f"{tuple(x.shape[1:])}. Build the model with input_shape={tuple(x.shape[1:])}."
        )


def _prepare(model, x_train):
    # Models with a Normalization layer need its statistics before training.
    try:
        from vitcourse.presets import prepare_model
    except ImportError:
        return
    prepare_model(model, x_train)


def _previous_history(out_dir):
    try:
        with open(out_dir / "history.json", encoding="utf-8") as file:
            return json.load(file).get("history", {})
    except (OSError, ValueError):
        return {}


def _best(values):
    values = [v for v in values or [] if v is not None]
    return max(values) if values else None


def train(
    model,
    data,
    out_dir,
    epochs,
    batch_size,
    learning_rate=1e-3,
    weight_decay=1e-4,
    warmup_fraction=0.1,
    from_logits=True,
    augment=None,
    verbose="auto",
    seed=0,
    callbacks=(),
    val_fraction=0.1,
):
    """Compile and fit ``model`` on ``data``, saving progress to ``out_dir``; resumable.

    Calling ``train`` again with the same ``out_dir`` after an interruption
    continues from the last finished epoch (weights, optimizer state and
    learning-rate schedule included). A run that finished starts afresh.

    Args:
        model: a built Keras classifier taking images of ``data``'s shape.
        data: an object with ``x_train``, ``y_train``, ``x_test``, ``y_test``
            (such as :class:`vitcourse.data.ImageDataset`).
        out_dir: folder for ``history.json``, ``best.keras`` and ``backup/``.
        epochs: number of epochs of the whole run (resumed calls included).
        batch_size: images per step.
        learning_rate, weight_decay, warmup_fraction, from_logits: see
            :func:`compile_model`.
        augment: passed to :class:`vitcourse.data.ArrayDataset` to augment
            training batches; None feeds the arrays as they are.
        verbose: Keras progress output: "auto", 0, 1 or 2.
        seed: seeds Python, numpy and the backend (shuffling, dropout).
        callbacks: extra Keras callbacks, run after the built-in ones.
        val_fraction: share of the training images held out, stratified and
            seeded, as validation data: it picks ``best.keras``, so the test
            split stays unseen until :func:`evaluate`. 0 validates on the test
            split itself (only for quick looks: the best checkpoint is then
            chosen on test images, which flatters its test accuracy).

    Returns:
        A :class:`TrainResult`.

    Introduced in chapter 05.
    """
    start = time.perf_counter()
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs must be a whole number >= 1, got {epochs!r}.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a whole number >= 1, got {batch_size!r}.")
    missing = [a for a in ("x_train", "y_train", "x_test", "y_test") if not hasattr(data, a)]
    if missing:
        raise ValueError(
            f"data has no {', '.join(missing)}: pass a dataset from vitcourse.data.load_dataset "
            "or any object with x_train, y_train, x_test and y_test arrays."
        )
    x_train, x_test = np.asarray(data.x_train), np.asarray(data.x_test)
    y_train, y_test = _labels(data.y_train, "y_train"), _labels(data.y_test, "y_test")
    _check_data(model, x_train, y_train, "x_train", "y_train")
    _check_data(model, x_test, y_test, "x_test", "y_test")
    if val_fraction:
        from vitcourse.data import stratified_split

        x_train, y_train, x_val, y_val = stratified_split(x_train, y_train, val_fraction, seed)
    else:
        x_val, y_val = x_test, y_test
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(
            f"Cannot create out_dir {str(out_dir)!r} ({error.strerror or error}). "
            "Pass a folder you can write to."
        ) from error

    backup_dir = out_dir / "backup"
    resuming = backup_dir.is_dir() and any(backup_dir.iterdir())
    previous = _previous_history(out_dir) if resuming else None

    keras.utils.set_random_seed(seed)
    if not model.built:
        model(x_train[:1])
    _prepare(model, x_train)
    steps_per_epoch = math.ceil(len(x_train) / batch_size)
    compile_model(
        model,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        total_steps=epochs * steps_per_epoch,
        warmup_fraction=warmup_fraction,
        from_logits=from_logits,
    )

    history = JsonHistory(out_dir / "history.json", int(epochs), int(batch_size), previous)
    # Order matters: history.json is written before the backup, so after a
    # crash between the two the resumed run redoes (and overwrites) that epoch.
    all_callbacks = [
        history,
        keras.callbacks.ModelCheckpoint(
            out_dir / "best.keras",
            monitor="val_accuracy",
            mode="max",
            save_best_only=True,
            initial_value_threshold=_best((previous or {}).get("val_accuracy")),
        ),
        keras.callbacks.BackupAndRestore(backup_dir),
        *callbacks,
    ]
    if augment is None:
        inputs = {"x": x_train, "y": y_train, "batch_size": int(batch_size), "shuffle": True}
    else:
        from vitcourse.data import ArrayDataset

        inputs = {
            "x": ArrayDataset(x_train, y_train, int(batch_size), shuffle=True, augment=augment, seed=seed)
        }

    # Keras keeps the epoch BackupAndRestore resumed from on the model and would
    # start every later fit of this model there; clear it before and after.
    if hasattr(model, "_initial_epoch"):
        model._initial_epoch = None
    try:
        model.fit(
            **inputs,
            epochs=int(epochs),
            validation_data=(x_val, y_val),
            validation_batch_size=int(batch_size),
            callbacks=all_callbacks,
            verbose=verbose,
        )
    finally:
        model._initial_epoch = None

    return TrainResult(
        history=history.history,
        best_val_accuracy=_best(history.history.get("val_accuracy")),
        wall_time_s=time.perf_counter() - start,
        out_dir=out_dir,
        model=model,
        initial_epoch=history.first_epoch or 0,
    )


def evaluate(model, x, y, batch_size=256):
    """Accuracy and top-5 accuracy of ``model`` on ``(x, y)``, computed with numpy.

    Works whether or not the model is compiled, and for logits as well as probabilities.

    Returns:
        A dict: ``accuracy`` (float), ``top5_accuracy`` (float, or None with 5
        classes or fewer) and ``predictions`` (int64 array of predicted classes).
    """
    y = _labels(y, "y")
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} images but y has {len(y)} labels.")
    scores = np.asarray(model.predict(np.asarray(x), batch_size=batch_size, verbose=0))
    scores = scores.reshape(len(y), -1)  # (N, num_classes)
    predictions = scores.argmax(axis=-1).astype("int64")
    top5 = None
    if scores.shape[-1] > TOP_K:
        best_five = np.argpartition(-scores, TOP_K - 1, axis=-1)[:, :TOP_K]  # (N, 5), unordered
        top5 = float((best_five == y[:, None]).any(axis=-1).mean())
    return {
        "accuracy": float((predictions == y).mean()),
        "top5_accuracy": top5,
        "predictions": predictions,
    }


def most_confused(y_true, y_pred, label_names, k=10):
    """The ``k`` most frequent mistakes, as ``(true_name, predicted_name, count)``.

    Ties are broken by class index, so the answer is deterministic.

    Example:

        most_confused([0, 0, 1, 2], [1, 1, 0, 2], ["cat", "dog", "ship"])
        # [("cat", "dog", 2), ("dog", "cat", 1)]
    """
    y_true, y_pred = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} labels but y_pred has {len(y_pred)}.")
    num_classes = len(label_names)
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if len(y) and (y.min() < 0 or y.max() >= num_classes):
            raise ValueError(
                f"{name} holds labels from {y.min()} to {y.max()}, outside the "
                f"{num_classes} label_names."
            )
    # confusion[t, p]: how often class t was predicted as p.
    confusion = np.bincount(y_true * num_classes + y_pred, minlength=num_classes**2)
    confusion = confusion.reshape(num_classes, num_classes)
    np.fill_diagonal(confusion, 0)
    order = np.argsort(-confusion, axis=None, kind="stable")[:k]
    pairs = []
    for index in order:
        true, predicted = divmod(int(index), num_classes)
        if confusion[true, predicted] == 0:
            break
        pairs.append((label_names[true], label_names[predicted], int(confusion[true, predicted])))
    return pairs


def resume_info(out_dir):
    """Where a :func:`train` call with this ``out_dir`` would start.

    Returns:
        A dict: ``next_epoch`` (1-based epoch the next call starts with),
        ``completed_epochs`` and ``planned_epochs`` (from ``history.json``),
        ``complete`` (the last run finished), ``can_resume`` (a backup exists)
        and ``best_val_accuracy``.
    """
    out_dir = Path(out_dir)
    try:
        with open(out_dir / "history.json", encoding="utf-8") as file:
            record = json.load(file)
    except (OSError, ValueError):
        record = {}
    history = record.get("history", {})
    backup_dir = out_dir / "backup"
    can_resume = backup_dir.is_dir() and any(backup_dir.iterdir())
    next_epoch = 1
    if can_resume:
        # BackupAndRestore's own record of finished epochs is the exact answer.
        try:
            with open(backup_dir / "training_metadata.json", encoding="utf-8") as file:
                next_epoch = int(json.load(file)["epoch"]) + 1
        except (OSError, ValueError, KeyError):
            next_epoch = len(history.get("epoch", [])) + 1
    return {
        "next_epoch": next_epoch,
        "completed_epochs": len(history.get("epoch", [])),
        "planned_epochs": record.get("planned_epochs"),
        "complete": bool(record.get("complete", False)),
        "can_resume": can_resume,
        "best_val_accuracy": _best(history.get("val_accuracy")),
    }
