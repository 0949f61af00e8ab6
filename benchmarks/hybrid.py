"""A hybrid from scratch: convolutional tokens against linear patches, at the same budget.

    python -m benchmarks.hybrid          # about 15 minutes on a 2-core CPU

The ViT paper's hybrid feeds a transformer the cells of a CNN's feature map
instead of linear patches of pixels; "Early Convolutions Help Transformers See
Better" finds that a small convolutional stem makes ViTs easier to train. This
measures it at CIFAR scale, on real images (the CIFAR-10 JPEG copy in
shared/data), both models trained from scratch:

- ``course_vit``: 4x4 patches of the 32x32 image, 64 tokens, linear projection;
- ``conv_stem_vit``: two stages of conv 3x3 + ReLU + max-pool turn the image
  into an 8x8 map of 128 channels, whose 64 cells are the tokens;

both with 4 transformer blocks, 128-wide tokens and 10 classes. Every model
trains for the **same number of optimizer steps** (``--epochs`` passes over
``--train-images`` images in batches of ``--batch-size``), a budget that a
shared CPU cannot change (their seconds are recorded too). Accuracy is measured
on ``--held-out-images`` images that training never saw, the same ones for every
run; each seed changes the initialisation and the batch order.

All runs use AdamW with a linear warmup (10% of the steps) and a cosine decay
(``vitcourse.training.compile_model``), course_vit's peak learning rate and
weight decay. Writes ``results/hybrid_cifar10_<hardware-tag>.json`` (``--out`` to change).
"""

import argparse
import os
import sys
import time

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras

from benchmarks.common import finish_seeded_record, machine_snapshot, module_command, record_provenance, spread
from vitcourse.data import load_cifar10_jpeg
from vitcourse.presets import build_model, get_preset
from vitcourse.training import compile_model, evaluate

MODELS = ("course_vit", "conv_stem_vit")
OVERRIDES = {"depth": 4, "num_classes": 10}  # the shipped model's size, CIFAR-10's classes


def fit(model, x, y, batch_size, steps, learning_rate, weight_decay):
    """``steps`` optimizer steps on (x, y), reshuffled each pass; returns the last pass's (loss, accuracy)."""
    compile_model(model, learning_rate, weight_decay, total_steps=steps)
    per_pass = len(y) // batch_size
    x, y = x[: per_pass * batch_size], y[: per_pass * batch_size]  # whole batches only: steps are exact
    history = model.fit(x.astype("float32"), y, batch_size=batch_size, epochs=steps // per_pass,
                        shuffle=True, verbose=0)  # fmt: skip
    return history.history["loss"][-1], history.history["accuracy"][-1]



def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-images", type=int, default=10_000)
    parser.add_argument("--held-out-images", type=int, default=2_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=None, help="default: course_vit's")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", help="default: results/hybrid_cifar10_<hardware-tag>.json")
    args = parser.parse_args(argv)
    preset = get_preset("course_vit")
    learning_rate = args.learning_rate or preset.learning_rate
    weight_decay = preset.weight_decay

    snapshot = machine_snapshot()
    started = time.perf_counter()
    total = args.train_images + args.held_out_images
    # a seeded (0), stratified subset of `total` images, split into training and held-out images
    data = load_cifar10_jpeg(val_fraction=args.held_out_images / total, seed=0, limit=total)
    x, y, x_held, y_held = data.x_train, data.y_train, data.x_test, data.y_test
    load_seconds = time.perf_counter() - started
    steps = args.epochs * (len(y) // args.batch_size)
    print(f"cifar10_jpeg: {len(y):,} training / {len(y_held):,} held-out images, loaded in "
          f"{load_seconds:.0f}s; {steps} steps of {args.batch_size} per run", flush=True)  # fmt: skip

    runs = []
    for seed in args.seeds:
        for name in MODELS:  # the two models alternate, so both meet the same load on a shared machine
            keras.utils.set_random_seed(seed)
            model = build_model(name, **OVERRIDES)
            run_started = time.perf_counter()
            loss, accuracy = fit(model, x, y, args.batch_size, steps, learning_rate, weight_decay)
            seconds = time.perf_counter() - run_started
            held_out = evaluate(model, x_held, y_held)["accuracy"]
            print(f"seed={seed} {name:<14} held-out accuracy {held_out:.3f} "
                  f"(train {accuracy:.3f}, {seconds:.0f}s)", flush=True)  # fmt: skip
            runs.append({
                "model": name, "seed": seed, "parameters": model.count_params(),
                "steps": steps, "train_seconds": round(seconds, 1),
                "final_train_loss": round(loss, 4), "final_train_accuracy": round(accuracy, 4),
                "held_out_accuracy": held_out,
            })  # fmt: skip

    summary = {}
    for name in MODELS:
        mine = [run for run in runs if run["model"] == name]
        summary[name] = {
            **spread([run["held_out_accuracy"] for run in mine]),
            "parameters": mine[0]["parameters"],
            "train_seconds": spread([run["train_seconds"] for run in mine], digits=1),
        }
    provenance = record_provenance(module_command("benchmarks.hybrid", argv), snapshot)
    record = {
        "benchmark": "hybrid",
        "dataset": "cifar10_jpeg",
        "dataset_description": (
            f"CIFAR-10 (JPEG copy, quality 75) from shared/data: a seeded (seed=0) stratified subset "
            f"of {total:,} of its 50,000 training images, split (stratified, seed=0) into "
            f"{len(y):,} training and {len(y_held):,} held-out images"
        ),
        "models": {name: f"{name}, depth=4, 10 classes" for name in MODELS},
        "train_images": len(y),
        "held_out_images": len(y_held),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "steps": steps,
        "equal_budget": f"{steps} optimizer steps of {args.batch_size} images for every run",
        "schedule": (
            f"AdamW, peak learning rate {learning_rate:g}, weight decay {weight_decay:g}, "
            "linear warmup over 10% of the steps, then cosine to 0"
        ),
        "seeds": args.seeds,
        "seed_controls": "the model's initialisation, the batch order, the augmentation's random flips and shifts",
        "runs": runs,
        "summary": summary,
    }
    return finish_seeded_record(record, "hybrid_cifar10", args.out, started, load_seconds, provenance)


if __name__ == "__main__":
    main()
