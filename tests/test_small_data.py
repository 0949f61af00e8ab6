"""vitcourse.small_data: the legacy decay, the sweep helper and heatmap, SPT's views, LSA's weights,
the training helpers and the renderers of chapter 07's records (on small records written here)."""

import argparse
import json
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest

from vitcourse import small_data
from vitcourse.layers import LocalitySelfAttention, ShiftedPatchTokenization
from vitcourse.presets import build_model
from vitcourse.results import recorded_runs
from records import made_up_provenance


def test_legacy_decay_is_inverse_time_per_step():
    rates = small_data.legacy_decay_learning_rate(2e-4, 0.1, 200)
    assert rates[0] == pytest.approx(2e-4)
    assert rates[10] == pytest.approx(1e-4)  # 2e-4 / (1 + 0.1 * 10)
    assert rates[-1] == pytest.approx(2e-4 / (1 + 0.1 * 199))
    schedule = small_data.legacy_decay_schedule(2e-4, 0.1)
    keras_rates = [float(keras.ops.convert_to_numpy(schedule(t))) for t in (0, 10, 199)]
    np.testing.assert_allclose(keras_rates, rates[[0, 10, 199]], rtol=1e-5)
    with pytest.raises(ValueError, match="decay"):
        small_data.legacy_decay_learning_rate(1e-3, -0.1, 5)


def test_keras3_ignores_decay_with_a_warning():
    # what the chapter shows: Keras 3 drops `decay=` and keeps a constant learning rate
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        optimizer = keras.optimizers.Adam(learning_rate=2e-4, decay=0.1)
    assert any("decay" in str(w.message) for w in caught)
    assert float(keras.ops.convert_to_numpy(optimizer.learning_rate)) == pytest.approx(2e-4)


def test_legacy_adam_decays_with_iterations():
    optimizer = small_data.legacy_adam(2e-4, 0.1)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(np.ones((40, 3), "float32"), np.zeros((40, 2), "float32"), batch_size=4, epochs=1, verbose=0)
    assert int(optimizer.iterations) == 10
    assert float(keras.ops.convert_to_numpy(optimizer.learning_rate)) == pytest.approx(2e-4 / 2, rel=1e-5)


def test_legacy_adam_with_accumulation_decays_per_update():
    # batches of 512 as 8 micro-batches of 64: the schedule counts micro-batches, the decay whole updates
    optimizer = small_data.legacy_adam(2e-4, 0.1, accumulation=8)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(np.ones((84, 3), "float32"), np.zeros((84, 2), "float32"), batch_size=4, epochs=1, verbose=0)
    assert int(keras.ops.convert_to_numpy(optimizer.iterations)) == 2  # 21 micro-batches: 2 whole updates
    rate = keras.ops.convert_to_numpy(optimizer.learning_rate)
    assert float(rate) == pytest.approx(small_data.legacy_decay_learning_rate(2e-4, 0.1, 3)[2], rel=1e-5)


def _tiny(**overrides):
    return build_model("course_vit", num_classes=10, depth=1, projection_dim=16, key_dim=4, mlp_units=(16, 16),
                       augmentation="none", **overrides)  # fmt: skip


def test_train_steps_counts_steps_across_epochs():
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 255, (10, 32, 32, 3)).astype("float32"), np.arange(10) % 10
    model = small_data.compile_for(_tiny(), "adamw_cosine", total_steps=5)
    run = small_data.train_steps(model, x, y, steps=5, batch_size=4)  # 3 steps per epoch: stops mid-epoch 2
    assert run["steps"] == 5
    assert int(model.optimizer.iterations) == 5
    assert run["epochs"] == pytest.approx(1.8)  # one epoch, then 2 steps of 4 of the 10 images
    with pytest.raises(ValueError, match="steps"):
        small_data.train_steps(model, x, y, steps=0, batch_size=4)


def test_compile_for_reads_the_output_activation():
    probabilities = small_data.compile_for(_tiny(output_activation="softmax"), "legacy_adam", total_steps=1)
    assert probabilities.loss.get_config()["from_logits"] is False
    assert isinstance(probabilities.optimizer.learning_rate, keras.optimizers.schedules.InverseTimeDecay) or (
        isinstance(probabilities.optimizer._learning_rate, keras.optimizers.schedules.InverseTimeDecay)
    )
    logits = small_data.compile_for(_tiny(), "adamw_cosine", total_steps=10)
    assert logits.loss.get_config()["from_logits"] is True
    assert isinstance(logits.optimizer, keras.optimizers.AdamW)
    with pytest.raises(ValueError, match="optimiser"):
        small_data.compile_for(_tiny(), "sgd", total_steps=1)


def test_ladder_and_ablation_build():
    # every step of the ladder and every variant of the ablation is a valid preset
    for name, _, overrides, optimiser, batch in small_data.LADDER:
        preset = build_model("patches2x2_cifar10", **{**overrides, "depth": 1})
        assert preset.output_shape == (None, 10), name
        assert optimiser in ("legacy_adam", "adamw_cosine") and batch > 0
    assert small_data.LADDER[0][2] == {}  # the first step is the project as it is
    for name, overrides in small_data.ABLATION:
        model = build_model("course_vit", **{**small_data.ABLATION_BASE, **overrides, "depth": 1})
        assert model.output_shape == (None, 10), name


def test_sweep_and_grid():
    cells = small_data.sweep([2, 4], [16, 32, 64], lambda L, D: {"value": L * D})
    assert [(c["depth"], c["dim"]) for c in cells][:2] == [(2, 16), (2, 32)]
    values = small_data.grid(cells, "value")
    assert values.shape == (2, 3)
    np.testing.assert_array_equal(values[1], [64, 128, 256])
    missing = small_data.grid(cells[:-1] + [{"depth": 4, "dim": 64, "value": None}], "value")
    assert np.isnan(missing[1, 2])


def test_sweep_summary_finds_the_best_cell_and_the_means():
    cells = small_data.sweep([2, 8], [16, 64], lambda L, D: {"acc": {(2, 16): 0.1, (2, 64): 0.3, (8, 16): 0.2,
                                                                     (8, 64): 0.25}[L, D]})  # fmt: skip
    summary = small_data.sweep_summary(cells, "acc")
    assert (summary["best"]["depth"], summary["best"]["dim"]) == (2, 64)
    assert (summary["worst"]["depth"], summary["worst"]["dim"]) == (2, 16)
    assert summary["by_depth"] == pytest.approx({2: 0.2, 8: 0.225})
    assert summary["by_dim"] == pytest.approx({16: 0.15, 64: 0.275})


def test_sweep_parameters_reproduce_the_project():
    cells = small_data.sweep_parameters([1, 8], [16, 128])
    at = {(c["depth"], c["dim"]): c["parameters"] for c in cells}
    assert at[8, 128] == 71_863_178  # the project's own model, as its summary counts it
    assert at[1, 16] == build_model("patches2x2_cifar10", **small_data.sweep_overrides(1, 16)).count_params()
    # the flatten head (256 * D -> 2048) holds most of every model of the grid
    assert all(p > 256 * D * 2048 for (L, D), p in at.items())


def test_plot_sweep_labels_every_cell():
    import matplotlib

    matplotlib.use("Agg")
    cells = small_data.sweep([2, 4], [16, 32], lambda L, D: {"acc": 0.1 * L + D / 1000})
    ax = small_data.plot_sweep(cells, "acc", title="t")
    assert len(ax.texts) == 4
    assert [t.get_text() for t in ax.get_xticklabels()] == ["16", "32"]
    assert ax.images[0].get_array().shape == (2, 2)


def test_shifted_views_are_what_the_layer_tokenizes():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (2, 8, 8, 3)).astype("float32")
    views, names = small_data.shifted_views(images, patch_size=4)
    assert views.shape == (5, 2, 8, 8, 3) and names[0] == "image" and len(set(names)) == 5
    down_right = views[names.index("down-right")]
    np.testing.assert_array_equal(down_right[:, 2:, 2:], images[:, :-2, :-2])  # moved by half a patch
    np.testing.assert_array_equal(down_right[:, :2], 0)  # zeros where the shift uncovers the border
    layer = ShiftedPatchTokenization(4, 8)
    tokens = keras.ops.convert_to_numpy(layer(images))
    stacked = np.concatenate(list(views), axis=-1)
    rebuilt = layer.projection(layer.norm(layer.patches(stacked)))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(rebuilt), tokens, atol=1e-5)


def test_lsa_weights_match_the_layer():
    rng = np.random.default_rng(1)
    tokens = rng.normal(size=(2, 5, 8)).astype("float32")
    layer = LocalitySelfAttention(num_heads=2, key_dim=4)
    _, weights = layer(tokens, return_attention_scores=True)

    def heads(x):  # (B, N, h*k) -> (B, h, N, k)
        return np.asarray(x).reshape(2, 5, 2, 4).transpose(0, 2, 1, 3)

    q, k = (heads(keras.ops.convert_to_numpy(f(tokens))) for f in (layer.query, layer.key))
    scores = q @ k.transpose(0, 1, 3, 2)
    temperature = float(keras.ops.convert_to_numpy(layer.temperature))
    assert temperature == pytest.approx(2.0)  # sqrt(key_dim) at the start
    mine = small_data.lsa_weights(scores, temperature)
    np.testing.assert_allclose(mine, keras.ops.convert_to_numpy(weights), atol=1e-5)
    assert np.allclose(np.diagonal(mine, axis1=-2, axis2=-1), 0)
    plain = small_data.lsa_weights(scores, temperature, diagonal_mask=False)
    assert np.all(np.diagonal(plain, axis1=-2, axis2=-1) > 0)
    np.testing.assert_allclose(plain.sum(axis=-1), 1.0)


def test_private_attention_method():
    found = small_data.private_attention_method()
    assert found["exists"] and found["parameters"][:4] == ["self", "query", "key", "value"]
    assert small_data.private_attention_method("_no_such_method") == {"exists": False, "parameters": None}


# ---- renderers, on small records written here ------------------------------------------------------

PROVENANCE = made_up_provenance("KERAS_BACKEND=tensorflow python -m benchmarks.small_data ablation", machine_busy=True)


def _ablation_record():
    runs = [{"variant": v, "seed": s, "parameters": 1000 + i, "held_out_accuracy": 0.3 + 0.01 * i + 0.02 * s,
             "train_seconds": 40.0, "final_train_accuracy": 0.4}
            for s in (0, 1) for i, (v, _) in enumerate(small_data.ABLATION)]  # fmt: skip
    summary = {}
    for v, _ in small_data.ABLATION:
        values = [r["held_out_accuracy"] for r in runs if r["variant"] == v]
        summary[v] = {"mean": float(np.mean(values)), "stdev": float(np.std(values, ddof=1)),
                      "min": min(values), "max": max(values), "seeds": 2}  # fmt: skip
    return {"model": "course_vit", "dataset_description": "test images", "epochs": 6, "steps": 240,
            "batch_size": 128, "seeds": [0, 1], "runs": runs, "summary": summary, "wall_time_s": 90.0,
            "provenance": PROVENANCE}  # fmt: skip


def _ladder_record():
    steps = [{"step": name, "change": change, "parameters": 100 + i, "images_per_second": None if i == 0 else 10.0 * i,
              "steps": 3 + i, "batch_size": batch, "epochs": 0.5 * i, "held_out_accuracy": 0.1 + 0.05 * i}
             for i, (name, change, _, _, batch) in enumerate(small_data.LADDER)]  # fmt: skip
    return {"dataset_description": "test images", "budget_seconds": 90, "steps": steps,
            "original_recipe": {"epochs": 20, "steps": 200, "batch_size": 512, "estimated_seconds_here": 7200},
            "wall_time_s": 900.0, "provenance": PROVENANCE}  # fmt: skip


def _sweep_record():
    cells = small_data.sweep([2, 8], [16, 64], lambda L, D: {"parameters": L * D, "held_out_accuracy": L / 100})
    settings = {s: {"optimiser": o, "epochs": 1 + i, "batch_size": b, "steps": 10, "cells": cells}
                for i, (s, (_, o, b)) in enumerate(small_data.SWEEP_SETTINGS.items())}  # fmt: skip
    return {"settings": settings, "wall_time_s": 300.0, "provenance": PROVENANCE,
            "parameters_full_grid": small_data.sweep([2], [10], lambda L, D: {"parameters": 5})}  # fmt: skip


def test_tables_render_every_row():
    ablation = small_data.ablation_table(_ablation_record())
    assert all(f"| {v} |" in ablation for v, _ in small_data.ABLATION)
    assert "| plain ViT | 1,000 | 31.0% ± 1.4 | 30.0-32.0% | 2 |" in ablation  # mean of 30% and 32%
    ladder = small_data.ladder_table(_ladder_record())
    assert ladder.count("\n") == len(small_data.LADDER) + 1
    assert "| original |" in ladder and "10.0%" in ladder
    sweep = small_data.sweep_table(_sweep_record(), "fixed")
    assert "| L=8 | 8.0% (128) | 8.0% (512) |" in sweep
    claims = small_data.claims_table()
    assert "53.1%" in claims and "76.9%" in claims and "claim" in claims.lower()


def test_sweep_epochs_per_setting(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1]))  # benchmarks/ is not installed
    from benchmarks.small_data import sweep_epochs

    assert sweep_epochs(["original", "fixed"]) == {"original": 1, "fixed": 3}
    assert sweep_epochs(["fixed"]) == {"fixed": 3}
    assert sweep_epochs(["original", "fixed"], [2]) == {"original": 2, "fixed": 2}
    assert sweep_epochs(["original", "fixed"], [1, 5]) == {"original": 1, "fixed": 5}
    with pytest.raises(SystemExit, match="one per setting"):
        sweep_epochs(["original"], [1, 5])


def test_an_interrupted_sweep_resumes_from_its_finished_cells(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1]))
    from benchmarks import small_data as bench

    monkeypatch.setattr(bench, "PROGRESS", tmp_path / "progress.json")
    monkeypatch.setattr(small_data, "sweep_parameters", lambda depths, dims: [])  # the full grid's counts: not here
    cell = {"parameters": 1, "held_out_accuracy": 0.5, "train_seconds": 1.0, "final_train_accuracy": 0.5}
    bench.PROGRESS.write_text(json.dumps({"fixed, 3 epoch(s), 4/2 images: L=2, D=16": cell}))
    args = argparse.Namespace(settings=["fixed"], epochs=None, depths=[2], dims=[16], count_dims=[10])
    x, y = np.zeros((4, 32, 32, 3), "float32"), np.zeros(4, "int64")
    record = bench.run_sweep(args, x, y, x[:2], y[:2])  # trains nothing: the one cell is done
    assert record["settings"]["fixed"]["cells"] == [{"depth": 2, "dim": 16, **cell}]
    assert not bench.PROGRESS.exists()  # a finished sweep leaves no progress behind
    assert record["parameters_full_grid"] == []
    bench.PROGRESS.write_text("{not json")  # e.g. a file edited by hand
    with pytest.raises(SystemExit, match="delete it"):
        bench.read_progress()


def test_small_data_markdown(tmp_path):
    assert "No recorded run" in small_data.small_data_markdown(tmp_path)
    for name, record in (("ladder", _ladder_record()), ("sweep", _sweep_record()), ("ablation", _ablation_record())):
        (tmp_path / f"small_data_{name}_cpu-2core.json").write_text(json.dumps(record))
    text = small_data.small_data_markdown(tmp_path)
    assert "2.0 hours" in text  # 7,200 s for the original recipe
    assert "1 epoch(s) per cell: 10 steps of 512" in text and "2 epoch(s) per cell: 10 steps of 64" in text
    assert text.count("Record: `results/small_data_") == 3
    assert "busy" in text


def test_recorded_runs_render():
    # the records in results/, where they are: each renders, and holds what the chapter reads
    for file, record in recorded_runs("small_data_"):
        assert record["provenance"]["command"].startswith("KERAS_BACKEND=")
        if "ladder" in file:
            assert [s["step"] for s in record["steps"]] == [s[0] for s in small_data.LADDER]
        if "sweep" in file:
            assert all(run["epochs"] >= 1 and run["cells"] for run in record["settings"].values())
        if "ablation" in file:
            assert len(record["seeds"]) >= 3 and set(record["summary"]) == {v for v, _ in small_data.ABLATION}
    assert small_data.small_data_markdown()


def test_epochs_of_counts_the_short_last_batch():
    assert small_data.epochs_of(10, 512, 5000) == 1.0  # 10 steps of 512 cover the 5,000 images once
    assert small_data.epochs_of(20, 512, 5000) == 2.0
    assert small_data.epochs_of(5, 512, 5000) == pytest.approx(0.512)


def test_train_for_seconds_stops_after_the_budget():
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 255, (16, 32, 32, 3)).astype("float32"), np.arange(16) % 10
    model = small_data.compile_for(_tiny(), "adamw_cosine", total_steps=10)
    run = small_data.train_for_seconds(model, x, y, seconds=0.5, batch_size=8)
    assert run["steps"] >= 2 and run["first_step_seconds"] > 0
    assert run["seconds"] - run["first_step_seconds"] >= 0.5
    assert int(model.optimizer.iterations) == run["steps"]


def test_run_ladder_step_plans_and_trains():
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 255, (32, 32, 32, 3)).astype("float32"), np.arange(32) % 10
    model, run = small_data.run_ladder_step(4, x, y, seconds=0.3, depth=1)  # 4x4 patches, GAP head
    assert run["step"] == small_data.LADDER[4][0] and run["planned_steps"] >= 1
    assert model.count_params() == build_model("patches2x2_cifar10", **{**small_data.LADDER[4][2], "depth": 1}).count_params()
    assert int(model.optimizer.iterations) == run["steps"]
