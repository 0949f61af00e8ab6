"""Accuracy at equal budget: each preset trains for the same wall-clock time on the same split.

    python -m benchmarks.equal_budget --budget-seconds 300 --presets course_vit kerasio_vit \\
        --dataset cifar10_jpeg

A preset may carry changes to its recipe, ``name:field=value,field=value``, to
compare recipes at equal budget (fields of ``vitcourse.presets.Preset``, plus
``dtype_policy``, e.g. ``mixed_bfloat16``):

    python -m benchmarks.equal_budget --budget-seconds 300 \\
        --presets course_vit course_vit:patch_size=8 course_vit:dtype_policy=mixed_bfloat16

For each preset, in turn, in one process:

1. a timing probe (a throwaway copy of the model, a few steps) estimates how
   many optimizer steps fit in the budget, so the warmup-cosine schedule ends
   when the budget does;
2. the model trains on an endless, seeded reshuffle of the training split and
   is evaluated on the validation split every ``K`` steps (``--evaluations`` of
   them per budget);
3. training stops when the budget is spent (or the schedule is done).

The budget counts training time only, first step (graph tracing and XLA
compilation) included; evaluations pause the clock, so a model that is slow to
evaluate is not charged for it. Augmentation runs inside the models, so the
input pipeline is plain numpy (a ``keras.utils.PyDataset``): this runs with
``KERAS_BACKEND=jax`` and no TensorFlow installed.

Writes ``results/equal_budget_cifar10_<hardware-tag>.json`` (``--out`` to change).
"""

import argparse
import ast
import functools
import math
import os
import re
import statistics
import sys
import time

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras
import numpy as np

from benchmarks.common import contention, machine_snapshot, module_command, record_provenance, result_path
from vitcourse.data import load_dataset, load_cifar10_jpeg, stratified_subset
from vitcourse.presets import build_from_preset, get_preset, prepare_model
from vitcourse.provenance import write_json
from vitcourse.training import compile_model

THRESHOLDS = (0.6, 0.8, 0.9)


@functools.lru_cache(maxsize=4)
def shuffled(n, seed, data_epoch):
    """The order of the data in one pass over it: the same whichever loader thread asks first."""
    return np.random.default_rng([seed, data_epoch]).permutation(n)


class BatchStream(keras.utils.PyDataset):
    """``steps`` full batches per Keras "epoch", read from an endless, seeded reshuffle of ``(x, y)``.

    A Keras epoch is only the stretch between two evaluations here; the data has
    its own epochs underneath (a fresh permutation each time it runs out).
    Batch ``i`` of chunk ``c`` is always the same images, whatever order Keras asks.
    """

    def __init__(self, x, y, batch_size, steps, seed=0):
        super().__init__()
        self.x, self.y = x, y
        self.batch_size, self.steps, self.seed = batch_size, steps, seed
        self.chunk = 0

    def __len__(self):
        return self.steps

    def __getitem__(self, index):
        start = (self.chunk * self.steps + index) * self.batch_size
        # position in the endless stream -> (pass over the data, offset in that pass)
        passes, offsets = np.divmod(np.arange(start, start + self.batch_size), len(self.y))
        rows = np.concatenate(
            [shuffled(len(self.y), self.seed, p)[offsets[passes == p]] for p in np.unique(passes)]
        )
        return self.x[rows].astype("float32"), self.y[rows]  # uint8 -> float32 pixels in [0, 255]

    def on_epoch_end(self):
        self.chunk += 1


class BudgetClock(keras.callbacks.Callback):
    """Stops training after ``budget_s`` seconds of training; evaluations pause the clock.

    After each evaluation it records (training seconds, steps, images seen, metrics).
    """

    def __init__(self, budget_s, batch_size, max_steps):
        super().__init__()
        self.budget_s, self.batch_size, self.max_steps = budget_s, batch_size, max_steps

    def on_train_begin(self, logs=None):
        self.train_s = self.eval_s = 0.0
        self.steps = 0
        self.step_ends = []  # training seconds at the end of each step
        self.evaluations = []
        self.stop_reason = None

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def _running(self):
        return self.train_s + time.perf_counter() - self.started

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        self.step_ends.append(self._running())
        if self.step_ends[-1] >= self.budget_s:
            self.stop_reason, self.model.stop_training = "budget spent", True
        elif self.steps >= self.max_steps:
            self.stop_reason, self.model.stop_training = "schedule finished", True

    def on_test_begin(self, logs=None):
        self.train_s = self._running()
        self.test_started = time.perf_counter()

    def on_test_end(self, logs=None):
        self.eval_s += time.perf_counter() - self.test_started

    def on_epoch_end(self, epoch, logs=None):
        self.evaluations.append(
            {
                "elapsed_s": round(self.train_s, 2),
                "step": self.steps,
                "images_seen": self.steps * self.batch_size,
                "val_accuracy": logs.get("val_accuracy"),
                "val_loss": logs.get("val_loss"),
                "train_accuracy": logs.get("accuracy"),
                "train_loss": logs.get("loss"),
            }
        )


def load_split(dataset, train_images, val_images, seed):
    """The seeded, stratified train/validation split, optionally subsampled (also stratified)."""
    if dataset == "cifar10_jpeg":
        data = load_cifar10_jpeg(val_fraction=0.1, seed=seed)  # 45,000 / 5,000
    else:  # generated data, for a quick check of this script: synthetic10
        data = load_dataset(dataset, mode="smoke", seed=seed)
    full = {"train_images": len(data.y_train), "val_images": len(data.y_test)}
    if train_images and train_images < len(data.y_train):
        data.x_train, data.y_train = stratified_subset(data.x_train, data.y_train, train_images, seed)
    if val_images and val_images < len(data.y_test):
        data.x_test, data.y_test = stratified_subset(data.x_test, data.y_test, val_images, seed)
    return data, full


def parse_variant(spec):
    """``"course_vit:patch_size=8,dtype_policy=mixed_bfloat16"`` -> ``("course_vit", {"patch_size": 8}, "mixed_bfloat16")``.

    Values are Python literals (``8``, ``2e-3``, ``True``, ``(32,64)``) or else
    plain words (``none``). The preset's name and fields are checked when it is built.
    """
    name, _, changes = spec.partition(":")
    overrides = {}
    # a comma starts a new change only where ``field=`` follows, so tuples such as (32,64) stay whole
    for item in filter(None, re.split(r",(?=\s*\w+\s*=)", changes)):
        field, equals, value = item.partition("=")
        if not equals or not field.strip():
            raise ValueError(f"Cannot read {item!r} in {spec!r}: write changes as name:field=value,field=value.")
        try:
            overrides[field.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            overrides[field.strip()] = value.strip()
    policy = overrides.pop("dtype_policy", "float32")
    return name, overrides, policy


def new_model(spec, data, seed, total_steps):
    """The preset (with its changes) for the data's classes, normalisation adapted, compiled with a
    schedule of ``total_steps``."""
    name, overrides, policy = parse_variant(spec)
    keras.utils.clear_session()
    keras.config.set_dtype_policy(policy)
    keras.utils.set_random_seed(seed)
    preset = get_preset(name, **dict(overrides, num_classes=len(data.label_names)))
    model = prepare_model(build_from_preset(preset), data.x_train)
    compile_model(model, preset.learning_rate, preset.weight_decay, total_steps=total_steps)
    return preset, model


def batch_size_of(spec, args):
    """A batch size the variant sets wins; then ``--batch-size``; then the preset's own."""
    name, overrides, _ = parse_variant(spec)
    return overrides.get("batch_size") or args.batch_size or get_preset(name).batch_size


def probe(name, data, seed, batch_size, steps):
    """Seconds of the first step (tracing, compiling) and the mean of the steps after the second."""
    _, model = new_model(name, data, seed, total_steps=1000)
    clock = BudgetClock(budget_s=math.inf, batch_size=batch_size, max_steps=steps)
    model.fit(BatchStream(data.x_train, data.y_train, batch_size, steps, seed + 1), callbacks=[clock], verbose=0)
    ends = [0.0] + clock.step_ends
    step_seconds = [b - a for a, b in zip(ends, ends[1:])]
    return {"first_step_s": round(step_seconds[0], 3), "step_s": round(statistics.mean(step_seconds[2:]), 4)}


def time_to_reach(evaluations, threshold):
    """Training seconds at the first evaluation reaching ``threshold``, or None."""
    for record in evaluations:
        if record["val_accuracy"] is not None and record["val_accuracy"] >= threshold:
            return record["elapsed_s"]
    return None


def run_preset(name, data, args):
    snapshot = machine_snapshot()
    started = time.perf_counter()
    batch_size = batch_size_of(name, args)
    timing = probe(name, data, args.seed, batch_size, args.probe_steps)
    # Steps that fit: the first step (TensorFlow traces the new model again; JAX
    # finds the probe's compiled code in its cache, and then the schedule ends a
    # little before the budget), then the steady pace.
    planned = max(1, int((args.budget_seconds - timing["first_step_s"]) / timing["step_s"]) + 1)
    per_eval = max(1, math.ceil(planned / args.evaluations))
    preset, model = new_model(name, data, args.seed, total_steps=planned)
    clock = BudgetClock(args.budget_seconds, batch_size, max_steps=planned)
    print(f"[{name}] probe {timing}; planning {planned} steps, evaluating every {per_eval}", flush=True)
    model.fit(
        BatchStream(data.x_train, data.y_train, batch_size, per_eval, args.seed),
        validation_data=(data.x_test.astype("float32"), data.y_test),
        validation_batch_size=256,
        epochs=10 * args.evaluations + 10,  # the budget or the schedule stops it first
        callbacks=[clock],
        verbose=0,
    )
    evaluations = clock.evaluations
    final = evaluations[-1]
    for record in evaluations:
        print(f"[{name}] {record['elapsed_s']:7.1f}s step {record['step']:5d} "
              f"val_accuracy {record['val_accuracy']:.4f}", flush=True)  # fmt: skip
    base, overrides, policy = parse_variant(name)
    return {
        "preset": base,
        "changes": overrides,
        "dtype_policy": policy,
        "parameters": model.count_params(),
        "num_classes": preset.num_classes,
        "batch_size": batch_size,
        "learning_rate": preset.learning_rate,
        "weight_decay": preset.weight_decay,
        "schedule": f"AdamW, warmup-cosine over {planned} steps (10% warmup)",
        "probe": timing,
        "planned_steps": planned,
        "steps_per_evaluation": per_eval,
        "steps": clock.steps,
        "stop_reason": clock.stop_reason,
        "images_seen": clock.steps * batch_size,
        "epochs_of_data": round(clock.steps * batch_size / len(data.y_train), 3),
        "train_seconds": round(clock.train_s, 2),
        "eval_seconds": round(clock.eval_s, 2),
        "train_images_per_second": round(clock.steps * batch_size / clock.train_s, 1),
        "final_val_accuracy": final["val_accuracy"],
        "best_val_accuracy": max(r["val_accuracy"] for r in evaluations),
        "time_to_accuracy_s": {f"{t:.0%}": time_to_reach(evaluations, t) for t in THRESHOLDS},
        "evaluations": evaluations,
        "wall_time_s": round(time.perf_counter() - started, 1),
        "contention": contention(snapshot),
    }


def write_record(args, argv, runs, data, full_split, load_seconds, snapshot, started):
    """Writes the runs so far, with their provenance; returns (record, path)."""
    provenance = record_provenance(module_command("benchmarks.equal_budget", argv), snapshot)
    accuracies = [run["final_val_accuracy"] for run in runs.values()]
    record = {
        "benchmark": "equal_budget",
        "dataset": args.dataset,
        "dataset_description": (
            "CIFAR-10 (JPEG copy, quality 75) from shared/data: seeded stratified 45,000/5,000 "
            "train/validation split of the 50,000 training images"
            if args.dataset == "cifar10_jpeg"
            else "generated stand-in data (synthetic10, smoke size): a check of the script, not a result"
        ),
        "split": {
            "seed": args.seed,
            "full": full_split,
            "train_images": len(data.y_train),
            "val_images": len(data.y_test),
            "subsample": "stratified_subset(seed)" if (args.train_images or args.val_images) else None,
        },
        "budget_seconds": args.budget_seconds,
        "budget_counts": (
            "training time per preset, first step (tracing + compilation) included, evaluation excluded"
        ),
        "backend": keras.backend.backend(),
        "presets": list(runs),
        "unfinished": [spec for spec in args.presets if spec not in runs],
        "runs": runs,
        # first preset's final validation accuracy over the second's
        "accuracy_ratio": round(accuracies[0] / accuracies[1], 3) if len(accuracies) == 2 else None,
        "data_load_seconds": round(load_seconds, 1),
        "wall_time_s": round(time.perf_counter() - started, 1),
        "provenance": provenance,
    }
    name = f"equal_budget_cifar10_{provenance['hardware_tag']}"
    if args.dataset != "cifar10_jpeg":
        name = f"equal_budget_{args.dataset}_{provenance['hardware_tag']}"
    return record, write_json(args.out or result_path(name), record)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget-seconds", type=float, required=True, help="training seconds per preset")
    parser.add_argument("--presets", nargs="+", default=["course_vit", "kerasio_vit"])
    parser.add_argument("--dataset", default="cifar10_jpeg", choices=["cifar10_jpeg", "synthetic10"])
    parser.add_argument("--train-images", type=int, help="stratified subsample of the 45,000 (default: all)")
    parser.add_argument("--val-images", type=int, help="stratified subsample of the 5,000 (default: all)")
    parser.add_argument("--batch-size", type=int, help="default: each preset's own")
    parser.add_argument("--evaluations", type=int, default=8, help="evaluations per budget (default 8)")
    parser.add_argument("--probe-steps", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="default: results/equal_budget_cifar10_<hardware-tag>.json")
    args = parser.parse_args(argv)
    for spec in args.presets:  # a typo fails here, not after an hour of training
        name, overrides, policy = parse_variant(spec)
        get_preset(name, **overrides)
        keras.dtype_policies.get(policy)

    snapshot = machine_snapshot()
    started = time.perf_counter()
    data, full_split = load_split(args.dataset, args.train_images, args.val_images, args.seed)
    load_seconds = time.perf_counter() - started
    print(f"{args.dataset}: {len(data.y_train)} train / {len(data.y_test)} validation images "
          f"(split of {full_split}), loaded in {load_seconds:.0f}s", flush=True)  # fmt: skip
    runs = {}
    for spec in args.presets:
        runs[spec] = run_preset(spec, data, args)
        # written after every preset, so an interrupted run keeps the presets it finished
        record, path = write_record(args, argv, runs, data, full_split, load_seconds, snapshot, started)
    print(f"wrote {path}; ratio {record['accuracy_ratio']}")
    return record


if __name__ == "__main__":
    main()
