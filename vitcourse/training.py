"""Training: AdamW with a warmup-cosine schedule, and a ``fit`` that survives interruptions.

``train`` is what every chapter calls. It writes three things into ``out_dir``:

- ``history.json``: the run's settings and per-epoch metrics, rewritten after every epoch;
- ``best.keras``: the model with the best validation accuracy so far;
- ``backup/``: the training state; it exists only while a run is unfinished.
  Calling ``train`` again with the same ``out_dir`` and the same settings after a
  Colab disconnect, a Ctrl-C or a crash continues from the last finished epoch.

``train`` writes, overwrites and deletes only those files (and the command
line's ``metrics.json``). It refuses an ``out_dir`` that holds anything else, a
finished run, or an unfinished run with other settings, and says how to start
afresh: a new ``out_dir``, or ``overwrite=True`` (``--overwrite``).

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

import contextlib
import hashlib
import json
import math
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
from keras import ops

from vitcourse import distribute
from vitcourse.data import ArrayDataset, stratified_split
from vitcourse.presets import prepare_model, walk_layers
from vitcourse.provenance import write_json

TOP_K = 5
# Keras image layers marked supports_jit=False that compile under JAX's jit (see compile_model)
JAX_JITTABLE = (keras.layers.RandomTranslation, keras.layers.RandomRotation, keras.layers.RandomZoom)
# What train writes into out_dir, and what Keras's BackupAndRestore writes into backup/.
OWN_FILES = ("history.json", "best.keras", "metrics.json")
BACKUP_DIR = "backup"
BACKUP_FILES = ("latest.weights.h5", "training_metadata.json")
START_AFRESH = (
    "To start afresh, pass a new out_dir (on the command line: --out NEW_FOLDER), "
    "or overwrite=True (--overwrite) to replace the files train wrote there."
)


class OutDirError(ValueError):
    """``out_dir`` cannot be used for this run; the message says why and what to do."""


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
    """Compile ``model`` for classification with AdamW and a warmup-cosine schedule.

    The learning rate rises linearly from 0 to ``learning_rate`` over the first
    ``warmup_fraction`` of the steps (Adam's moment estimates are noise at first,
    and transformers trained from scratch diverge easily then), and decays along a
    cosine to 0 at ``total_steps``. It is Keras's own
    ``keras.optimizers.schedules.CosineDecay`` with ``warmup_target``, so a saved
    model loads anywhere Keras does.

    Args:
        model: a Keras classifier whose outputs are logits (or probabilities,
            then pass ``from_logits=False``).
        learning_rate: peak learning rate.
        weight_decay: AdamW's decoupled weight decay.
        total_steps: optimizer steps of the whole run.
        warmup_fraction: share of ``total_steps`` spent warming up.
        from_logits: whether the model outputs logits rather than softmax probabilities.
        jit_compile: passed on to ``model.compile``.

    On JAX, Keras turns XLA off for the whole training step (``"auto"``, and
    even ``True``) when the model holds a layer marked ``supports_jit = False``,
    as Keras's ``RandomTranslation``, ``RandomRotation`` and ``RandomZoom`` are
    (for TensorFlow's sake). The step then runs op by op, many times slower on
    a CPU (measured in benchmarks/README.md). Under JAX's ``jit`` those layers
    compile (``tests/test_training.py`` trains with them), so on JAX this
    function marks them ``supports_jit = True`` before compiling.

    Metrics: ``accuracy`` and, for more than 5 classes, ``top5_accuracy``
    (with 5 classes or fewer top-5 accuracy is always 1).

    Returns:
        The same model, compiled.

    Reference: Loshchilov and Hutter, SGDR (https://arxiv.org/abs/1608.03983)
    for the cosine decay; Goyal et al. (https://arxiv.org/abs/1706.02677) for the warmup.
    Introduced in chapter 05.
    """
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate}.")
    if not 0 <= warmup_fraction <= 1:
        raise ValueError(f"warmup_fraction must be between 0 and 1, got {warmup_fraction}.")
    total_steps = int(total_steps)
    if total_steps < 1:
        raise ValueError(f"total_steps must be a whole number >= 1, got {total_steps}.")
    warmup_steps = int(round(warmup_fraction * total_steps))
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0,
        decay_steps=max(total_steps - warmup_steps, 1),  # the steps after warmup
        warmup_target=float(learning_rate),
        warmup_steps=warmup_steps,
        alpha=0.0,  # ends at 0
    )
    if keras.backend.backend() == "jax":
        for layer in walk_layers(model):
            if isinstance(layer, JAX_JITTABLE):
                layer.supports_jit = True  # Keras says False for TensorFlow's sake; under JAX's jit they compile
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
    "complete", "run", "history"}``; ``run`` holds the settings that identify the
    run (a resumed call must repeat them); ``history`` maps each metric (``loss``,
    ``accuracy``, ``val_accuracy``, ..., ``learning_rate``, ``epoch_seconds``,
    ``elapsed_s``) to one value per epoch, like ``keras.callbacks.History``.
    ``elapsed_s`` adds up training time across interrupted and resumed calls.

    Args:
        path: the JSON file.
        planned_epochs: epochs the run is meant to last.
        batch_size: recorded in the file.
        previous: the ``history`` dict of an interrupted run to continue, or None.
        run: the run's settings (a JSON-ready dict), recorded in the file.
    """

    def __init__(self, path, planned_epochs, batch_size, previous=None, run=None):
        super().__init__()
        self.path = Path(path)
        self.planned_epochs = planned_epochs
        self.batch_size = batch_size
        self.run = run or {}
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
                "run": self.run,
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


def _check_finite(x, name):
    if np.issubdtype(x.dtype, np.integer):
        return
    bad = ~np.isfinite(x.reshape(len(x), -1)).all(axis=1)
    if bad.any():
        raise ValueError(
            f"{name} holds NaN or infinite pixel values in {int(bad.sum())} image(s) "
            f"(the first is image {int(np.argmax(bad))}); training on them makes the loss NaN. "
            "Drop or repair those images (e.g. np.nan_to_num(x)) before training."
        )


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stops training with a clear error when an epoch's loss is NaN or infinite.

    It runs before the other callbacks of :func:`train`, so the broken weights
    never reach ``best.keras``, the backup or ``history.json``.
    """

    def on_epoch_end(self, epoch, logs=None):
        broken = {}
        for key, value in (logs or {}).items():
            if key.endswith("loss") and not math.isfinite(float(ops.convert_to_numpy(value))):
                broken[key] = float(ops.convert_to_numpy(value))
        if broken:
            values = ", ".join(f"{key} {value}" for key, value in broken.items())
            raise FloatingPointError(
                f"Training stopped in epoch {epoch + 1}: {values}. Nothing from this epoch was "
                "saved (best.keras keeps only earlier, finite epochs). Lower the learning rate "
                "(--learning-rate), check the data for NaN values, then start afresh with a new "
                "out_dir (--out) or overwrite=True (--overwrite)."
            )


def _fingerprint(*arrays):
    """A short digest of the labels and a sample of the images, to tell datasets apart."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array[:: max(1, len(array) // 64)])
        digest.update(str((array.dtype, array.shape)).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:16]


def _read_record(out_dir):
    """The ``history.json`` that train wrote in ``out_dir``, or None."""
    try:
        with open(out_dir / "history.json", encoding="utf-8") as file:
            record = json.load(file)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("history"), dict) else None


def _is_own(path, names):
    if path.is_symlink() or not path.is_file():
        return False
    # write_json's temporary files (.history.json.<random>.tmp), left behind only by a kill
    temporary = path.suffix == ".tmp" and any(path.name.startswith(f".{name}.") for name in names)
    return path.name in names or temporary


def _files_not_written_by_train(out_dir):
    if _read_record(out_dir) is None:  # without its history.json, nothing here is train's
        return [p.name + "/" * p.is_dir() for p in sorted(out_dir.iterdir())]
    backup_names = [*BACKUP_FILES, *(f"{name}.bkp" for name in BACKUP_FILES)]
    foreign = []
    for path in sorted(out_dir.iterdir()):
        if path.name == BACKUP_DIR and path.is_dir() and not path.is_symlink():
            foreign += [f"{BACKUP_DIR}/{p.name}" for p in sorted(path.iterdir()) if not _is_own(p, backup_names)]
        elif not _is_own(path, OWN_FILES):
            foreign.append(path.name + "/" * path.is_dir())
    return foreign


def _check_out_dir(out_dir, run, overwrite):
    """Checks that ``out_dir`` can hold this run; returns the history to resume, or None.

    Refuses (with :class:`OutDirError`) a folder holding anything train did not
    write, a finished run, more epochs than asked for, or a run with other
    settings; with ``overwrite`` it deletes train's own files instead of the last three.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise OutDirError(f"out_dir {str(out_dir)!r} is a file, not a folder. Pass a folder (--out).")
    if not out_dir.is_dir() or not any(out_dir.iterdir()):
        return None
    foreign = _files_not_written_by_train(out_dir)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise OutDirError(
            f"out_dir {str(out_dir)!r} holds files that train did not write ({shown}). train "
            "overwrites and deletes files in its out_dir, so it uses only an empty folder or one "
            "holding its own earlier run; nothing was changed. Pass a new or empty folder as "
            "out_dir (on the command line: --out NEW_FOLDER)."
        )
    if overwrite:
        for name in OWN_FILES:
            (out_dir / name).unlink(missing_ok=True)
        shutil.rmtree(out_dir / BACKUP_DIR, ignore_errors=True)
        for temporary in out_dir.glob(".*.tmp"):
            temporary.unlink()
        return None

    record = _read_record(out_dir)
    done = len(record["history"].get("epoch", []))
    saved = record.get("run") or {}
    if record.get("complete"):
        raise OutDirError(
            f"out_dir {str(out_dir)!r} holds a finished run ({done} epochs); train does not "
            f"overwrite it. {START_AFRESH}"
        )
    if done > run["epochs"]:
        raise OutDirError(
            f"out_dir {str(out_dir)!r} holds a run that has already completed {done} epochs, "
            f"more than epochs={run['epochs']}. Resume it with epochs={saved.get('epochs', done)} "
            f"(--epochs), or start afresh. {START_AFRESH}"
        )
    if saved != run:
        differences = [
            f"{key} {saved.get(key, 'not recorded')!r} there, {run.get(key, 'not given')!r} now"
            for key in sorted(set(saved) | set(run))
            if saved.get(key) != run.get(key)
        ]
        raise OutDirError(
            f"out_dir {str(out_dir)!r} holds an unfinished run with other settings "
            f"({'; '.join(differences)}). To resume it, repeat its settings. {START_AFRESH}"
        )
    backup = out_dir / BACKUP_DIR
    if backup.is_dir() and any(backup.iterdir()):
        return record["history"]
    return None  # the same run, stopped before its first backup: start it again


def _best(values):
    values = [v for v in values or [] if v is not None]
    return max(values) if values else None


def _whole_number(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}.")


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
    overwrite=False,
    run_info=None,
    data_parallel=False,
):
    """Compile and fit ``model`` on ``data``, saving progress to ``out_dir``; resumable.

    Calling ``train`` again with the same ``out_dir`` and the same settings after
    an interruption continues from the last finished epoch (weights, optimizer
    state and learning-rate schedule included).

    ``train`` writes only ``history.json``, ``best.keras`` and ``backup/`` into
    ``out_dir`` (``python -m vitcourse train`` adds ``metrics.json``), and deletes
    only ``backup/``. It raises :class:`OutDirError`, changing nothing, when
    ``out_dir`` holds other files, a finished run, an unfinished run with other
    settings (epochs, batch size, learning rate, seed, model size, data, ...), or
    more finished epochs than ``epochs``. A NaN or infinite loss stops training with
    a ``FloatingPointError`` before anything of that epoch is saved.

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
        seed: seeds Python, numpy and the backend (shuffling, dropout); >= 0.
        callbacks: extra Keras callbacks, run after the built-in ones.
        val_fraction: share of the training images held out, stratified and
            seeded, as validation data: it picks ``best.keras``, so the test
            split stays unseen until :func:`evaluate`. 0 validates on the test
            split itself (only for quick looks: the best checkpoint is then
            chosen on test images, which flatters its test accuracy).
        overwrite: replace the earlier run in ``out_dir`` (train's own files
            only) instead of refusing it.
        run_info: more settings that identify the run, JSON-ready (the command
            line passes the preset, its overrides, the dataset and the mode).
            They are recorded in ``history.json`` and must match to resume.
        data_parallel: train on all local accelerators at once (see
            :mod:`vitcourse.distribute`): ``batch_size`` is then the global batch,
            split between the devices; scale it and ``learning_rate`` with the
            number of devices. The returned ``TrainResult.model`` is the copy that
            was trained.

    Returns:
        A :class:`TrainResult`.

    Introduced in chapter 05.
    """
    start = time.perf_counter()
    _whole_number(epochs, "epochs", 1)
    _whole_number(batch_size, "batch_size", 1)
    _whole_number(seed, "seed", 0)
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
    _check_finite(x_train, "x_train")
    _check_finite(x_test, "x_test")
    keras.utils.set_random_seed(seed)
    if not model.built:
        model(x_train[:1])
    run = {
        "epochs": int(epochs),
        "batch_size": int(batch_size),
        "learning_rate": float(learning_rate),
        "weight_decay": float(weight_decay),
        "warmup_fraction": float(warmup_fraction),
        "from_logits": bool(from_logits),
        "seed": int(seed),
        "val_fraction": float(val_fraction),
        "parameters": int(model.count_params()),
        "data": _fingerprint(x_train, y_train, x_test, y_test),
        **(run_info or {}),
    }
    run = json.loads(json.dumps(run, default=str))  # as history.json will hold it
    out_dir = Path(out_dir)
    previous = _check_out_dir(out_dir, run, overwrite)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir):  # an unnamed file: nothing is left behind
            pass
    except OSError as error:
        raise OutDirError(
            f"Cannot write into out_dir {str(out_dir)!r} ({error.strerror or error}). "
            "Pass a folder you can write to (on the command line: --out FOLDER)."
        ) from error
    if previous is not None and verbose != 0:
        print(f"Resuming the interrupted run in {out_dir} at epoch {resume_info(out_dir)['next_epoch']} of {epochs}.")

    # On several devices: a copy of the model on each (same weights), built, compiled and
    # trained inside the backend's data-parallel scope; on one device nothing changes.
    with distribute.data_parallel() if data_parallel else contextlib.nullcontext():
        if data_parallel:
            model = distribute.replicate(model)
        if val_fraction:
            x_train, y_train, x_val, y_val = stratified_split(x_train, y_train, val_fraction, seed)
        else:
            x_val, y_val = x_test, y_test
        # Models with a Normalization layer need its statistics before training.
        prepare_model(model, x_train)
        steps_per_epoch = math.ceil(len(x_train) / batch_size)
        compile_model(
            model,
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            total_steps=epochs * steps_per_epoch,
            warmup_fraction=warmup_fraction,
            from_logits=from_logits,
        )

        history = JsonHistory(out_dir / "history.json", int(epochs), int(batch_size), previous, run)
        # Order matters: a NaN loss stops the run before anything below saves that epoch;
        # history.json is written before the backup, so after a crash between the two
        # the resumed run redoes (and overwrites) that epoch.
        all_callbacks = [
            StopOnNonFiniteLoss(),
            history,
            keras.callbacks.ModelCheckpoint(
                out_dir / "best.keras",
                monitor="val_accuracy",
                mode="max",
                save_best_only=True,
                initial_value_threshold=_best((previous or {}).get("val_accuracy")),
            ),
            keras.callbacks.BackupAndRestore(out_dir / BACKUP_DIR),
            *callbacks,
        ]
        if augment is None:
            inputs = {"x": x_train, "y": y_train, "batch_size": int(batch_size), "shuffle": True}
        else:
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
    record = _read_record(out_dir) or {}
    history = record.get("history", {})
    backup_dir = out_dir / BACKUP_DIR
    can_resume = bool(record) and not record.get("complete") and (backup_dir / BACKUP_FILES[0]).is_file()
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
