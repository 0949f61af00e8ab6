"""Weight averaging as the pet breeds write-up does it: the three best checkpoints of one run.

    python -m benchmarks.weight_averaging      # about 8-10 minutes on a 2-core CPU

For each seed, ``course_vit`` (4 blocks) trains on a stratified subset of the
CIFAR-10 JPEG copy (``--train-images``, 5,000 by default) for ``--epochs``
epochs, and its weights are kept after every epoch. The schedule is the
write-up's step decay, in Keras terms: the learning rate is multiplied by 0.7
every ``--decay-epochs`` epochs (``ExponentialDecay(..., staircase=True)``), with
AdamW instead of the write-up's SGD (a ViT trained from scratch needs Adam).
Then, on held-out images of the copy's validation split:

- ``best single``: the checkpoint with the best accuracy on 1,000 *selection* images;
- ``average of 3 best``: the mean of the weights of the three checkpoints that
  are best on the selection images (the write-up's recipe);
- ``average of last 3``: the mean of the last three epochs' weights;
- ``last epoch``: the final weights;

all measured on 2,000 *report* images, which neither training nor the choice of
checkpoints saw. Finally the last weights of two separately trained models
(seeds ``a`` and ``b``) are averaged, which should fail (different basins).
Writes ``results/weight_averaging_cifar10_<hardware-tag>.json``.
"""

import argparse
import itertools
import math
import os
import statistics
import sys
import time

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras

from benchmarks.common import finish_seeded_record, machine_snapshot, module_command, record_provenance, spread
from vitcourse.data import load_cifar10_jpeg, stratified_subset
from vitcourse.finetune import average_weights
from vitcourse.presets import build_model
from vitcourse.training import evaluate

OVERRIDES = {"depth": 4}
METHODS = ("best single", "average of 3 best", "average of last 3", "last epoch")


class KeepWeights(keras.callbacks.Callback):
    """Keeps a copy of the model's weights after every epoch (checkpoints in memory)."""

    def on_train_begin(self, logs=None):
        self.checkpoints = []

    def on_epoch_end(self, epoch, logs=None):
        self.checkpoints.append(self.model.get_weights())


def accuracy(model, weights, x, y):
    model.set_weights(weights)
    return evaluate(model, x, y)["accuracy"]


def train_run(seed, x, y, args):
    keras.utils.set_random_seed(seed)
    model = build_model("course_vit", num_classes=10, **OVERRIDES)
    steps_per_epoch = math.ceil(len(y) / args.batch_size)
    schedule = keras.optimizers.schedules.ExponentialDecay(
        args.learning_rate, decay_steps=args.decay_epochs * steps_per_epoch, decay_rate=0.7, staircase=True
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=schedule, weight_decay=args.weight_decay),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    keep = KeepWeights()
    started = time.perf_counter()
    history = model.fit(x.astype("float32"), y, batch_size=args.batch_size, epochs=args.epochs,
                        shuffle=True, callbacks=[keep], verbose=0)  # fmt: skip
    return model, keep.checkpoints, history.history, time.perf_counter() - started


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-images", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=0.05)
    parser.add_argument("--decay-epochs", type=int, default=2, help="x0.7 every this many epochs")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--select-images", type=int, default=1000)
    parser.add_argument("--report-images", type=int, default=2000)
    parser.add_argument("--limit", type=int, help="read only this many images (a quick check of the script)")
    parser.add_argument("--out", help="default: results/weight_averaging_cifar10_<hardware-tag>.json")
    args = parser.parse_args(argv)

    snapshot = machine_snapshot()
    started = time.perf_counter()
    data = load_cifar10_jpeg(val_fraction=0.1, seed=0, limit=args.limit)
    load_seconds = time.perf_counter() - started
    x, y = stratified_subset(data.x_train, data.y_train, min(args.train_images, len(data.y_train)), seed=0)
    held_x, held_y = stratified_subset(data.x_test, data.y_test, min(args.select_images + args.report_images,
                                                                     len(data.y_test)), seed=0)  # fmt: skip
    select_x, select_y = held_x[: args.select_images], held_y[: args.select_images]
    report_x, report_y = held_x[args.select_images :], held_y[args.select_images :]
    print(f"{len(y)} training images; {len(select_y)} selection and {len(report_y)} report images", flush=True)

    runs, finals, model = [], {}, None
    for seed in args.seeds:
        model, checkpoints, history, seconds = train_run(seed, x, y, args)
        select = [accuracy(model, w, select_x, select_y) for w in checkpoints]
        report = [accuracy(model, w, report_x, report_y) for w in checkpoints]
        best = sorted(range(len(checkpoints)), key=lambda i: -select[i])[:3]  # epochs, best first
        candidates = {
            "best single": checkpoints[best[0]],
            "average of 3 best": average_weights([checkpoints[i] for i in best]),
            "average of last 3": average_weights(checkpoints[-3:]),
            "last epoch": checkpoints[-1],
        }
        results = {name: accuracy(model, w, report_x, report_y) for name, w in candidates.items()}
        finals[seed] = checkpoints[-1]
        print(f"seed {seed} ({seconds:.0f}s): " + ", ".join(f"{k} {v:.3f}" for k, v in results.items()), flush=True)
        runs.append({
            "seed": seed, "train_seconds": round(seconds, 1),
            "epoch_select_accuracy": select, "epoch_report_accuracy": report,
            "train_accuracy": [round(a, 4) for a in history["accuracy"]],
            "best_epochs": [i + 1 for i in best],
            "report_accuracy": results,
        })  # fmt: skip

    across = []
    for a, b in itertools.combinations(args.seeds, 2):
        mixed = accuracy(model, average_weights([finals[a], finals[b]]), report_x, report_y)
        alone = [accuracy(model, finals[s], report_x, report_y) for s in (a, b)]
        print(f"seeds {a} and {b} averaged: {mixed:.3f} (alone {alone[0]:.3f}, {alone[1]:.3f})", flush=True)
        across.append({"seeds": [a, b], "report_accuracy": mixed, "alone": alone})

    summary = {}
    for name in METHODS:
        values = [run["report_accuracy"][name] for run in runs]
        summary[name] = spread(values)
    values = [row["report_accuracy"] for row in across]
    summary["average of two separate runs"] = {
        "mean": round(statistics.mean(values), 4) if values else None,
        "stdev": round(statistics.stdev(values), 4) if len(values) > 1 else None,
        "min": min(values, default=None), "max": max(values, default=None), "pairs": len(values),
    }  # fmt: skip
    steps_per_epoch = math.ceil(len(y) / args.batch_size)
    provenance = record_provenance(module_command("benchmarks.weight_averaging", argv), snapshot)
    record = {
        "benchmark": "weight_averaging",
        "dataset": "cifar10_jpeg",
        "dataset_description": (
            "CIFAR-10 (JPEG copy, quality 75) from shared/data, seeded (0) stratified 45,000/5,000 "
            f"train/validation split; {len(y)} training images (stratified_subset, seed=0); from the "
            f"validation split, {len(select_y)} images choose the checkpoints and {len(report_y)} others "
            "measure them" + (f"; only {args.limit} images read (a check of the script)" if args.limit else "")
        ),
        "model": "course_vit, depth=4, 10 classes",
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "steps_per_epoch": steps_per_epoch,
        "schedule": (
            f"AdamW(weight_decay={args.weight_decay}), learning rate {args.learning_rate} x0.7 every "
            f"{args.decay_epochs} epochs: ExponentialDecay({args.learning_rate}, decay_steps="
            f"{args.decay_epochs * steps_per_epoch}, decay_rate=0.7, staircase=True)"
        ),
        "checkpoints": "the weights after every epoch",
        "seeds": args.seeds,
        "seed_controls": "initialisation, augmentation and batch order (the training subset is the same)",
        "runs": runs,
        "across_runs": across,
        "summary": summary,
    }
    return finish_seeded_record(record, "weight_averaging_cifar10", args.out, started, load_seconds, provenance)


if __name__ == "__main__":
    main()
