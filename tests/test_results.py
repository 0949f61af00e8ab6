"""Tests of the recorded results, the tables made from them, and the FLOP counter.

- Every JSON in results/ carries its provenance (command, versions, backend,
  hardware, git commit) and its wall time.
- README.md and benchmarks/README.md hold exactly what ``benchmarks/tables.py``
  regenerates from results/ between their markers: no table is typed by hand.
- The table code and the FLOP counter are checked on made-up inputs.
"""

import dataclasses
import json
import re
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


def generated_parts(path):
    """(the results section, the prose fragments) that ``path`` must hold, from results/."""
    if path == tables.BENCHMARKS_README:
        return tables.benchmarks_section(), tables.findings()
    return results.readme_section(), {}


@pytest.mark.parametrize("path", [tables.README, tables.BENCHMARKS_README], ids=["README.md", "benchmarks/README.md"])
def test_readme_tables_are_generated_from_results(path):
    """Fails (never skips) where a marker is missing or a generated number was edited by hand."""
    assert path.exists(), f"{path.relative_to(ROOT)} is missing"
    section, fragments = generated_parts(path)
    problems = tables.generated_problems(path.read_text(), section, fragments, where=str(path.relative_to(ROOT)))
    assert not problems, "\n".join(problems)


def _good_page():
    section, fragments = "| a | b |\n|---|---:|\n| x | 46.7% |\n", {"noise": "- 6.5% and 3.8% apart."}
    text = (
        f"# Page\n\nProse.\n\n<!-- generated:noise -->\n{fragments['noise']}\n<!-- /generated:noise -->\n\n"
        f"{results.README_START}\n{section}{results.README_END}\nafter\n"
    )
    return text, section, fragments


def test_the_check_passes_a_page_that_holds_what_the_records_give():
    text, section, fragments = _good_page()
    assert tables.generated_problems(text, section, fragments) == []
    assert tables.write_fragments(text, fragments) == text  # regenerating changes nothing


@pytest.mark.parametrize(
    "break_it, says",
    [
        (lambda text: text.replace(results.README_START, ""), "exactly once"),
        (lambda text: text.replace(results.README_END, ""), "exactly once"),
        (lambda text: text.replace("<!-- /generated:noise -->", ""), "exactly once"),
        (lambda text: text.replace("<!-- generated:noise -->", ""), "exactly once"),
        (lambda text: text + f"\n{results.README_START}\n", "appears 2 times"),
        (lambda text: text.replace("46.7%", "49.7%"), "edited by hand"),  # a table's number
        (lambda text: text.replace("6.5%", "10%"), "edited by hand"),  # a sentence's number
        (lambda text: text.replace("| x | 46.7% |\n", "| x | 46.7% |\n| y | 1.0% |\n"), "edited by hand"),
        (lambda text: text.replace(f"{results.README_START}\n", "").replace(
            results.README_END, f"{results.README_END}\n{results.README_START}\n"), "comes before"),
    ],
    ids=["no start", "no end", "no fragment end", "no fragment start", "twice", "table number",
         "sentence number", "added row", "swapped"],
)  # fmt: skip
def test_the_check_fails_a_broken_page(break_it, says):
    text, section, fragments = _good_page()
    broken = break_it(text)
    assert broken != text
    problems = tables.generated_problems(broken, section, fragments)
    assert problems and says in "\n".join(problems), problems


def test_the_check_points_at_the_line_that_differs():
    text, section, fragments = _good_page()
    problems = tables.generated_problems(text.replace("46.7%", "49.7%"), section, fragments, where="README.md")
    assert len(problems) == 1
    assert "README.md" in problems[0] and "| x | 49.7% |" in problems[0] and "| x | 46.7% |" in problems[0]


# ---------------------------------------------------------------------------
# Every number in the prose of benchmarks/README.md is generated or a checked constant.

# A number: 1,143 or 44.9 or 16.9% or 3.9x, not a digit inside a name (bfloat16, CIFAR-10, 8x8, cpu-2core).
NUMBER = re.compile(r"(?<![\w.\-])(\d+(?:,\d{3})*(?:\.\d+)?)(x|%)?(?!\w)")
# Words that state a measured ratio: written as a generated number instead.
RATIO_WORDS = re.compile(r"\b(twice|thrice|half as|double|triple|\w+ times (as|faster|slower|shorter|longer))\b", re.I)


def _gpu_run():
    return (ROOT / "benchmarks" / "gpu_run.sh").read_text()


def _every_schedule():
    runs = [run for prefix in ("equal_budget", "recipe_sweep") for _, record in results.recorded_runs(prefix)
            for run in record["runs"].values()]  # fmt: skip
    return [run["schedule"] for run in runs]


def _peaks_of_h100_sxm():
    from benchmarks.gpu_efficiency import PEAK_TFLOPS

    return tuple(round(value) for value in PEAK_TFLOPS["h100 sxm"])


def _cpu_peak_of(flags, cores=1, mhz=1000, model="X"):
    from benchmarks.gpu_efficiency import cpu_peak

    return cpu_peak(f"model name : {model}\ncpu MHz : {mhz}\nflags : fpu {flags}\n", cores=cores)


def _cpu_peak_lanes():
    return tuple(_cpu_peak_of(flags)["fp32_lanes"] for flags in ("avx2 avx512f", "avx avx2"))


def _fma_units():
    from benchmarks.gpu_efficiency import FMA_UNITS

    return FMA_UNITS


def _kerasio_reference():
    preset = get_preset("kerasio_vit")
    return preset.expected_accuracy.startswith("55% top-1") and preset.epochs == 100


# The numbers of the prose that are not measurements: each with the phrase it sits in, why it is
# there, and a check against the code or the records that says it is still true.
CONSTANTS = [
    (r"Above 25%", "the share of other processes' CPU time above which a record is marked busy",
     lambda: __import__("benchmarks.common").common.BUSY_SHARE == 0.25),
    (r"10% warmup", "the schedule every equal-budget run records",
     lambda: all("(10% warmup)" in schedule for schedule in _every_schedule())),
    (r"420 s", "gpu_run.sh's default training budget", lambda: 'budget="${BUDGET:-420}"' in _gpu_run()),
    (r"batch 256, 512, 1024, 30 steps", "gpu_run.sh's efficiency sweep",
     lambda: "--batch-sizes 256 512 1024 --steps 30" in _gpu_run()),
    (r"989 TFLOP/s bf16, 495 TFLOP/s TF32", "PEAK_TFLOPS of an H100 SXM (NVIDIA's datasheet)",
     lambda: _peaks_of_h100_sxm() == (495, 989)),
    (r"15 minutes of\s+device time", "the device tool's budget per session, in gpu_run.sh's header",
     lambda: "15 minutes of device time a session" in _gpu_run()),
    (r"about 9 minutes", "gpu_run.sh's estimate of its `all` step", lambda: "(~9 min, below)" in _gpu_run()),
    (r"150 s of training each", "gpu_run.sh all's default budget", lambda: 'budget="${BUDGET:-150}"' in _gpu_run()),
    (r"every 5 s of training", "gpu_run.sh all's evaluations", lambda: "--evaluations $((budget / 5))" in _gpu_run()),
    (r"60%, 80% and 90%", "equal_budget's thresholds",
     lambda: __import__("benchmarks.equal_budget").equal_budget.THRESHOLDS == (0.6, 0.8, 0.9)),
    (r"batch\s+1024, in float32", "gpu_run.sh all's efficiency setting",
     lambda: "--batch-sizes 1024 --attention auto --steps 30" in _gpu_run()),
    (r"16 with `avx512f`, 8 with `avx2`", "cpu_peak's lanes", lambda: _cpu_peak_lanes() == (16, 8)),
    (r"\(two per core, one for a Zen 4, whose 512-bit FMAs", "cpu_peak's FMA units", lambda: _fma_units() == 2),
    (r"x 2 x the clock", "a multiply-add is 2 FLOPs: cpu_peak's formula",
     lambda: _cpu_peak_of("avx2", cores=2, mhz=3000)["tflops"] == 2 * 8 * 2 * 2 * 3.0 / 1000),
    (r"10-minute command leaves no room for 600 s", "the lent machine's limit per command",
     lambda: "10 minutes a\n# command" in _gpu_run()),
    (r"keras\.io's 55% after 100 epochs", "keras.io's own claim, kept in the kerasio_vit preset",
     _kerasio_reference),
]  # fmt: skip


def prose_outside_generated(text, fragments):
    """``text`` without its results section and generated fragments, and what those held."""
    held = []
    markers = [(results.README_START, results.README_END)] + [tables.fragment_markers(name) for name in fragments]
    for start, end in markers:
        head, found, rest = text.partition(start)
        inside, found_end, tail = rest.partition(end)
        if found and found_end:
            held.append(inside)
            text = head + tail
    return text, "\n".join(held)


def unexplained_numbers(text, fragments, constants=CONSTANTS):
    """The numbers of ``text``'s prose that are neither in a generated part nor in a listed constant's phrase."""
    prose, generated = prose_outside_generated(text, fragments)
    known = {"".join(m.groups("")) for m in NUMBER.finditer(generated)}
    covered = [m.span() for pattern, _, _ in constants for m in re.finditer(pattern, prose)]
    problems = []
    for m in NUMBER.finditer(prose):
        number = "".join(m.groups(""))
        if number in known or any(a <= m.start() and m.end() <= b for a, b in covered):
            continue
        line = prose.count("\n", 0, m.start()) + 1
        problems.append(f"{number!r} (line {line} of the prose: {prose.splitlines()[line - 1].strip()[:90]!r})")
    problems += [f"{m.group(0)!r}: a ratio in words; generate it from results/" for m in RATIO_WORDS.finditer(prose)]
    return problems


def test_every_number_in_the_benchmarks_prose_is_generated_or_a_checked_constant():
    text = tables.BENCHMARKS_README.read_text()
    problems = unexplained_numbers(text, tables.findings())
    assert not problems, (
        "benchmarks/README.md states numbers that are neither generated from results/ (benchmarks/tables.py, "
        "FINDINGS) nor listed in CONSTANTS of this test: " + "; ".join(problems)
    )
    for pattern, why, check in CONSTANTS:
        assert re.search(pattern, text), f"CONSTANTS lists {pattern!r} ({why}), which the page no longer says"
        assert check(), f"benchmarks/README.md says {pattern!r} ({why}), which the code no longer gives"


def test_the_number_check_catches_a_typed_number():
    fragments = {"noise": "- auto and xla 6.5% apart on JAX, 16.9% on TensorFlow."}
    text = "Intro.\n<!-- generated:noise -->\n{}\n<!-- /generated:noise -->\n".format(fragments["noise"])
    assert unexplained_numbers(text + "As said, 6.5% and 16.9%; bfloat16 on CIFAR-10, 8x8.\n", fragments) == []
    stale = unexplained_numbers(text + "They measured more than 10% apart on JAX.\n", fragments)
    assert len(stale) == 1 and "'10%'" in stale[0]
    assert unexplained_numbers(text + "Above 25% a record is busy.\n", fragments, constants=[]) != []
    assert unexplained_numbers(text + "Above 25% a record is busy.\n", fragments, constants=CONSTANTS[:1]) == []
    assert unexplained_numbers(text + "JAX was twice as fast.\n", fragments)


def test_the_stale_attention_claim_is_what_the_record_says(fake_results):
    """auto vs xla: the gaps on each backend, and the noise they define, come from the record."""
    results_dir, write = fake_results

    def config(backend, mixed, attention, speed):
        return {"backend": backend, "batch_size": 64, "mixed_precision": mixed, "attention": attention,
                "train_images_per_second": speed}  # fmt: skip

    write("gpu_efficiency_cpu-2core", {
        "configurations": [config("jax", False, "auto", 76.9), config("jax", False, "xla", 72.2),
                           config("tensorflow", True, "auto", 265.3), config("tensorflow", True, "xla", 310.2)],
        "provenance": fake_provenance(),
    })  # fmt: skip
    text = tables.throughput_reasons(results_dir)
    assert "jax float32: 76.9 against 72.2 images/s, 6.5% apart" in text
    assert "tensorflow mixed_bfloat16: 265.3 against 310.2 images/s, 16.9% apart" in text
    assert "up to 16.9% between two single measurements is noise" in text
    assert tables.measurement_noise(results_dir) == pytest.approx(310.2 / 265.3 - 1)


def test_findings_say_not_measured_without_records(tmp_path):
    for name, fragment in tables.findings(tmp_path).items():
        assert results.NOT_MEASURED in fragment, name


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
    assert "smoke: 12 s on 2-core CPU (Test CPU), jax" in text and "quick: not yet measured" in text


def test_every_chapter_time_names_the_machine_it_was_measured_on(fake_results, monkeypatch):
    """Two modes recorded on two machines: each figure names its own, and a record without one says so."""
    results_dir, write = fake_results
    monkeypatch.setattr(results, "RESULTS_DIR", results_dir)
    gpu = fake_provenance(gpus=["NVIDIA H200"])
    no_summary = dict(fake_provenance(), hardware={"cpu": "AMD EPYC 9654", "cpu_cores": 16, "gpus": []})
    del no_summary["hardware_summary"]
    write("book_times", {
        "smoke": {"chapters": {"03_x": 11.0}, "total": 11.0, "provenance": fake_provenance()},
        "quick": {"chapters": {"03_x": 4.2}, "total": 4.2, "provenance": gpu},
        "full": {"chapters": {"03_x": 30.0}, "total": 30.0, "provenance": no_summary},
    })  # fmt: skip
    text = results.chapter_times_markdown("03_x")
    assert "smoke: 11 s on 2-core CPU (Test CPU), jax" in text
    assert "quick: 4 s on NVIDIA H200, jax" in text
    assert "full: 30 s on 16-core CPU (AMD EPYC 9654), jax" in text
    assert "not necessarily this one" in text
    # every figure in seconds is followed by the machine it was measured on
    figures = re.findall(r"(\d+) s( on [^;.]+)?", text)
    assert len(figures) == 3 and all(machine for _, machine in figures)

    write("book_times", {"smoke": {"chapters": {"03_x": 11.0}, "total": 11.0, "provenance": {}}})
    assert "smoke: 11 s on a machine the record does not name" in results.chapter_times_markdown("03_x")


def test_hardware_tag_and_summary():
    cpu = {"cpu": "Intel(R) Xeon(R) Processor", "cpu_cores": 2, "gpus": []}
    assert results.hardware_tag(cpu) == "cpu-2core"
    assert results.hardware_summary(cpu) == "2-core CPU (Intel Xeon Processor)"
    gpu = {"cpu": "AMD EPYC", "cpu_cores": 16, "gpus": ["NVIDIA H100 80GB HBM3"]}
    assert results.hardware_tag(gpu) == "nvidia-h100-80gb-hbm3"
    assert results.hardware_summary(gpu) == "NVIDIA H100 80GB HBM3"
    # newer records name the CPU's vector extensions: two "AMD EPYC"s differ by them
    assert results.hardware_summary(dict(cpu, cpu="AMD EPYC", cpu_features="avx2")) == "2-core CPU (AMD EPYC, avx2)"


def test_cpu_features_name_the_widest_vectors_and_the_bfloat16_units():
    from vitcourse.provenance import cpu_features

    assert cpu_features("model name\t: X\nflags\t\t: fpu sse avx avx2 fma") == "avx2"
    assert cpu_features("flags\t: avx avx2 avx512f avx512_bf16 amx_bf16") == "avx512f+avx512_bf16+amx_bf16"
    assert cpu_features("flags\t: sse sse2") == "sse"
    assert cpu_features("processor\t: 0") is None


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
    # a tuple's commas stay inside it
    assert parse_variant("course_vit:conv_filters=(32, 64,128),depth=4")[1] == {"conv_filters": (32, 64, 128), "depth": 4}
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
    assert results.measured_table(record) in chapter and results.measured_table(fake_equal_budget()) in chapter
    assert "](" not in chapter  # no relative links: the book would look for them among its pages
    assert "No recorded benchmarks here" in results.measured_markdown(results_dir / "missing")
    summary = results.readme_section(results_dir)
    assert "best 70.0% validation accuracy with `course_vit: patch_size=8, mixed_bfloat16`" in summary
    assert "against 61.0% for course_vit as it is" in summary


def table_widths(markdown):
    """The number of columns of every table row in ``markdown``."""
    return [line.strip().count("|") - 1 for line in markdown.splitlines() if line.strip().startswith("|")]


def test_the_chapters_tables_are_narrow_and_keep_the_details_in_a_dropdown(fake_results):
    results_dir, write = fake_results
    record = fake_equal_budget()
    record["runs"]["course_vit"]["planned_steps"] = 4
    write("recipe_sweep_cifar10_cpu-2core", record)
    chapter = results.measured_markdown(results_dir)
    widths = table_widths(chapter)
    assert widths and max(widths) <= 6, widths
    # the visible table: recipe, accuracy, the highest mark and when, images seen, pace, hardware
    visible = results.measured_table(record)
    assert visible.splitlines()[0] == (
        "| Recipe | Val accuracy | Highest mark reached | Images seen | Train images/s | Hardware |"
    )
    assert "| course_vit | 61.0% | 60% after 20 s | 192 | 6.4 | 2-core CPU, jax |" in visible
    assert "| kerasio_vit | 40.0% | below 60% | 128 | 6.4 | 2-core CPU, jax |" in visible
    # the details: behind a MyST dropdown, one per record, fences balanced, with what a rerun needs
    blocks = re.findall(r"^```\{dropdown\} Details: results/(\S+)\n(.*?)^```$", chapter, re.S | re.M)
    files = ["equal_budget_cifar10_cpu-2core.json", "recipe_sweep_cifar10_cpu-2core.json"]
    assert [file for file, _ in blocks] == files
    assert chapter.count("```") == 2 * len(blocks)
    details = blocks[0][1]
    for expected in ("0.81M", "3 / ?", "21.67M", "Budget: 30 s", "commit `abc123`", "Command: `KERAS_BACKEND=jax",
                     "2-core CPU (Test CPU)"):  # fmt: skip
        assert expected in details, expected
    assert "3 / 4" in blocks[1][1]
    assert "](" not in chapter  # no relative links: the book would look for them among its pages
    assert "table below" in chapter and "table in the table" not in chapter


def myst_tokens(markdown):
    """``markdown`` parsed by MyST's own parser, as the book parses what a cell displays."""
    from markdown_it.renderer import RendererHTML
    from myst_parser.config.main import MdParserConfig
    from myst_parser.parsers.mdit import create_md_parser

    return create_md_parser(MdParserConfig(), RendererHTML).parse(markdown)


def test_the_chapters_dropdowns_parse_as_myst_directives(fake_results):
    """Each dropdown is one directive whose body holds the detail tables (a backtick in its title would
    turn the fence into inline code, and the tables would spill out of it)."""
    results_dir, _ = fake_results
    tokens = myst_tokens(results.measured_markdown(results_dir))
    dropdowns = [token for token in tokens if token.type == "fence" and token.info.startswith("{dropdown}")]
    assert [token.info for token in dropdowns] == ["{dropdown} Details: results/equal_budget_cifar10_cpu-2core.json"]
    assert "| Recipe | Parameters |" in dropdowns[0].content and "Command:" in dropdowns[0].content
    assert [token.type for token in tokens].count("table_open") == 1  # the visible table; the rest is folded
    with pytest.raises(ValueError, match="backtick"):
        results._dropdown("Details: `x.json`", "body")


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


# ---------------------------------------------------------------------------
# A CPU's peak, from its flags.


def test_cpu_peak_from_flags():
    from benchmarks.gpu_efficiency import cpu_peak, peak_tflops

    def peak(flags, model="Intel(R) Xeon(R)", mhz=2000, cores=2):
        return cpu_peak(f"processor : 0\nmodel name : {model}\ncpu MHz : {mhz}\nflags : fpu {flags}\n", cores=cores)

    xeon = peak("avx avx2 fma avx512f amx_bf16 avx512_bf16")
    assert (xeon["isa"], xeon["fp32_lanes"], xeon["fma_units"], xeon["bf16_units"]) == ("avx512f", 16, 2, "amx_bf16")
    assert xeon["tflops"] == pytest.approx(2 * 16 * 2 * 2 * 2.0 / 1000)
    zen4 = peak("avx avx2 fma avx512f avx512_bf16", model="AMD EPYC 9654")
    assert zen4["fma_units"] == 1 and zen4["tflops"] == pytest.approx(xeon["tflops"] / 2)
    zen5 = peak("avx avx2 fma avx512f avx512_vp2intersect", model="AMD EPYC")
    assert zen5["fma_units"] == 2 and zen5["bf16_units"] is None
    old = peak("sse4_2 avx avx2 fma", mhz=3000, cores=4)
    assert (old["fp32_lanes"], old["tflops"]) == (8, pytest.approx(4 * 8 * 2 * 2 * 3.0 / 1000))
    assert peak("sse4_2")["fp32_lanes"] == 4
    assert cpu_peak("no flags here", cores=1) is None
    # the peak applies to float32 rows on a CPU; bfloat16 on a CPU and unknown devices have none
    assert peak_tflops("CPU", False, xeon) == xeon["tflops"]
    assert peak_tflops("CPU", True, xeon) is None and peak_tflops("CPU", False, None) is None
    assert peak_tflops("NVIDIA H200", True) == 989.4 and peak_tflops("Mystery GPU", False) is None


def test_conv_tokenizer_flops_by_hand():
    # 32x32x3 images, two stages (4, 8 filters) -> 8x8 = 64 tokens of 8 channels, projected to 8
    preset = get_preset(
        "conv_stem_vit", conv_filters=(4, 8), projection_dim=8, num_heads=2, key_dim=4, depth=1,
        mlp_units=(16, 8), num_classes=10,
    )  # fmt: skip
    stem = 2 * 32 * 32 * 9 * 3 * 4 + 2 * 16 * 16 * 9 * 4 * 8
    assert forward_flops(preset)["tokenizer"] == stem + 2 * 64 * 8 * 8
    model = build_model("conv_stem_vit", conv_filters=(4, 8), projection_dim=8, num_heads=2, key_dim=4,
                        depth=1, mlp_units=(16, 8), num_classes=10)  # fmt: skip
    kernels = [w for w in model.weights if "stem_conv" in w.path and w.path.endswith("kernel")]
    assert [tuple(k.shape) for k in kernels] == [(3, 3, 3, 4), (3, 3, 4, 8)]
    # convolutions of stride 2 compute only their output cells: a quarter of each stage's work
    strided = dataclasses.replace(preset, conv_downsample="stride")
    assert forward_flops(strided)["tokenizer"] == stem // 4 + 2 * 64 * 8 * 8


def test_laptop_vit_states_its_recorded_half_hour_runs():
    """The laptop recipe's preset gives the command, hardware, time and accuracy of its recorded runs."""
    preset = get_preset("laptop_vit")
    runs = tables._laptop_runs()
    assert len(runs) >= 2, "the recipe is recorded twice, with two seeds"
    for file, run, record in runs:
        assert f"{100 * run['final_val_accuracy']:.1f}%" in preset.expected_accuracy, file
        # the preset gives the first run's command; the repeat differs only in its --seed (and --out)
        seeded = preset.command.replace("--seed 0", f"--seed {record['split']['seed']}")
        assert record["provenance"]["command"].startswith(seeded), file
        assert f"{record['budget_seconds']:.0f} s" in preset.runtime
        assert record["provenance"]["hardware"]["cpu"] in preset.runtime
    reached = max(run["best_val_accuracy"] for _, run, _ in runs) >= 0.8
    assert ("80% not reached" in preset.expected_accuracy) != reached


def test_conv_stem_vit_states_its_recorded_accuracy():
    """The preset's expected_accuracy repeats the hybrid record's summary, rounded as written."""
    record = results.load_result("hybrid_cifar10_cpu-2core")
    text = get_preset("conv_stem_vit").expected_accuracy
    for name in ("conv_stem_vit", "course_vit"):
        summary = record["summary"][name]
        assert f"{100 * summary['mean']:.1f}% ± {100 * summary['stdev']:.1f}" in text, name
    assert f"{record['steps']} steps of {record['batch_size']}" in text
    assert f"{record['held_out_images']:,} held-out" in text
