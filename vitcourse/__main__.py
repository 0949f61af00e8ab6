"""The command line: train a preset on a dataset and record the result with its provenance.

    python -m vitcourse presets
    python -m vitcourse train --preset course_vit --dataset cifar10 --mode quick --out runs/course_vit

``train`` writes ``metrics.json`` (history, final and best accuracy, parameter
count, wall time, provenance), ``history.json`` and ``best.keras`` into
``--out``. Run the same command again after an interruption (Ctrl-C exits with
code 130 and says so) and it continues from the last finished epoch. It refuses
an ``--out`` folder holding files it did not write, a finished run, or a run
with other settings; ``--overwrite`` replaces an earlier run of its own.
"""

import argparse
import ast
import os
import sys
import time
from pathlib import Path

from vitcourse.config import MODES

# Share of the training images held out to pick the best checkpoint; the test split stays unseen.
VAL_FRACTION = 0.1


def _override(text):
    """``key=value`` -> (key, value); the value is a Python literal or else a string."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    try:
        value = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        pass  # a bare word such as gap or learned
    return key.strip(), value


def _seed(text):
    """A seed for numpy and Keras: a whole number >= 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0 (e.g. --seed 42), got {text!r}")
    return value


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m vitcourse",
        description="Vision Transformers with Keras: train the course's models from the command line.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    listing = commands.add_parser("presets", help="list the model presets with their parameter counts")
    listing.set_defaults(run=_presets)

    train = commands.add_parser(
        "train",
        help="train a preset on a dataset; writes metrics.json",
        description="Train a preset on a dataset. Rerun the same command to resume an interrupted run.",
    )
    train.add_argument("--preset", required=True, help="preset name (see: python -m vitcourse presets)")
    train.add_argument("--dataset", required=True, help="dataset name, e.g. cifar10, cifar100, synthetic10")
    train.add_argument(
        "--mode",
        choices=MODES,
        help="run size: smoke, quick or full (default: $VITCOURSE_MODE, else full with a GPU, quick without)",
    )
    train.add_argument("--epochs", type=int, help="default: the preset's in full mode, the mode's otherwise")
    train.add_argument("--batch-size", type=int, help="default: the preset's in full mode, the mode's otherwise")
    train.add_argument("--learning-rate", type=float, help="peak learning rate (default: the preset's)")
    train.add_argument("--weight-decay", type=float, help="AdamW weight decay (default: the preset's)")
    train.add_argument(
        "--seed", type=_seed, default=0, help="seed (>= 0) for data sampling, initialisation and shuffling"
    )
    train.add_argument(
        "--set",
        dest="overrides",
        metavar="KEY=VALUE",
        type=_override,
        action="append",
        default=[],
        help="override a preset field, e.g. --set depth=2 --set mlp_units='(64, 32)' (repeatable)",
    )
    train.add_argument("--out", help="output folder (default: runs/PRESET-DATASET-MODE)")
    train.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an earlier run in --out (only the files training wrote) instead of refusing",
    )
    train.add_argument(
        "--data-parallel",
        action="store_true",
        help="train on all local GPUs at once (Keras' DataParallel on JAX, MirroredStrategy on "
        "TensorFlow); the default batch size and learning rate are multiplied by the number of devices",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.set_defaults(run=_train)
    return parser


def _fail(message):
    print(f"python -m vitcourse: error: {message}", file=sys.stderr)
    return 2


def _presets(args):
    from vitcourse.presets import build_model, get_preset, list_presets

    rows = []
    for name in list_presets():
        preset = get_preset(name)
        parameters = build_model(name).count_params()
        rows.append((name, f"{parameters:,}", "x".join(map(str, preset.input_shape)), preset.source))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    print(f"{'preset':<{widths[0]}}  {'parameters':>{widths[1]}}  {'input':<{widths[2]}}  source")
    for name, parameters, shape, source in rows:
        print(f"{name:<{widths[0]}}  {parameters:>{widths[1]}}  {shape:<{widths[2]}}  {source}")
    return 0


def _train(args):
    start = time.perf_counter()
    from vitcourse.config import run_mode, run_size

    mode = args.mode or run_mode()
    os.environ["VITCOURSE_MODE"] = mode  # so everything below, provenance included, agrees
    size = run_size(mode)

    import keras

    from vitcourse.presets import build_model, get_preset
    from vitcourse.provenance import provenance, write_json
    from vitcourse.training import OutDirError, evaluate, most_confused, resume_info, train

    overrides = dict(args.overrides)
    try:
        preset = get_preset(args.preset, **overrides)  # checks names before loading any data
    except (ValueError, TypeError) as error:
        return _fail(error)
    from vitcourse.data import DATASET_NAMES, DataUnavailableError, load_dataset

    if args.dataset not in DATASET_NAMES:
        return _fail(f"Unknown dataset {args.dataset!r}. Choose one of: {', '.join(DATASET_NAMES)}.")
    try:
        data = load_dataset(args.dataset, mode=mode, seed=args.seed)
    except (DataUnavailableError, FileNotFoundError, ValueError) as error:  # offline, missing or corrupted file
        print(f"python -m vitcourse: cannot load {args.dataset!r}: {error}", file=sys.stderr)
        return 1

    # The preset is built for the data: its classes, and its image shape when they differ
    # (digits are 16x16, most presets expect 32x32).
    overrides["num_classes"] = len(data.label_names)
    image_shape = tuple(int(d) for d in data.x_train.shape[1:])
    if image_shape != tuple(preset.input_shape):
        overrides["input_shape"] = image_shape
    keras.utils.set_random_seed(args.seed)
    try:
        model = build_model(args.preset, **overrides)
    except (ValueError, TypeError) as error:
        return _fail(f"cannot build {args.preset!r} for {args.dataset!r}: {error}")

    full = mode == "full"
    # Data-parallel: each device takes the usual batch, so the global batch and (linearly,
    # Goyal et al. 2017) the learning rate grow with the number of devices, unless given.
    devices = 1
    if args.data_parallel:
        from vitcourse.distribute import accelerators

        devices = len(accelerators())
    epochs = args.epochs if args.epochs is not None else (preset.epochs if full else size.epochs)
    batch_size = args.batch_size if args.batch_size is not None else devices * (preset.batch_size if full else size.batch_size)
    learning_rate = devices * preset.learning_rate if args.learning_rate is None else args.learning_rate
    weight_decay = preset.weight_decay if args.weight_decay is None else args.weight_decay
    if epochs < 1 or batch_size < 1:
        return _fail(f"--epochs and --batch-size must be >= 1 (got {epochs} and {batch_size}).")
    out_dir = Path(args.out or Path("runs") / f"{args.preset}-{args.dataset}-{mode}")
    print(
        f"Training {args.preset} ({model.count_params():,} parameters) on {args.dataset} "
        f"({len(data.x_train)} training, {len(data.x_test)} test images, mode {mode}): "
        f"{epochs} epoch(s) of batch size {batch_size}."
    )
    if args.data_parallel:
        print(f"Data-parallel on {devices} device(s): {batch_size // devices} images per device, learning rate {learning_rate:g}.")

    try:
        result = train(
            model,
            data,
            out_dir,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            from_logits=preset.output_activation != "softmax",
            verbose=0 if args.quiet else "auto",
            seed=args.seed,
            val_fraction=VAL_FRACTION,
            overwrite=args.overwrite,
            # what identifies the run: resuming with other values is refused
            run_info={"preset": args.preset, "overrides": overrides, "dataset": args.dataset, "mode": mode},
            data_parallel=args.data_parallel,
        )
    except OutDirError as error:
        return _fail(error)
    except FloatingPointError as error:  # the loss became NaN
        print(f"python -m vitcourse: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        resume = resume_info(out_dir)
        if resume["can_resume"]:
            where = f"at epoch {resume['next_epoch']} of {epochs} (the state is saved in {out_dir / 'backup'})"
        else:
            where = "from epoch 1 (no epoch had finished)"
        print(f"\nInterrupted. Run the same command again to resume {where}.", file=sys.stderr)
        return 130
    model = result.model  # with --data-parallel, the copy that was trained on every device
    final = evaluate(model, data.x_test, data.y_test, batch_size=batch_size)
    metrics = {
        "preset": args.preset,
        "dataset": args.dataset,
        "mode": mode,
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "weight_decay": weight_decay,
        "seed": args.seed,
        "devices": devices,
        "overrides": overrides,
        "train_images": len(data.x_train) - round(len(data.x_train) * VAL_FRACTION),
        "val_images": round(len(data.x_train) * VAL_FRACTION),
        "test_images": len(data.x_test),
        "num_classes": len(data.label_names),
        "parameters": model.count_params(),
        "history": result.history,
        "final_test_accuracy": final["accuracy"],
        "final_test_top5_accuracy": final["top5_accuracy"],
        "best_val_accuracy": result.best_val_accuracy,
        "most_confused": most_confused(data.y_test, final["predictions"], list(data.label_names), k=10),
        "resumed_from_epoch": result.initial_epoch,
        # training time summed over resumed calls, and this command's whole wall time
        "train_time_s": (result.history.get("elapsed_s") or [None])[-1],
        "wall_time_s": time.perf_counter() - start,
        "provenance": provenance(["python", "-m", "vitcourse", *args.argv]),
    }
    write_json(out_dir / "metrics.json", metrics)
    top5 = "" if final["top5_accuracy"] is None else f", top-5 {final['top5_accuracy']:.3f}"
    print(
        f"Final test accuracy {final['accuracy']:.3f}{top5} (best validation accuracy {result.best_val_accuracy or 0:.3f}) "
        f"after {metrics['wall_time_s']:.0f} s."
    )
    resumed = f" (resumed at epoch {result.initial_epoch + 1})" if result.initial_epoch else ""
    print(f"Results in {out_dir}/: metrics.json, history.json, best.keras{resumed}")
    return 0


def main(argv=None):
    """Runs the command line; returns the exit code (2 for a usage error, 130 after Ctrl-C)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser().parse_args(argv)
    args.argv = argv
    try:
        return args.run(args)
    except KeyboardInterrupt:  # before training started (loading data, building the model)
        print("\nInterrupted before training started; nothing was saved.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
