"""Tests of the recorded results, the tables made from them, and the FLOP counter.

- Every JSON in results/ carries its provenance (command, versions, backend,
  hardware, git commit) and its wall time.
- README.md and benchmarks/README.md hold exactly what ``benchmarks/tables.py``
  regenerates from results/ between their markers: no table is typed by hand.
- The table code and the FLOP counter are checked on made-up inputs.
"""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # benchmarks/ is not installed with the package
    sys.path.insert(0, str(ROOT))

from benchmarks import tables  # noqa: E402
from benchmarks.gpu_efficiency import forward_flops, peak_tflops, train_flops_per_image  # noqa: E402
from vitcourse import results  # noqa: E402
from vitcourse.presets import build_model, get_preset  # noqa: E402

RESULT_FILES = sorted((ROOT / "results").glob("*.json"))
PROVENANCE_KEYS = ("command", "packages", "backend", "hardware", "git_commit", "utc_time")


def provenances(record):
    """(where, provenance, wall time) for each run in a results file."""
    if "provenance" in record:
        yield "top level", record["provenance"], record.get("wall_time_s")
    for mode in ("smoke", "quick", "full"):  # book_times.json: one run per mode
        run = record.get(mode)
        if isinstance(run, dict) and "provenance" in run:
            yield mode, run["provenance"], run.get("wall_time_s")


# ---------------------------------------------------------------------------
# The recorded results.


@pytest.mark.parametrize("path", RESULT_FILES, ids=lambda p: p.name)
def test_every_result_has_provenance_and_wall_time(path):
    record = json.loads(path.read_text())
    found = list(provenances(record))
    assert found, f"{path.name} has no provenance"
    for where, provenance, wall_time in found:
        missing = [key for key in PROVENANCE_KEYS if not provenance.get(key)]
        assert not missing, f"{path.name} ({where}): provenance lacks {missing}"
        assert "keras" in provenance["packages"], f"{path.name} ({where}): no Keras version"
        backend = provenance["backend"]
        assert backend in ("tensorflow", "jax", "torch")
        assert provenance["hardware"].get("cpu"), f"{path.name} ({where}): no CPU in the hardware"
        assert "gpus" in provenance["hardware"]
        assert "hardware_summary" in provenance
        assert isinstance(wall_time, (int, float)) and wall_time > 0, f"{path.name} ({where}): no wall time"


@pytest.mark.parametrize(
    "path, make_section",
    [(tables.README, results.readme_section), (tables.BENCHMARKS_README, tables.benchmarks_section)],
    ids=["README.md", "benchmarks/README.md"],
)
def test_readme_tables_are_generated_from_results(path, make_section):
    if not path.exists():
        pytest.skip(f"{path.name} does not exist yet")
    held = results.section_between(path.read_text())
    if held is None:
        pytest.skip(f"{path} has no {results.README_START} / {results.README_END} markers yet")
    assert held == make_section(), (
        f"The tables in {path.relative_to(ROOT)} differ from results/. "
        "Regenerate them: python -m benchmarks.tables --write-readme"
    )


# ---------------------------------------------------------------------------
# The FLOP counter.


def test_forward_flops_by_hand_for_a_tiny_vit():
    # 32x32x3 images, 16x16 patches: 4 tokens of 768 pixels, projected to 8.
    preset = get_preset(
        "course_vit", patch_size=16, projection_dim=8, num_heads=2, key_dim=4, depth=1,
        mlp_units=(16, 8), num_classes=10,
    )  # fmt: skip
    flops = forward_flops(preset)
    assert flops["tokenizer"] == 2 * 4 * 768 * 8  # 49,152
    assert flops["attention_projections"] == 2 * 4 * 8 * 24 + 2 * 4 * 8 * 8  # QKV 8->24, output 8->8
    assert flops["attention_scores"] == 2 * 2 * 4 * 4 * 4  # heads x queries x keys x key_dim
    assert flops["attention_values"] == 2 * 2 * 4 * 4 * 4
    assert flops["mlp"] == 2 * 4 * 8 * 16 + 2 * 4 * 16 * 8
    assert flops["head"] == 2 * 8 * 10  # average of the tokens -> 10 classes
    assert flops["total"] == 53_920
    assert train_flops_per_image(preset) == 3 * 53_920


def test_flatten_head_and_class_token_are_counted():
    preset = get_preset(
        "course_vit", patch_size=16, projection_dim=8, num_heads=2, key_dim=4, depth=1,
        mlp_units=(16, 8), num_classes=10, pooling="flatten", head_units=(32,), class_token=True,
    )  # fmt: skip
    flops = forward_flops(preset)
    assert flops["head"] == 2 * (5 * 8) * 32 + 2 * 32 * 10  # 5 tokens (4 + class token) flattened
    assert flops["attention_scores"] == 2 * 2 * 5 * 5 * 4


@pytest.mark.parametrize("name", ["course_vit", "kerasio_vit"])
def test_dense_flops_match_the_models_weights(name):
    """Each dense product costs 2 x tokens x (kernel size): compare with the built model's kernels."""
    preset = get_preset(name, num_classes=10)
    model = build_model(name, num_classes=10)
    _, tokens = preset.grid()
    kernels = {"attention": 0, "mlp": 0}
    for weight in model.weights:
        path = weight.path
        if not path.endswith("kernel") or "block_" not in path:
            continue
        size = 1
        for dim in weight.shape:
            size *= dim
        kernels["attention" if "/attention/" in path else "mlp"] += size
    flops = forward_flops(preset)
    assert flops["attention_projections"] == 2 * tokens * kernels["attention"]
    assert flops["mlp"] == 2 * tokens * kernels["mlp"]


def test_peak_table():
    assert peak_tflops("NVIDIA H100 80GB HBM3", mixed_precision=True) == pytest.approx(989.4)
    assert peak_tflops("NVIDIA A100-SXM4-40GB", mixed_precision=False) == pytest.approx(156.0)
    assert peak_tflops("CPU", mixed_precision=True) is None


# ---------------------------------------------------------------------------
# The table code, on a made-up results folder.


def fake_provenance(gpus=()):
    return {
        "command": "KERAS_BACKEND=jax python -m benchmarks.x",
        "utc_time": "2025-01-01T00:00:00+00:00",
        "git_commit": "abc123",
        "packages": {"keras": "3.15.1", "jax": "0.10.2"},
        "backend": "jax",
        "hardware": {"cpu": "Test CPU", "cpu_cores": 2, "gpus": list(gpus)},
        "hardware_summary": gpus[0] if gpus else "2-core CPU (Test CPU)",
        "load_average_1min": {"before": 0.5, "after": 0.7},
        "machine_busy": False,
    }


def fake_equal_budget(gpus=()):
    def run(preset, accuracies, params):
        evaluations = [
            {"elapsed_s": 10.0 * (i + 1), "step": i + 1, "images_seen": 64 * (i + 1), "val_accuracy": a}
            for i, a in enumerate(accuracies)
        ]
        return {
            "preset": preset, "parameters": params, "batch_size": 64,
            "steps": len(accuracies), "images_seen": 64 * len(accuracies),
            "epochs_of_data": 0.1, "train_seconds": 10.0 * len(accuracies), "train_images_per_second": 6.4,
            "stop_reason": "budget spent",
            "final_val_accuracy": accuracies[-1], "best_val_accuracy": max(accuracies),
            "time_to_accuracy_s": {"60%": 20.0 if max(accuracies) >= 0.6 else None, "80%": None, "90%": None},
            "evaluations": evaluations,
        }  # fmt: skip

    return {
        "dataset": "cifar10_jpeg", "dataset_description": "fake", "budget_seconds": 30,
        "budget_counts": "training time", "split": {"train_images": 100, "val_images": 50},
        "presets": ["course_vit", "kerasio_vit"], "accuracy_ratio": 1.5,
        "runs": {
            "course_vit": run("course_vit", [0.3, 0.6, 0.61], 810_890),
            "kerasio_vit": run("kerasio_vit", [0.2, 0.4], 21_666_769),
        },
        "wall_time_s": 100.0, "provenance": fake_provenance(gpus),
    }  # fmt: skip


@pytest.fixture
def fake_results(tmp_path):
    def write(name, record):
        (tmp_path / f"{name}.json").write_text(json.dumps(record))

    write("equal_budget_cifar10_cpu-2core", fake_equal_budget())
    write("book_times", {
        "smoke": {
            "chapters": {"01_patches": 12.5, "02_patch_encoding": 20.0}, "total": 32.5, "wall_time_s": 40.0,
            "provenance": fake_provenance(),
        },
        "quick": {
            "chapters": {"02_patch_encoding": 9.0}, "total": 9.0, "wall_time_s": 15.0,
            "not_measured": {"01_patches": "DataUnavailableError: no internet"}, "provenance": fake_provenance(),
        },
    })  # fmt: skip
    return tmp_path, write


def test_headline_table_from_a_fake_results_dir(fake_results):
    results_dir, _ = fake_results
    table = results.headline_table(results_dir)
    lines = table.splitlines()
    assert lines[0].startswith("| Preset | Parameters | Dataset | Hardware | Budget | Val accuracy")
    assert "| course_vit | 0.81M | CIFAR-10 (JPEG copy), 50 val images | 2-core CPU (Test CPU), jax | 30 s" in table
    assert "61.0%" in table and "40.0%" in table
    # no GPU run recorded: the GPU rows say so
    gpu_rows = [line for line in lines if results.GPU_HARDWARE in line]
    assert len(gpu_rows) == 2 and all(results.NOT_MEASURED in line for line in gpu_rows)


def test_gpu_rows_disappear_once_a_gpu_run_is_recorded(fake_results):
    results_dir, write = fake_results
    write("equal_budget_cifar10_nvidia-h100", fake_equal_budget(gpus=["NVIDIA H100 80GB HBM3"]))
    table = results.headline_table(results_dir)
    assert results.GPU_HARDWARE not in table
    assert "NVIDIA H100 80GB HBM3, jax" in table


def test_readme_section_round_trip(fake_results):
    results_dir, _ = fake_results
    section = results.readme_section(results_dir)
    assert "32 s for 2 chapters, on 2-core CPU (Test CPU)" in section
    readme = f"# Title\n\nintro\n\n{results.README_START}\nold table\n{results.README_END}\n\n## After\n"
    new = results.replace_section(readme, section)
    assert new.startswith("# Title\n\nintro\n\n") and new.endswith(f"{results.README_END}\n\n## After\n")
    assert results.section_between(new) == section
    assert results.replace_section(new, section) == new  # regenerating changes nothing
    with pytest.raises(ValueError):
        results.replace_section("no markers here", section)


def test_benchmarks_section_lists_every_figure(fake_results):
    results_dir, _ = fake_results
    section = tables.benchmarks_section(results_dir)
    assert "results/equal_budget_cifar10_cpu-2core.json" in section
    assert "| 02_patch_encoding | 20.0 | 9.0 |" in section
    assert "| 01_patches | 12.5 | not yet measured |" in section
    assert "| **total** | 32.5 | 9.0 (without the 1 not measured) |" in section
    assert "Not measured: 01_patches: DataUnavailableError: no internet." in section
    # nothing recorded for throughput and GPU efficiency: said, not invented
    assert section.count(results.NOT_MEASURED) >= 3


def test_write_section_touches_only_the_markers(tmp_path, fake_results):
    results_dir, _ = fake_results
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{results.README_START}\n{results.README_END}\nafter\n")
    assert tables.write_section(readme, results.readme_section(results_dir))
    text = readme.read_text()
    assert text.startswith("before\n") and text.endswith("after\n")
    assert not tables.write_section(tmp_path / "missing.md", "x")


def test_chapter_times_from_book_times(fake_results, monkeypatch):
    results_dir, _ = fake_results
    monkeypatch.setattr(results, "RESULTS_DIR", results_dir)
    times = results.chapter_times("01_patches")
    assert times == {"smoke": 12.5, "quick": results.NOT_MEASURED, "full": results.NOT_MEASURED}
    assert results.chapter_times("02_patch_encoding")["quick"] == 9.0
    text = results.chapter_times_markdown("01_patches")
    assert "smoke: 12 s (2-core CPU (Test CPU))" in text and "quick: not yet measured" in text


def test_hardware_tag_and_summary():
    cpu = {"cpu": "Intel(R) Xeon(R) Processor", "cpu_cores": 2, "gpus": []}
    assert results.hardware_tag(cpu) == "cpu-2core"
    assert results.hardware_summary(cpu) == "2-core CPU (Intel Xeon Processor)"
    gpu = {"cpu": "AMD EPYC", "cpu_cores": 16, "gpus": ["NVIDIA H100 80GB HBM3"]}
    assert results.hardware_tag(gpu) == "nvidia-h100-80gb-hbm3"
    assert results.hardware_summary(gpu) == "NVIDIA H100 80GB HBM3"


# ---------------------------------------------------------------------------
# The equal-budget benchmark's data stream and milestones.


def test_batch_stream_shows_every_image_once_per_pass():
    import numpy as np

    from benchmarks.equal_budget import BatchStream

    x, y = np.arange(10)[:, None], np.arange(10)
    stream = BatchStream(x, y, batch_size=4, steps=3, seed=1)
    labels = [stream[i][1] for i in range(3)]
    stream.on_epoch_end()  # the next chunk continues the stream, it does not restart it
    labels += [stream[i][1] for i in range(3)]
    order = np.concatenate(labels)  # 24 labels: 2 passes over the 10 images, and 4 more
    assert sorted(order[:10]) == list(range(10)) and sorted(order[10:20]) == list(range(10))

    again = BatchStream(x, y, batch_size=4, steps=3, seed=1)
    assert np.array_equal(again[2][1], labels[2]) and np.array_equal(again[0][1], labels[0])  # any order
    images, _ = again[0]
    assert images.dtype == np.float32


def test_time_to_reach():
    from benchmarks.equal_budget import time_to_reach

    evaluations = [{"elapsed_s": 10.0, "val_accuracy": 0.5}, {"elapsed_s": 20.0, "val_accuracy": 0.65}]
    assert time_to_reach(evaluations, 0.6) == 20.0
    assert time_to_reach(evaluations, 0.8) is None


def test_variants_name_a_preset_its_changes_and_a_dtype_policy():
    from benchmarks.equal_budget import parse_variant

    assert parse_variant("course_vit") == ("course_vit", {}, "float32")
    name, changes, policy = parse_variant(
        "course_vit:patch_size=8,learning_rate=2e-3,augmentation=none,locality=True,dtype_policy=mixed_bfloat16"
    )
    assert name == "course_vit" and policy == "mixed_bfloat16"
    assert changes == {"patch_size": 8, "learning_rate": 0.002, "augmentation": "none", "locality": True}
    with pytest.raises(ValueError, match="name:field=value"):
        parse_variant("course_vit:patch_size")


def test_a_variant_builds_the_changed_preset_under_its_policy():
    import keras

    from benchmarks.equal_budget import batch_size_of, new_model
    from vitcourse.data import synthetic_cifar

    data = synthetic_cifar("cifar10", n_train=20, n_test=10)
    try:
        preset, model = new_model("course_vit:patch_size=8,dtype_policy=mixed_bfloat16", data, 0, 10)
        assert preset.patch_size == 8 and preset.num_classes == 10
        assert model.get_layer("patch_encoder").input.shape[1] == 16  # (32 / 8)^2 tokens
        assert model.get_layer("block_0").dtype_policy.name == "mixed_bfloat16"
        assert model.get_layer("classifier").dtype_policy.name == "float32"
    finally:
        keras.config.set_dtype_policy("float32")
    args = type("Args", (), {"batch_size": 64})()
    assert batch_size_of("course_vit:batch_size=128", args) == 128  # the variant's own wins
    assert batch_size_of("course_vit", args) == 64


def test_an_interrupted_sweep_keeps_the_variants_it_finished(tmp_path, monkeypatch):
    from benchmarks import equal_budget

    def run_preset(spec, data, args):
        if spec != "course_vit":
            raise KeyboardInterrupt  # the run stops during the second variant
        return {"final_val_accuracy": 0.5}

    monkeypatch.setattr(equal_budget, "run_preset", run_preset)
    out = tmp_path / "sweep.json"
    argv = ["--budget-seconds", "1", "--dataset", "synthetic10", "--out", str(out),
            "--presets", "course_vit", "course_vit:patch_size=8"]  # fmt: skip
    with pytest.raises(KeyboardInterrupt):
        equal_budget.main(argv)
    record = json.loads(out.read_text())
    assert record["presets"] == ["course_vit"] and record["unfinished"] == ["course_vit:patch_size=8"]
    assert record["runs"]["course_vit"]["final_val_accuracy"] == 0.5
    assert record["provenance"]["command"].endswith("--presets course_vit course_vit:patch_size=8")

    with pytest.raises(ValueError, match="Unknown preset field"):  # a typo stops it before any training
        equal_budget.main(argv[:-1] + ["course_vit:patch_sise=8"])


def test_recipe_table_sorts_by_accuracy_and_names_the_changes(fake_results):
    results_dir, write = fake_results
    record = fake_equal_budget()
    base = dict(record["runs"]["course_vit"], planned_steps=4)
    record["runs"] = {
        "course_vit": dict(base, preset="course_vit", changes={}, dtype_policy="float32"),
        "course_vit:patch_size=8,dtype_policy=mixed_bfloat16": dict(
            base, preset="course_vit", changes={"patch_size": 8}, dtype_policy="mixed_bfloat16",
            final_val_accuracy=0.7,
        ),
    }  # fmt: skip
    record["unfinished"] = ["course_vit:depth=4"]
    write("recipe_sweep_cifar10_cpu-2core", record)
    table = results.recipe_table(record)
    rows = table.splitlines()[2:]
    assert rows[0].startswith("| course_vit: patch_size=8, mixed_bfloat16 | 0.81M | 64 | 3 / 4 | 30.0 |")
    assert "70.0%" in rows[0]
    assert rows[1].startswith("| course_vit | 0.81M |") and "61.0%" in rows[1]
    section = tables.benchmarks_section(results_dir)
    assert "results/recipe_sweep_cifar10_cpu-2core.json" in section and table in section
    assert "Not run (the sweep was interrupted): course_vit:depth=4." in section
    chapter = results.measured_markdown(results_dir)
    assert table in chapter and results.equal_budget_table(fake_equal_budget()) in chapter
    assert "](" not in chapter  # no relative links: the book would look for them among its pages
    assert "No recorded benchmarks here" in results.measured_markdown(results_dir / "missing")
    summary = results.readme_section(results_dir)
    assert "best 70.0% validation accuracy with `course_vit: patch_size=8, mixed_bfloat16`" in summary
    assert "against 61.0% for course_vit as it is" in summary


def test_book_times_runs_a_notebook_and_reports_a_failure(tmp_path):
    import nbformat

    from benchmarks.book_times import run_notebook

    good, bad = tmp_path / "good.ipynb", tmp_path / "bad.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1 + 1")]), good)
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("raise RuntimeError('no CIFAR')")]), bad)
    seconds, error = run_notebook(good, "smoke", timeout=120)
    assert error is None and seconds > 0
    seconds, error = run_notebook(bad, "smoke", timeout=120)
    assert seconds is None and "no CIFAR" in error
