"""Tests of the command line (``python -m vitcourse``) and of vitcourse.provenance."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from vitcourse import training
from vitcourse.__main__ import main
from vitcourse.provenance import provenance, write_json

REPO = Path(__file__).resolve().parent.parent
PROVENANCE_KEYS = {"command", "utc_time", "git_commit", "python", "packages", "backend", "hardware", "run_mode"}


def run_cli(*args, cwd):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    env.setdefault("KERAS_BACKEND", keras.backend.backend())
    return subprocess.run(
        [sys.executable, "-m", "vitcourse", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_train_command_writes_metrics(tmp_path):
    out = tmp_path / "run"
    # course_vit cut to one block without augmentation compiles in seconds, on JAX too
    done = run_cli(
        "train", "--preset", "course_vit", "--dataset", "synthetic10", "--epochs", "1",
        "--mode", "smoke", "--out", str(out), "--set", "depth=1", "--set", "augmentation=none",
        "--quiet",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert str(out) in done.stdout  # says where the results went

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["preset"] == "course_vit"
    assert metrics["dataset"] == "synthetic10"
    assert metrics["mode"] == "smoke"
    assert metrics["epochs"] == 1
    assert metrics["batch_size"] == 64  # smoke mode's
    assert metrics["overrides"]["depth"] == 1
    assert metrics["overrides"]["augmentation"] == "none"
    assert metrics["num_classes"] == 10
    # the validation images are held out of the training images; the test split is untouched
    assert metrics["train_images"] + metrics["val_images"] == 256 and metrics["test_images"] == 128
    assert metrics["parameters"] > 0
    assert metrics["history"]["epoch"] == [1]
    assert len(metrics["history"]["val_accuracy"]) == 1
    assert 0.0 <= metrics["final_test_accuracy"] <= 1.0
    assert 0.0 <= metrics["final_test_top5_accuracy"] <= 1.0
    assert metrics["best_val_accuracy"] == pytest.approx(max(metrics["history"]["val_accuracy"]))
    assert metrics["wall_time_s"] > 0
    assert all(len(pair) == 3 and pair[2] > 0 for pair in metrics["most_confused"])

    record = metrics["provenance"]
    assert set(record) >= PROVENANCE_KEYS
    assert record["command"].startswith("python -m vitcourse train --preset course_vit")
    assert record["backend"] == keras.backend.backend()
    assert record["run_mode"] == "smoke"
    assert record["packages"]["keras"] == keras.__version__
    assert (out / "history.json").exists() and (out / "best.keras").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--preset", "no_such_vit", "--dataset", "synthetic10"], "Unknown preset 'no_such_vit'"),
        (["--preset", "course_vit", "--dataset", "no_such_data"], "Unknown dataset 'no_such_data'"),
        (["--preset", "course_vit", "--dataset", "synthetic10", "--set", "no_such_field=1"], "no_such_field"),
    ],
)
def test_unknown_names_exit_2_with_a_clear_message(args, message, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VITCOURSE_MODE", "smoke")  # main() sets it; this restores it afterwards
    code = main(["train", *args, "--mode", "smoke", "--out", str(tmp_path / "run")])
    stderr = capsys.readouterr().err
    assert code == 2
    assert message in stderr
    assert "Choose one of" in stderr or "Valid fields" in stderr  # says how to fix it
    assert len(stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_bad_set_syntax_is_a_usage_error(capsys):
    from vitcourse.__main__ import _override

    assert _override("depth=2") == ("depth", 2)
    assert _override("mlp_units=(64, 32)") == ("mlp_units", (64, 32))
    assert _override("pooling=gap") == ("pooling", "gap")  # bare words stay strings
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--preset", "course_vit", "--dataset", "synthetic10", "--set", "depth"])
    assert exit_info.value.code == 2
    assert "expected key=value" in capsys.readouterr().err


def test_provenance_record():
    record = provenance(["python", "-m", "vitcourse", "train", "--out", "runs/a b"])
    assert set(record) >= PROVENANCE_KEYS
    assert record["command"] == "python -m vitcourse train --out 'runs/a b'"
    assert record["backend"] == keras.backend.backend()
    assert record["packages"]["keras"] == keras.__version__
    assert record["packages"]["numpy"] == np.__version__
    commit = record["git_commit"]
    assert commit == "unknown" or len(commit.removesuffix("+dirty")) == 40
    assert record["hardware"]["cpu_cores"] >= 1
    assert isinstance(record["hardware"]["gpus"], list)
    assert record["utc_time"].endswith("+00:00")
    json.dumps(record)  # JSON-ready as it is
    assert provenance("given command")["command"] == "given command"


def test_write_json_is_atomic_and_plain(tmp_path):
    path = tmp_path / "deep" / "metrics.json"
    write_json(path, {"old": True})
    write_json(path, {"accuracy": np.float32(0.5), "counts": np.arange(3), "loss": float("nan"), "dir": tmp_path})
    assert json.loads(path.read_text()) == {
        "accuracy": 0.5,
        "counts": [0, 1, 2],
        "loss": None,  # NaN is not JSON
        "dir": str(tmp_path),
    }
    assert [p.name for p in path.parent.iterdir()] == ["metrics.json"]  # no temporary file left
    with pytest.raises(TypeError):
        write_json(path, {"bad": object()})
    assert json.loads(path.read_text())["accuracy"] == 0.5  # a failed write leaves the old file
    assert [p.name for p in path.parent.iterdir()] == ["metrics.json"]


# --- what the command line refuses, and Ctrl-C -----------------------------------------

# course_vit cut to one block without augmentation, on smoke mode's 256 generated images
SMALL_RUN = [
    "train", "--preset", "course_vit", "--dataset", "synthetic10", "--mode", "smoke",
    "--set", "depth=1", "--set", "augmentation=none", "--quiet",
]  # fmt: skip


def train_command(monkeypatch, capsys, *args):
    """Runs ``python -m vitcourse train ...`` in this process; returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("VITCOURSE_MODE", "smoke")  # main() sets it; this restores it afterwards
    code = main([*SMALL_RUN, *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_negative_seed_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*SMALL_RUN, "--seed", "-1", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert "--seed" in err and "must be a whole number >= 0" in err
    assert "dataset" not in err.splitlines()[-1]  # it blames the seed, not the data
    assert not (tmp_path / "run").exists()


def test_an_out_folder_holding_the_users_backup_is_refused(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    (out / "backup").mkdir(parents=True)
    (out / "backup" / "thesis.tex").write_text("the reader's own file")
    code, stdout, err = train_command(monkeypatch, capsys, "--out", str(out))
    assert code == 2
    assert "Resuming" not in stdout and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert "did not write (backup/)" in err and "--out NEW_FOLDER" in err
    assert (out / "backup" / "thesis.tex").read_text() == "the reader's own file"
    assert sorted(p.name for p in out.rglob("*")) == ["backup", "thesis.tex"]


def test_a_read_only_out_folder_is_refused(tmp_path, monkeypatch, capsys):
    out = tmp_path / "read_only"
    out.mkdir()
    out.chmod(0o555)
    if os.access(out, os.W_OK):  # root writes anywhere: let the OS refuse as it would for a user
        def refuse(*args, **kwargs):
            raise PermissionError(13, "Permission denied", str(out))

        monkeypatch.setattr(training.tempfile, "TemporaryFile", refuse)
    try:
        code, _, err = train_command(monkeypatch, capsys, "--out", str(out))
    finally:
        out.chmod(0o755)
    assert code == 2 and "Traceback" not in err
    assert "Cannot write into out_dir" in err and "Permission denied" in err and "--out" in err
    assert list(out.iterdir()) == []


@pytest.mark.slow
def test_ctrl_c_then_resume_then_refuse_to_overwrite(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    command = ["--epochs", "3", "--out", str(out)]
    original = training.JsonHistory.on_epoch_begin

    def ctrl_c_at_epoch_3(self, epoch, logs=None):
        original(self, epoch, logs)
        if epoch == 2:
            raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(training.JsonHistory, "on_epoch_begin", ctrl_c_at_epoch_3)
        code, _, err = train_command(monkeypatch, capsys, *command)
    assert code == 130 and "Traceback" not in err
    assert err.strip().splitlines() == [
        f"Interrupted. Run the same command again to resume at epoch 3 of 3 "
        f"(the state is saved in {out / 'backup'})."
    ]

    # other settings, or fewer epochs than done, are refused and change nothing
    before = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    code, _, err = train_command(monkeypatch, capsys, *command, "--batch-size", "32")
    assert code == 2 and "other settings" in err and "batch_size 64 there, 32 now" in err
    code, _, err = train_command(monkeypatch, capsys, "--epochs", "1", "--out", str(out))
    assert code == 2 and "already completed 2 epochs" in err and "--epochs" in err
    code, _, err = train_command(monkeypatch, capsys, *command, "--set", "projection_dim=64",
                                 "--set", "mlp_units=(64,)")  # fmt: skip
    assert code == 2 and "overrides" in err
    assert {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before

    # the same command resumes
    code, stdout, err = train_command(monkeypatch, capsys, *command)
    assert code == 0, err
    assert "resumed at epoch 3" in stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["resumed_from_epoch"] == 2 and metrics["history"]["epoch"] == [1, 2, 3]

    # a finished run is not overwritten, unless asked
    finished = (out / "metrics.json").read_bytes()
    code, _, err = train_command(monkeypatch, capsys, *command)
    assert code == 2 and "finished run (3 epochs)" in err and "--overwrite" in err
    assert (out / "metrics.json").read_bytes() == finished
    code, _, err = train_command(monkeypatch, capsys, "--epochs", "1", "--out", str(out), "--overwrite")
    assert code == 0, err
    assert json.loads((out / "metrics.json").read_text())["history"]["epoch"] == [1]
