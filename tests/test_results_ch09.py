"""Chapter 09's recorded tables (vitcourse.results), on small records written here."""

import json

from vitcourse.results import (
    transfer_details,
    transfer_markdown,
    transfer_table,
    weight_averaging_details,
    weight_averaging_markdown,
    weight_averaging_table,
)
from records import made_up_provenance

PROVENANCE = made_up_provenance("KERAS_BACKEND=tensorflow python -m benchmarks.transfer")


def transfer_record():
    runs = []
    for seed, accuracies in enumerate([(0.70, 0.55, 0.50), (0.72, 0.57, 0.46)]):
        for method, accuracy, trainable in zip(("fine-tune", "linear probe", "from scratch"), accuracies,
                                               (545_285, 645, 545_285)):  # fmt: skip
            runs.append({"method": method, "seed": seed, "learning_rate": 1e-3, "trainable_parameters": trainable,
                         "frozen_parameters": 0, "steps": 250, "train_seconds": 50.0,
                         "final_train_loss": 0.5, "final_train_accuracy": 0.9, "held_out_accuracy": accuracy})  # fmt: skip
    summary = {
        "fine-tune": {"mean": 0.71, "stdev": 0.0141, "min": 0.70, "max": 0.72, "seeds": 2},
        "linear probe": {"mean": 0.56, "stdev": 0.0141, "min": 0.55, "max": 0.57, "seeds": 2},
        "from scratch": {"mean": 0.48, "stdev": 0.0283, "min": 0.46, "max": 0.50, "seeds": 2},
    }
    return {
        "model": "course_vit, depth=4",
        "pretraining": {"classes": ["airplane", "cat"], "train_images": 22500, "epochs": 2, "steps": 350,
                        "batch_size": 128, "held_out_accuracy": 0.6, "held_out_images": 2500},  # fmt: skip
        "target_classes": ["dog", "frog"],
        "target_train_images": 500,
        "target_subset": "stratified",
        "held_out_images": 2500,
        "equal_budget": "250 optimizer steps of 50 images for every method",
        "schedule": "AdamW",
        "seeds": [0, 1],
        "seed_controls": "the subset",
        "runs": runs,
        "summary": summary,
        "wall_time_s": 600.0,
        "provenance": PROVENANCE,
    }


def averaging_record():
    names = ("best single", "average of 3 best", "average of last 3", "last epoch")
    runs = [{"seed": s, "best_epochs": [8, 7, 6], "report_accuracy": dict(zip(names, (0.40, 0.42, 0.42, 0.40)))}
            for s in (0, 1, 2)]  # fmt: skip
    summary = {name: {"mean": 0.41, "stdev": 0.01, "min": 0.40, "max": 0.42, "seeds": 3} for name in names}
    summary["average of two separate runs"] = {"mean": 0.1, "stdev": 0.0, "min": 0.1, "max": 0.1, "pairs": 3}
    return {
        "model": "course_vit, depth=4, 10 classes",
        "dataset_description": "CIFAR-10 (JPEG copy)",
        "epochs": 8, "steps_per_epoch": 79, "batch_size": 64, "schedule": "AdamW, x0.7 every 2 epochs",
        "checkpoints": "the weights after every epoch", "seed_controls": "initialisation",
        "runs": runs,
        "across_runs": [{"seeds": [0, 1], "report_accuracy": 0.1, "alone": [0.40, 0.41]}],
        "summary": summary,
        "wall_time_s": 500.0,
        "provenance": dict(PROVENANCE, command="KERAS_BACKEND=tensorflow python -m benchmarks.weight_averaging"),
    }  # fmt: skip


def header_columns(table):
    return table.splitlines()[0].count("|") - 1


def test_transfer_table_is_narrow_and_gives_mean_sd_and_range():
    table = transfer_table(transfer_record())
    assert header_columns(table) <= 6
    assert "| fine-tune | 545,285 | 71.0% ± 1.4 | 70.0-72.0% | 2 | 2-core CPU, tensorflow |" in table
    assert "| linear probe | 645 | 56.0% ± 1.4 |" in table


def test_transfer_details_give_every_run_and_the_command():
    details = transfer_details(transfer_record(), "transfer_cifar10_cpu-2core.json")
    assert details.count("| fine-tune |") == 2
    assert "60.0% on 2,500 held-out images" in details
    assert "`KERAS_BACKEND=tensorflow python -m benchmarks.transfer`" in details
    assert "results/transfer_cifar10_cpu-2core.json" in details
    assert all(header_columns(t) <= 6 for t in details.split("\n\n") if t.startswith("|"))


def test_transfer_markdown_reads_results_and_folds_details(tmp_path):
    assert "No recorded transfer run" in transfer_markdown(tmp_path)
    (tmp_path / "transfer_cifar10_cpu-2core.json").write_text(json.dumps(transfer_record()))
    text = transfer_markdown(tmp_path)
    assert "```{dropdown} Details: results/transfer_cifar10_cpu-2core.json" in text
    assert "mean ± standard deviation over 2 seeds" in text


def test_weight_averaging_table_and_details():
    record = averaging_record()
    table = weight_averaging_table(record)
    assert header_columns(table) <= 6
    assert "| average of 3 best | 41.0% ± 1.0 | 40.0-42.0% | 3 seeds |" in table
    assert "| average of two separate runs | 10.0% ± 0.0 | 10.0-10.0% | 3 pairs of seeds |" in table
    details = weight_averaging_details(record, "weight_averaging_cifar10_cpu-2core.json")
    assert "| 0 and 1 | 10.0% | 40.0% | 41.0% |" in details
    assert "| 2 | 8, 7, 6 | 40.0% | 42.0% | 42.0% | 40.0% |" in details
    assert all(header_columns(t) <= 6 for t in details.split("\n\n") if t.startswith("|"))


def test_weight_averaging_markdown_reads_results(tmp_path):
    assert "No recorded weight-averaging run" in weight_averaging_markdown(tmp_path)
    (tmp_path / "weight_averaging_cifar10_cpu-2core.json").write_text(json.dumps(averaging_record()))
    text = weight_averaging_markdown(tmp_path)
    assert "```{dropdown} Details: results/weight_averaging_cifar10_cpu-2core.json" in text
    assert "python -m benchmarks.weight_averaging" in text
