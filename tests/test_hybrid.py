"""Chapter 06's package code (vitcourse.hybrid), its recorded run, and the page notice's extra sentence."""

import json
import socket

import keras
import numpy as np
import pytest

from vitcourse import hybrid
from vitcourse.hybrid import (
    feature_tokens_model,
    hybrid_details,
    hybrid_markdown,
    hybrid_table,
    parameter_parts,
    parameter_parts_text,
    pooled_vector_model,
    resnet50_backbone,
    resnet50_features,
    resnet50_grid,
    single_token_as_dense,
    sizes_for_grid,
)
from vitcourse.notice import PageNotice, page_notice
from vitcourse.presets import build_model
from vitcourse.results import load_result
from records import made_up_provenance

# ---- ResNet50's feature map ----------------------------------------------------------------


@pytest.fixture(scope="module")
def resnet_any_size():
    return keras.applications.ResNet50(weights=None, include_top=False, input_shape=(None, None, 3))


@pytest.mark.parametrize("size", [32, 33, 64, 65, 80, 96, 97, 128, 129, 224])
def test_grid_formula_matches_a_built_resnet50(resnet_any_size, size):
    shape = resnet_any_size.compute_output_shape((1, size, size, 3))
    assert shape[1] == shape[2] == resnet50_grid(size)
    assert shape[3] == hybrid.RESNET50_CHANNELS


def test_grid_is_size_over_32_rounded_up():
    assert all(resnet50_grid(s) == -(-s // 32) for s in range(1, 400))


def test_sizes_for_a_3x3_map():
    assert sizes_for_grid(3) == list(range(65, 97))
    assert hybrid.FEATURE_INPUT_SIZE in sizes_for_grid(3)
    assert sizes_for_grid(7)[-1] == 224  # ImageNet's size gives ResNet50's 7x7


def test_untrained_backbone_gives_a_3x3_map_and_never_downloads(monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("weights=None must not download anything")

    monkeypatch.setattr(keras.utils, "get_file", no_download)
    model, pretrained, note = resnet50_backbone(96, weights=None)
    assert model.output_shape == (None, 3, 3, 2048)
    assert pretrained is False
    assert "untrained" in note


def test_backbone_falls_back_when_the_download_fails(monkeypatch):
    real = keras.applications.ResNet50
    seen = []

    def offline(*args, weights="imagenet", **kwargs):
        seen.append(weights)
        if weights is not None:
            raise Exception("URL fetch failure on https://example.invalid/resnet50.h5: None -- no network")
        return real(*args, weights=None, **kwargs)

    monkeypatch.setattr(keras.applications, "ResNet50", offline)
    before = socket.getdefaulttimeout()
    model, pretrained, note = resnet50_backbone(96)
    assert seen == ["imagenet", None]
    assert pretrained is False and model.output_shape == (None, 3, 3, 2048)
    assert "could not be downloaded" in note and "URL fetch failure" in note and "weights=None" in note
    assert socket.getdefaulttimeout() == before  # the timeout set for the download is undone


def test_backbone_reports_imagenet_weights_when_they_load(monkeypatch):
    sentinel = object()
    monkeypatch.setattr(keras.applications, "ResNet50", lambda **kwargs: sentinel)
    assert resnet50_backbone(96) == (sentinel, True, "")


def test_features_of_images_of_any_size():
    model, _, _ = resnet50_backbone(96, weights=None)
    images = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3)).astype("uint8")
    features = resnet50_features(model, images, batch_size=2)
    assert features.shape == (3, 3, 3, 2048) and features.dtype == np.float32
    assert np.isfinite(features).all()
    assert resnet50_features(model, images[:0]).shape == (0, 3, 3, 2048)
    for wrong, hint in ((images[0], "images[None]"), (images[..., :1], "np.repeat")):
        with pytest.raises(ValueError, match=r"\(N, height, width, 3\)") as error:
            resnet50_features(model, wrong)
        assert hint in str(error.value)


# ---- the models ------------------------------------------------------------------------------


def test_feature_tokens_model_shapes_and_parameters():
    model = feature_tokens_model(num_classes=10)
    assert model.input_shape == (None, 3, 3, 2048) and model.output_shape == (None, 10)
    assert model.get_layer("cells_to_tokens").output.shape == (None, 9, 2048)
    assert model.get_layer("patch_encoder").output.shape == (None, 10, 256)  # class token first
    d = 256
    encoder = 2048 * d + d + 10 * d + d  # projection, 9 positions + the class token's, the class token
    block = 4 * d + (4 * d * d + 4 * d) + (d * 2 * d + 2 * d) + (2 * d * d + d)
    assert model.count_params() == encoder + 2 * block + 2 * d + (d * 10 + 10)
    gap = feature_tokens_model(num_classes=10, pooling="gap")
    assert model.count_params() - gap.count_params() == 2 * d


def test_feature_tokens_model_sees_the_order_of_cells_only_through_positions():
    keras.utils.set_random_seed(0)
    model = feature_tokens_model(num_classes=5, projection_dim=32, depth=1)
    x = np.random.default_rng(1).normal(size=(2, 3, 3, 2048)).astype("float32")
    shuffled = x.reshape(2, 9, -1)[:, np.random.default_rng(2).permutation(9)].reshape(x.shape)

    def out(inputs):
        return keras.ops.convert_to_numpy(model(inputs, training=False))

    assert not np.allclose(out(x), out(shuffled), atol=1e-5)
    table = model.get_layer("patch_encoder").positions.table
    table.assign(np.zeros(table.shape, "float32"))
    np.testing.assert_allclose(out(x), out(shuffled), atol=1e-4)


def test_feature_tokens_model_refuses_an_unknown_pooling():
    with pytest.raises(ValueError, match="class_token"):
        feature_tokens_model(pooling="flatten")


def test_pooled_vector_model():
    assert pooled_vector_model(num_classes=10).count_params() == 2048 * 10 + 10
    assert pooled_vector_model(num_classes=10, hidden_units=64).count_params() == 2048 * 64 + 64 + 64 * 10 + 10
    assert pooled_vector_model(num_classes=100).output_shape == (None, 100)


@pytest.mark.parametrize("heads, key_dim, dim", [(1, 4, 4), (4, 16, 64), (3, 5, 7)])
def test_single_token_attention_is_one_linear_layer(heads, key_dim, dim):
    attention = keras.layers.MultiHeadAttention(heads, key_dim)
    attention.build((None, 1, dim), (None, 1, dim))
    rng = np.random.default_rng(heads)
    attention.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in attention.get_weights()])
    x = rng.normal(size=(6, 1, dim)).astype("float32")
    w, b = single_token_as_dense(attention)
    assert w.shape == (dim, dim) and b.shape == (dim,)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(attention(x, x)), x @ w + b, atol=1e-4)


def test_single_token_as_dense_inside_a_transformer_block():
    model = build_model("course_vit", depth=1, num_classes=10)
    w, b = single_token_as_dense(model.get_layer("block_0").attention)
    assert w.shape == (128, 128) and b.shape == (128,)


def test_parameter_parts_of_the_readers_model():
    model = build_model("resnet_features_flatten")
    parts = {part: (layers, params) for part, layers, params, _ in parameter_parts(model)}
    assert sum(params for _, params in parts.values()) == model.count_params() == 138_869_348
    assert parts["Flatten -> Dense on all features at once"] == (1, 84_939_264)
    assert parts["transformer blocks"][0] == 8
    assert parts["head MLP after Flatten"] == (2, 4608 * 2048 + 2048 + 2048 * 1024 + 1024)
    assert abs(sum(share for *_, share in parameter_parts(model)) - 1) < 1e-9
    text = parameter_parts_text(model)
    assert "84,939,264" in text and text.splitlines()[-1].split()[-2] == "138,869,348"


# ---- the recorded run ------------------------------------------------------------------------

PROVENANCE = made_up_provenance("KERAS_BACKEND=tensorflow python -m benchmarks.hybrid")


def small_record():
    runs = []
    for seed, (a, b) in enumerate([(0.40, 0.50), (0.42, 0.52)]):
        for name, accuracy, params, seconds in (("course_vit", a, 545_930, 70.0), ("conv_stem_vit", b, 631_818, 130.0)):
            runs.append({"model": name, "seed": seed, "parameters": params, "steps": 312, "train_seconds": seconds,
                         "final_train_loss": 1.5, "final_train_accuracy": 0.45, "held_out_accuracy": accuracy})  # fmt: skip
    summary = {
        "course_vit": {"mean": 0.41, "stdev": 0.0141, "min": 0.40, "max": 0.42, "seeds": 2, "parameters": 545_930,
                       "train_seconds": {"mean": 70.0, "stdev": 0.0, "min": 70.0, "max": 70.0, "seeds": 2}},
        "conv_stem_vit": {"mean": 0.51, "stdev": 0.0141, "min": 0.50, "max": 0.52, "seeds": 2, "parameters": 631_818,
                          "train_seconds": {"mean": 130.0, "stdev": 0.0, "min": 130.0, "max": 130.0, "seeds": 2}},
    }  # fmt: skip
    return {
        "benchmark": "hybrid", "dataset_description": "CIFAR-10 (JPEG copy)", "train_images": 10_000,
        "held_out_images": 2_000, "epochs": 4, "batch_size": 128, "steps": 312,
        "equal_budget": "312 optimizer steps of 128 images for every run", "schedule": "AdamW",
        "seeds": [0, 1], "seed_controls": "the initialisation", "runs": runs, "summary": summary,
        "wall_time_s": 800.0, "provenance": PROVENANCE,
    }  # fmt: skip


def test_hybrid_table_is_narrow_and_gives_both_models_with_parameters_and_seconds():
    table = hybrid_table(small_record())
    lines = table.splitlines()
    assert len(lines) == 4 and lines[0].count("|") - 1 <= 6  # the chapters' tables stay narrow
    assert "`conv_stem_vit`" in lines[3] and "631,818" in lines[3] and "51.0% ± 1.4" in lines[3]
    assert "50.0-52.0%" in lines[3] and "| 130 |" in lines[3] and "2-core CPU, tensorflow" in lines[3]


def test_hybrid_details_give_every_run_and_the_command():
    details = hybrid_details(small_record(), "hybrid_cifar10_test.json")
    assert details.count("course_vit") >= 2 and "52.0%" in details
    assert "python -m benchmarks.hybrid" in details and "results/hybrid_cifar10_test.json" in details


def test_hybrid_markdown_reads_the_records_of_a_folder(tmp_path):
    assert "No recorded hybrid run" in hybrid_markdown(tmp_path)
    (tmp_path / "hybrid_cifar10_test.json").write_text(json.dumps(small_record()))
    text = hybrid_markdown(tmp_path)
    assert "results/hybrid_cifar10_test.json" in text and "2,000 held-out images" in text
    assert "```{dropdown} Details: results/hybrid_cifar10_test.json" in text


def test_hybrid_markdown_dropdown_parses_as_a_myst_directive(tmp_path):
    from markdown_it.renderer import RendererHTML
    from myst_parser.config.main import MdParserConfig
    from myst_parser.parsers.mdit import create_md_parser

    (tmp_path / "hybrid_cifar10_test.json").write_text(json.dumps(small_record()))
    tokens = create_md_parser(MdParserConfig(), RendererHTML).parse(hybrid_markdown(tmp_path))
    dropdowns = [t for t in tokens if t.type == "fence" and t.info.startswith("{dropdown}")]
    assert [t.info for t in dropdowns] == ["{dropdown} Details: results/hybrid_cifar10_test.json"]
    assert "| Model | Seed |" in dropdowns[0].content and "Command:" in dropdowns[0].content
    assert [t.type for t in tokens].count("table_open") == 1  # the visible table; the runs are folded


def test_plot_hybrid_record():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    hybrid.plot_hybrid_record(small_record(), ax)
    assert len(ax.patches) == 2 and len(ax.collections) == 2
    plt.close(fig)


RECORD = load_result("hybrid_cifar10_cpu-2core")


@pytest.mark.skipif(RECORD is None, reason="no recorded hybrid run in results/")
def test_the_recorded_run_is_complete_and_consistent():
    record = RECORD
    assert record["provenance"]["command"].split(" python ")[1].startswith("-m benchmarks.hybrid")
    assert set(record["summary"]) == {"course_vit", "conv_stem_vit"}
    assert len(record["seeds"]) >= 3
    assert {run["steps"] for run in record["runs"]} == {record["steps"]}  # an equal budget
    for name, row in record["summary"].items():
        runs = [run for run in record["runs"] if run["model"] == name]
        values = [run["held_out_accuracy"] for run in runs]
        assert len(runs) == row["seeds"] == len(record["seeds"])
        assert row["mean"] == pytest.approx(np.mean(values), abs=1e-4)
        assert row["min"] == min(values) and row["max"] == max(values)
        # the parameter counts recorded are those of the models the presets build today
        assert row["parameters"] == build_model(name, depth=4, num_classes=10).count_params()
    assert "No recorded" not in hybrid_markdown()


# ---- the page notice's extra sentence ----------------------------------------------------------


def test_notice_without_extra_is_unchanged():
    assert page_notice("smoke") == page_notice("smoke", extra=None) == page_notice("smoke", extra="  ")
    assert repr(PageNotice("quick")) == page_notice("quick")


def test_notice_with_an_extra_sentence():
    extra = "ImageNet weights <cannot> be downloaded offline."
    text = page_notice("smoke", extra=extra)
    assert extra in text and text.index("generated stand-in") < text.index(extra) < text.index("Numbers computed")
    html = PageNotice("smoke", extra)._repr_html_()
    assert "&lt;cannot&gt;" in html and "<cannot>" not in html
