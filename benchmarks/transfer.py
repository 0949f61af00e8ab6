"""Transfer in miniature: pretrain on five CIFAR-10 classes, fine-tune on the other five.

    python -m benchmarks.transfer          # about 10-12 minutes on a 2-core CPU

The pet breeds write-up fine-tunes an ImageNet ViT on 37 pet breeds. This is the
same experiment small enough for a CPU, measured on real images (the CIFAR-10
JPEG copy in shared/data, its seeded 45,000/5,000 train/validation split):

1. **pretrain** ``course_vit`` (4 blocks, as the shipped model) on the training
   images of classes 0-4 (airplane, automobile, bird, cat, deer);
2. on classes 5-9 (dog, frog, horse, ship, truck), with only ``--per-class``
   training images each (500 in all, a stratified subset drawn with each seed),
   train three models for the **same number of optimizer steps**:

   - ``fine-tune``: the pretrained model with a new 5-class head, every layer
     trained, with a smaller peak learning rate;
   - ``linear probe``: the pretrained model with a new head, the backbone frozen
     (only the head's 645 parameters train);
   - ``from scratch``: the same architecture, randomly initialised;

3. measure each on the held-out validation images of classes 5-9 (2,500), which
   neither pretraining nor fine-tuning saw; repeat step 2 for each seed.

All runs use AdamW with a linear warmup (10% of the steps) and a cosine decay
(``vitcourse.training.compile_model``). Writes
``results/transfer_cifar10_<hardware-tag>.json`` (``--out`` to change).
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras
import numpy as np

from benchmarks.common import finish_seeded_record, machine_snapshot, module_command, record_provenance, spread
from vitcourse.data import CIFAR10_LABELS, load_cifar10_jpeg, stratified_subset
from vitcourse.finetune import freeze_backbone, parameter_counts, replace_head
from vitcourse.presets import build_model
from vitcourse.training import compile_model, evaluate

SOURCE_CLASSES = (0, 1, 2, 3, 4)
TARGET_CLASSES = (5, 6, 7, 8, 9)
OVERRIDES = {"depth": 4}  # the shipped model's size
WEIGHT_DECAY = 0.05  # course_vit's own


def classes(x, y, wanted):
    """The images of the ``wanted`` classes, relabelled 0, 1, ... in that order."""
    keep = np.isin(y, wanted)
    relabel = np.full(int(y.max()) + 1, -1)
    relabel[list(wanted)] = np.arange(len(wanted))
    return x[keep], relabel[y[keep]]


def fit(model, x, y, batch_size, steps, learning_rate, weight_decay):
    """``steps`` optimizer steps on (x, y), reshuffled each pass; returns the last pass's (loss, accuracy)."""
    compile_model(model, learning_rate, weight_decay, total_steps=steps)
    per_pass = len(y) // batch_size
    x, y = x[: per_pass * batch_size], y[: per_pass * batch_size]  # whole batches only: steps are exact
    history = model.fit(x.astype("float32"), y, batch_size=batch_size, epochs=steps // per_pass,
                        shuffle=True, verbose=0)  # fmt: skip
    return history.history["loss"][-1], history.history["accuracy"][-1]


def pretrain(data, args, folder):
    """course_vit trained on classes 0-4; saved to ``folder``; returns its record."""
    x, y = classes(data.x_train, data.y_train, SOURCE_CLASSES)
    x_val, y_val = classes(data.x_test, data.y_test, SOURCE_CLASSES)
    keras.utils.set_random_seed(args.pretrain_seed)
    model = build_model("course_vit", num_classes=len(SOURCE_CLASSES), **OVERRIDES)
    steps = args.pretrain_epochs * (len(y) // args.pretrain_batch_size)
    started = time.perf_counter()
    loss, accuracy = fit(model, x, y, args.pretrain_batch_size, steps, args.pretrain_learning_rate, WEIGHT_DECAY)
    seconds = time.perf_counter() - started
    model.save(folder / "pretrained.keras")
    held_out = evaluate(model, x_val, y_val)["accuracy"]
    print(f"pretrained on {len(y):,} images of classes 0-4, {steps} steps in {seconds:.0f}s: "
          f"held-out accuracy {held_out:.3f}", flush=True)  # fmt: skip
    return {
        "classes": [CIFAR10_LABELS[c] for c in SOURCE_CLASSES],
        "train_images": len(y),
        "held_out_images": len(y_val),
        "epochs": args.pretrain_epochs,
        "batch_size": args.pretrain_batch_size,
        "steps": steps,
        "learning_rate": args.pretrain_learning_rate,
        "weight_decay": WEIGHT_DECAY,
        "seed": args.pretrain_seed,
        "train_seconds": round(seconds, 1),
        "final_train_loss": round(loss, 4),
        "final_train_accuracy": round(accuracy, 4),
        "held_out_accuracy": held_out,
    }


def downstream_model(method, seed, folder):
    keras.utils.set_random_seed(seed)
    if method == "from scratch":
        return build_model("course_vit", num_classes=len(TARGET_CLASSES), **OVERRIDES)
    pretrained = keras.saving.load_model(folder / "pretrained.keras")  # a fresh copy for every run
    model = replace_head(pretrained, len(TARGET_CLASSES))
    if method == "linear probe":
        freeze_backbone(model)
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-class", type=int, default=100, help="training images per target class")
    parser.add_argument("--steps", type=int, default=250, help="optimizer steps of every downstream run")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--pretrain-epochs", type=int, default=2)
    parser.add_argument("--pretrain-batch-size", type=int, default=128)
    parser.add_argument("--pretrain-learning-rate", type=float, default=1e-3)
    parser.add_argument("--pretrain-seed", type=int, default=0)
    parser.add_argument("--learning-rates", type=float, nargs=3, default=[3e-4, 3e-3, 1e-3],
                        metavar=("FINE_TUNE", "PROBE", "SCRATCH"))  # fmt: skip
    parser.add_argument("--limit", type=int, help="read only this many images (a quick check of the script)")
    parser.add_argument("--out", help="default: results/transfer_cifar10_<hardware-tag>.json")
    args = parser.parse_args(argv)
    learning_rates = dict(zip(("fine-tune", "linear probe", "from scratch"), args.learning_rates))

    snapshot = machine_snapshot()
    started = time.perf_counter()
    data = load_cifar10_jpeg(val_fraction=0.1, seed=0, limit=args.limit)
    load_seconds = time.perf_counter() - started
    x_target, y_target = classes(data.x_train, data.y_train, TARGET_CLASSES)
    x_val, y_val = classes(data.x_test, data.y_test, TARGET_CLASSES)
    print(f"cifar10_jpeg: {len(data.y_train):,} train / {len(data.y_test):,} validation images, "
          f"loaded in {load_seconds:.0f}s", flush=True)  # fmt: skip

    folder = Path(tempfile.mkdtemp(prefix="vitcourse-transfer-"))
    source = pretrain(data, args, folder)
    runs = []
    for seed in args.seeds:
        x, y = stratified_subset(x_target, y_target, args.per_class * len(TARGET_CLASSES), seed)
        for method, learning_rate in learning_rates.items():
            model = downstream_model(method, seed, folder)
            trainable, frozen = parameter_counts(model)
            run_started = time.perf_counter()
            loss, accuracy = fit(model, x, y, args.batch_size, args.steps, learning_rate, WEIGHT_DECAY)
            seconds = time.perf_counter() - run_started
            held_out = evaluate(model, x_val, y_val)["accuracy"]
            print(f"seed {seed} {method:<13} held-out accuracy {held_out:.3f} "
                  f"(train {accuracy:.3f}, {seconds:.0f}s)", flush=True)  # fmt: skip
            runs.append({
                "method": method, "seed": seed, "learning_rate": learning_rate,
                "trainable_parameters": trainable, "frozen_parameters": frozen,
                "steps": args.steps, "train_seconds": round(seconds, 1),
                "final_train_loss": round(loss, 4), "final_train_accuracy": round(accuracy, 4),
                "held_out_accuracy": held_out,
            })  # fmt: skip

    summary = {}
    for method in learning_rates:
        values = [run["held_out_accuracy"] for run in runs if run["method"] == method]
        summary[method] = spread(values)
    provenance = record_provenance(module_command("benchmarks.transfer", argv), snapshot)
    record = {
        "benchmark": "transfer",
        "dataset": "cifar10_jpeg",
        "dataset_description": (
            "CIFAR-10 (JPEG copy, quality 75) from shared/data: seeded (0) stratified 45,000/5,000 "
            "train/validation split of the 50,000 training images; held-out = the validation images"
            + (f"; only {args.limit} images read (a check of the script, not a result)" if args.limit else "")
        ),
        "model": "course_vit, depth=4 (the shipped model's size), 5-class head",
        "pretraining": source,
        "target_classes": [CIFAR10_LABELS[c] for c in TARGET_CLASSES],
        "target_train_images": args.per_class * len(TARGET_CLASSES),
        "target_subset": "stratified_subset(images of classes 5-9, 500, seed): a new subset per seed",
        "held_out_images": len(y_val),
        "equal_budget": f"{args.steps} optimizer steps of {args.batch_size} images for every method",
        "schedule": "AdamW, weight decay 0.05, linear warmup over 10% of the steps, then cosine to 0",
        "learning_rates": learning_rates,
        "seeds": args.seeds,
        "seed_controls": "the 500-image subset, the new head's (or the whole model's) initialisation, the batch order",
        "runs": runs,
        "summary": summary,
    }
    return finish_seeded_record(record, "transfer_cifar10", args.out, started, load_seconds, provenance)


if __name__ == "__main__":
    main()
