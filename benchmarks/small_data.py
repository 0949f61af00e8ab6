"""Chapter 07's recorded runs: ViTs trained on 5,000 CIFAR-10 JPEGs.

    python -m benchmarks.small_data ablation   # plain ViT, SPT, LSA, both, conv tokenizer x 3 seeds
    python -m benchmarks.small_data ladder     # the 2x2 patches project fixed step by step
    python -m benchmarks.small_data sweep      # its L x D sweep, original and fixed

All three train on the same 5,000 images, a stratified subset of the training
part of the CIFAR-10 JPEG copy, and measure accuracy on the same held-out images
of its validation part (neither seen in training nor used to choose anything).
Images go in as pixel values 0-255, as the presets take them.

- ``ladder``: each step of :data:`vitcourse.small_data.LADDER` trains for the
  same wall-clock budget (``--budget-seconds``, after its first, compiling step), as a laptop
  reader would: cheaper models get more steps. The steps and epochs each got are
  recorded, with the machine's contention. The warmup + cosine schedule is
  planned for the steps a short probe says fit in the budget. Batches of 512 (the
  project's) are made of 8 accumulated micro-batches of 64 (Keras's
  ``gradient_accumulation_steps``): the same update; a batch of 512 through 8 blocks
  of 256-token attention ran out of memory on the 2-core machine.
- ``sweep``: the project's L x D grid with the project's head, tokens and
  optimiser ("original") and with the fixes ("fixed": GAP head, learned
  positions, 4x4 square patches, AdamW + cosine); ``--epochs`` gives one count
  per setting (or one for both); plus the parameter counts of the project's
  full grid (L = 2..8, D = 10..128). Each finished cell is kept in
  ``_build/small_data_sweep_progress.json``: the same command, run again after
  an interruption, goes on from there.
- ``ablation``: the five tokenizer/attention variants of
  :data:`vitcourse.small_data.ABLATION` at equal optimizer steps, over seeds.

Writes ``results/small_data_<command>_<hardware-tag>.json``.
"""

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras

from benchmarks.common import contention, machine_snapshot, module_command, record_provenance, result_path, spread
from vitcourse.data import load_cifar10_jpeg, stratified_subset
from vitcourse.presets import build_model
from vitcourse.provenance import write_json
from vitcourse.small_data import (
    ABLATION,
    ABLATION_BASE,
    LADDER,
    MICRO_BATCH,
    SWEEP_SETTINGS,
    compile_for,
    run_ladder_step,
    sweep,
    sweep_overrides,
    train_steps,
)
from vitcourse.training import evaluate

# The sweep's epochs per cell: the original's one epoch is its 10 steps of 512; the fixed setting's steps of
# 64 are cheaper: in the recorded sweep its three epochs took less training time than one original epoch,
# in every cell.
SWEEP_EPOCHS = {"original": 1, "fixed": 3}
PROGRESS = Path(__file__).resolve().parents[1] / "_build" / "small_data_sweep_progress.json"


def load_data(args):
    """The 5,000 training images and the held-out images, the same for every command."""
    data = load_cifar10_jpeg(val_fraction=0.3, seed=0, limit=args.limit)
    x, y = stratified_subset(data.x_train, data.y_train, min(args.train_images, len(data.y_train)), seed=0)
    hx, hy = stratified_subset(data.x_test, data.y_test, min(args.held_out_images, len(data.y_test)), seed=0)
    description = (
        f"CIFAR-10 (JPEG copy): {len(y):,} training images, a stratified subset (seed=0) of the training part "
        f"of a stratified 70/30 split of {args.limit:,} images of the copy; accuracy on {len(hy):,} held-out "
        "images of its 30% part"
    )
    print(description, flush=True)
    return x.astype("float32"), y, hx.astype("float32"), hy, description


def held_out(model, hx, hy):
    return round(evaluate(model, hx, hy, batch_size=256)["accuracy"], 4)


def run_ladder(args, x, y, hx, hy):
    steps_out = []
    for index, (name, change, overrides, optimiser, batch_size) in enumerate(LADDER):
        snapshot = machine_snapshot()
        model, run = run_ladder_step(index, x, y, args.budget_seconds)
        row = {
            "step": name, "change": change, "overrides": {k: list(v) if isinstance(v, tuple) else v
                                                           for k, v in overrides.items()},
            "optimiser": optimiser, "batch_size": batch_size, "parameters": int(model.count_params()),
            "accumulation": run["accumulation"], "planned_steps": run["planned_steps"], "steps": run["steps"],
            "epochs": run["epochs"],
            "train_seconds": run["seconds"], "first_step_seconds": run["first_step_seconds"],
            "images_per_second": run["images_per_second"],
            "final_train_accuracy": round(run["final_accuracy"], 4),
            "held_out_accuracy": held_out(model, hx, hy), "contention": contention(snapshot),
        }  # fmt: skip
        print(row, flush=True)
        steps_out.append(row)
        keras.backend.clear_session()
    original = steps_out[0]
    seconds_per_original_step = 512 / original["images_per_second"] if original["images_per_second"] else None
    original_steps = 20 * math.ceil(len(y) / 512)
    return {
        "budget_seconds": args.budget_seconds,
        "steps": steps_out,
        "original_recipe": {
            "epochs": 20, "batch_size": 512, "steps": original_steps,
            "estimated_seconds_here": round(original_steps * seconds_per_original_step) if seconds_per_original_step else None,
        },  # fmt: skip
    }


def sweep_epochs(settings, counts=None):
    """``{setting: epochs}`` from ``--epochs``: none (the defaults), one count for all, or one per setting."""
    counts = counts or [SWEEP_EPOCHS[setting] for setting in settings]
    if len(counts) not in (1, len(settings)):
        raise SystemExit(f"--epochs takes one count, or one per setting of {settings}; got {counts}")
    return dict(zip(settings, counts * len(settings) if len(counts) == 1 else counts))


def read_progress():
    """The cells an interrupted sweep finished (``{}`` when there is none)."""
    if not PROGRESS.exists():
        return {}
    try:
        return json.loads(PROGRESS.read_text())
    except json.JSONDecodeError as error:
        raise SystemExit(f"{PROGRESS} is not readable JSON ({error}); delete it to start the sweep afresh") from None


def run_sweep(args, x, y, hx, hy):
    """Each finished cell is also kept in PROGRESS, so that an interrupted sweep resumes where it stopped."""
    epochs = sweep_epochs(args.settings, args.epochs)
    done = read_progress()
    settings = {}
    for setting in args.settings:
        base, optimiser, batch_size = SWEEP_SETTINGS[setting]
        steps = epochs[setting] * math.ceil(len(y) / batch_size)

        accumulation = max(1, batch_size // MICRO_BATCH)  # 512 as 8 x 64: the memory of 64

        def cell(depth, dim):
            key = f"{setting}, {epochs[setting]} epoch(s), {len(y)}/{len(hy)} images: L={depth}, D={dim}"
            if key in done:  # measured by an interrupted run of the same sweep
                print(setting, depth, dim, done[key], "(from", PROGRESS, ")", flush=True)
                return done[key]
            keras.utils.set_random_seed(0)
            model = build_model("patches2x2_cifar10", **sweep_overrides(depth, dim, **base))
            compile_for(model, optimiser, total_steps=steps, accumulation=accumulation)
            run = train_steps(model, x, y, steps * accumulation, batch_size // accumulation, seed=0)
            out = {"parameters": int(model.count_params()), "held_out_accuracy": held_out(model, hx, hy),
                   "train_seconds": run["seconds"], "final_train_accuracy": round(run["final_accuracy"], 4)}  # fmt: skip
            print(setting, depth, dim, out, flush=True)
            keras.backend.clear_session()
            done[key] = out
            write_json(PROGRESS, done)
            return out

        snapshot = machine_snapshot()
        cells = sweep(args.depths, args.dims, cell)
        settings[setting] = {"optimiser": optimiser, "epochs": epochs[setting], "batch_size": batch_size, "steps": steps,
                             "accumulation": accumulation,
                             "overrides": {k: list(v) if isinstance(v, tuple) else v for k, v in base.items()},
                             "cells": cells, "contention": contention(snapshot)}  # fmt: skip

    from vitcourse.small_data import sweep_parameters

    full_grid = sweep_parameters(range(2, 9), args.count_dims)
    PROGRESS.unlink(missing_ok=True)
    return {"settings": settings, "parameters_full_grid": full_grid}


def run_ablation(args, x, y, hx, hy):
    steps = args.epochs * math.ceil(len(y) / args.batch_size)
    runs = []
    for seed in args.seeds:
        for name, overrides in ABLATION:
            keras.utils.set_random_seed(seed)
            model = build_model("course_vit", **ABLATION_BASE, **overrides)
            compile_for(model, "adamw_cosine", total_steps=steps, learning_rate=args.learning_rate)
            run = train_steps(model, x, y, steps, args.batch_size, seed=seed)
            row = {"variant": name, "seed": seed, "parameters": int(model.count_params()),
                   "held_out_accuracy": held_out(model, hx, hy), "train_seconds": run["seconds"],
                   "final_train_accuracy": round(run["final_accuracy"], 4)}  # fmt: skip
            print(row, flush=True)
            runs.append(row)
            keras.backend.clear_session()
    summary = {}
    for name, _ in ABLATION:
        values = [r["held_out_accuracy"] for r in runs if r["variant"] == name]
        summary[name] = spread(values)
    return {
        "model": "course_vit with " + ", ".join(f"{k}={v}" for k, v in ABLATION_BASE.items()),
        "variants": {name: {k: list(v) if isinstance(v, tuple) else v for k, v in o.items()} for name, o in ABLATION},
        "epochs": args.epochs, "batch_size": args.batch_size, "steps": steps,
        "learning_rate": args.learning_rate, "weight_decay": 0.05,
        "schedule": "AdamW, linear warmup over 10% of the steps, then cosine decay to 0 (compile_model)",
        "seeds": args.seeds, "runs": runs, "summary": summary,
    }  # fmt: skip


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["ladder", "sweep", "ablation"])
    parser.add_argument("--train-images", type=int, default=5000)
    parser.add_argument("--held-out-images", type=int, default=None, help="ablation: 2,000; ladder and sweep: 1,000")
    parser.add_argument("--limit", type=int, default=10000, help="images read from the copy (70/30 split)")
    parser.add_argument("--budget-seconds", type=float, default=90,
                        help="ladder: training wall time per step, after the first (compiling) step")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="ablation: peak rate of AdamW + cosine")
    parser.add_argument("--epochs", type=int, nargs="+", default=None,
                        help="ablation: 6; sweep: one count per setting (default: original 1, fixed 3) or one for all")
    parser.add_argument("--batch-size", type=int, default=128, help="ablation")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="ablation")
    parser.add_argument("--depths", type=int, nargs="+", default=[2, 4, 6, 8], help="sweep")
    parser.add_argument("--dims", type=int, nargs="+", default=[16, 32, 64, 128], help="sweep")
    parser.add_argument("--count-dims", type=int, nargs="+", default=[10, 16, 32, 64, 128],
                        help="sweep: D values of the parameter-count grid")
    parser.add_argument("--settings", nargs="+", default=["original", "fixed"], choices=list(SWEEP_SETTINGS))
    parser.add_argument("--out", help="default: results/small_data_<command>_<hardware-tag>.json")
    args = parser.parse_args(argv)
    if args.command == "ablation":
        if args.epochs and len(args.epochs) > 1:
            parser.error(f"ablation takes one --epochs count; got {args.epochs}")
        (args.epochs,) = args.epochs or [6]
    if args.held_out_images is None:  # evaluating the 256-token models is slow too
        args.held_out_images = 2000 if args.command == "ablation" else 1000

    snapshot = machine_snapshot()
    started = time.perf_counter()
    x, y, hx, hy, description = load_data(args)
    run = {"ladder": run_ladder, "sweep": run_sweep, "ablation": run_ablation}[args.command]
    record = {"command": args.command, "dataset_description": description,
              "train_images": len(y), "held_out_images": len(hy), **run(args, x, y, hx, hy)}  # fmt: skip
    record["wall_time_s"] = round(time.perf_counter() - started, 1)
    record["provenance"] = record_provenance(module_command("benchmarks.small_data", argv), snapshot)
    out = args.out or result_path(f"small_data_{args.command}_{record['provenance']['hardware_tag']}")
    write_json(out, record)
    print(f"wrote {out} ({record['wall_time_s']:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
