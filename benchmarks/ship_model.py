"""Trains the small course_vit that ships with the package, and records how it was made.

    python -m benchmarks.ship_model            # about 20-30 minutes on a 2-core CPU

One recorded command: trains ``course_vit`` (4 blocks) on the CIFAR-10 JPEG copy
(45,000 training images, 10% of them held out to pick the best epoch), measures
it on the copy's 5,000 validation images, which training never saw, and writes

- ``vitcourse/pretrained/course_vit_cifar10.weights.h5``: the model's weights (a few MB);
- ``vitcourse/pretrained/course_vit_cifar10.json``: its sha256, held-out accuracy,
  training settings and provenance (command, hardware, time, commit).

Chapters 08 and 09 load it with :func:`vitcourse.pretrained.load_trained`, which
checks the sha256 first. Rerun the command to resume an interrupted run.
"""

import argparse
import json
import sys
from pathlib import Path

import keras

from benchmarks.common import ROOT
from vitcourse.data import CIFAR10_LABELS, file_digest
from vitcourse.provenance import provenance, write_json
from vitcourse.training import resume_info

NAME = "course_vit_cifar10"
OVERRIDES = ["depth=4"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--out", default=str(ROOT / "runs" / NAME))
    args = parser.parse_args(argv)
    from vitcourse.__main__ import main as vitcourse_main

    command = ["train", "--preset", "course_vit", "--dataset", "cifar10_jpeg", "--mode", "full",
               "--epochs", str(args.epochs), "--batch-size", str(args.batch_size), "--out", args.out, "--quiet"]
    for override in OVERRIDES:
        command += ["--set", override]
    out = Path(args.out)
    if not resume_info(out)["complete"]:  # a finished run is packaged again, not retrained
        status = vitcourse_main(command)
        if status:
            return status
    metrics = json.loads((out / "metrics.json").read_text())
    # The weights alone: a .keras file records each layer's full config, which older Keras
    # versions (Colab's) refuse; the model is rebuilt from its preset and gets these weights.
    target = ROOT / "vitcourse" / "pretrained" / f"{NAME}.weights.h5"
    keras.saving.load_model(out / "best.keras", compile=False).save_weights(target)
    record = {
        "file": target.name,
        "sha256": file_digest(target, "sha256"),
        "bytes": target.stat().st_size,
        "preset": "course_vit",
        "overrides": metrics["overrides"],  # what build_model needs, num_classes included
        "dataset": "CIFAR-10 (JPEG copy)",
        "label_names": list(CIFAR10_LABELS),
        "train_images": metrics["train_images"],
        "val_images": metrics["val_images"],
        "held_out_images": metrics["test_images"],
        "held_out_accuracy": metrics["final_test_accuracy"],
        "best_val_accuracy": metrics["best_val_accuracy"],
        "epochs": metrics["epochs"],
        "batch_size": metrics["batch_size"],
        "parameters": metrics["parameters"],
        "train_time_s": metrics["train_time_s"],
        "wall_time_s": metrics["wall_time_s"],  # the training command's, evaluation included
        "training_provenance": metrics["provenance"],
        "provenance": provenance([sys.executable.split("/")[-1], "-m", "benchmarks.ship_model", *(argv or sys.argv[1:])]),
    }
    write_json(target.parent / f"{NAME}.json", record)
    print(f"wrote {target} ({record['bytes']:,} bytes): held-out accuracy {record['held_out_accuracy']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
