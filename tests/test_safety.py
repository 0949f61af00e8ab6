"""Nothing lost, nothing silently wrong.

Each case is something a reader does that used to delete their files, overwrite
a finished run, train on broken numbers or end in a raw traceback. Each must
now raise an error whose message says what was wrong and how to fix it, and
leave every file as it was.
"""

import io
import os
import tarfile
import tempfile
import types

import numpy as np
import pytest
from tiny_training import InterruptAt, tiny_data, tiny_model

import vitcourse
from vitcourse import data
from vitcourse.layers import ShiftedPatchTokenization, TransformerBlock
from vitcourse.training import OutDirError, train


def snapshot(folder):
    """Every file under ``folder`` with its bytes, to check that nothing changed."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def run(out_dir, model=None, data=None, **kwargs):
    """A tiny run: 3 epochs of 4 steps (64 images less the 10% held out, in batches of 16)."""
    settings = {"epochs": 3, "batch_size": 16, "verbose": 0, **kwargs}
    model = tiny_model() if model is None else model
    return train(model, tiny_data() if data is None else data, out_dir, **settings)


def interrupted_run(out_dir):
    """A run of 3 epochs stopped after 2, as by a Ctrl-C or a Colab disconnect."""
    with pytest.raises(KeyboardInterrupt):
        run(out_dir, callbacks=[InterruptAt(2)])
    return out_dir


# --- train's out_dir: what it refuses, and that it then changes nothing -------------------


def users_backup_folder(out):
    (out / "backup").mkdir(parents=True)
    (out / "backup" / "thesis.tex").write_text("the reader's own file")


def users_file_beside_an_interrupted_run(out):
    interrupted_run(out)
    (out / "notes.txt").write_text("the reader's own file")


def users_file_in_the_runs_backup(out):
    interrupted_run(out)
    (out / "backup" / "mine.txt").write_text("the reader's own file")


def finished_run(out):
    run(out, epochs=2)


# name: (prepare out_dir, the call's settings, words the message must contain)
OUT_DIR_CASES = {
    "a folder backup/ of the user's": (
        users_backup_folder, {}, ["backup/", "did not write", "nothing was changed", "--out"]),
    "the user's file beside a run": (
        users_file_beside_an_interrupted_run, {}, ["notes.txt", "did not write", "new or empty folder"]),
    "the user's file inside the backup": (
        users_file_in_the_runs_backup, {}, ["backup/mine.txt", "did not write"]),
    "overwrite never deletes the user's files": (
        users_backup_folder, {"overwrite": True}, ["backup/", "did not write"]),
    "a finished run": (
        finished_run, {"epochs": 2}, ["finished run (2 epochs)", "new out_dir", "--overwrite"]),
    "a finished run, called with more epochs": (
        finished_run, {"epochs": 5}, ["finished run", "--out NEW_FOLDER", "overwrite=True"]),
    "fewer epochs than already completed": (
        interrupted_run, {"epochs": 1}, ["already completed 2 epochs", "more than epochs=1", "epochs=3", "--overwrite"]),
    "another batch size": (
        interrupted_run, {"batch_size": 8}, ["other settings", "batch_size 16 there, 8 now", "--overwrite"]),
    "another learning rate": (
        interrupted_run, {"learning_rate": 5e-3}, ["learning_rate 0.001 there, 0.005 now", "new out_dir"]),
    "another seed": (interrupted_run, {"seed": 1}, ["seed 0 there, 1 now", "repeat its settings"]),
    "another dataset": (interrupted_run, {"data": tiny_data(seed=1)}, ["other settings", "data "]),
    "another model size": (
        interrupted_run, {"model": tiny_model(num_classes=12)}, ["parameters 1930 there, 2316 now"]),
    "another preset, dataset or mode (the command line's run_info)": (
        interrupted_run, {"run_info": {"preset": "course_vit", "dataset": "cifar10", "mode": "smoke"}},
        ["dataset 'not recorded' there, 'cifar10' now", "preset"]),
}


@pytest.mark.parametrize("case", sorted(OUT_DIR_CASES))
def test_train_refuses_an_out_dir_and_changes_nothing(case, tmp_path):
    prepare, settings, words = OUT_DIR_CASES[case]
    out = tmp_path / "run"
    prepare(out)
    before = snapshot(out)
    with pytest.raises(OutDirError) as info:
        run(out, **settings)
    message = str(info.value)
    for word in words:
        assert word in message, f"{case}: {word!r} not in {message!r}"
    assert snapshot(out) == before, "a refused call changed files"


def test_overwrite_replaces_a_finished_run(tmp_path):
    out = tmp_path / "run"
    finished_run(out)
    result = run(out, epochs=1, overwrite=True)
    assert result.history["epoch"] == [1]
    assert sorted(p.name for p in out.iterdir()) == ["best.keras", "history.json"]


def test_a_matching_call_resumes(tmp_path):
    out = interrupted_run(tmp_path / "run")
    result = run(out, model=tiny_model(seed=7))  # a fresh model, as after a restarted runtime
    assert result.initial_epoch == 2 and result.history["epoch"] == [1, 2, 3]


def test_a_read_only_out_dir_is_refused(tmp_path, monkeypatch):
    out = tmp_path / "read_only"
    out.mkdir()
    out.chmod(0o555)
    if os.access(out, os.W_OK):  # root writes anywhere: let the OS refuse as it would for a user
        def refuse(*args, **kwargs):
            raise PermissionError(13, "Permission denied", str(out))

        monkeypatch.setattr(tempfile, "TemporaryFile", refuse)
    try:
        with pytest.raises(OutDirError) as info:
            run(out)
    finally:
        out.chmod(0o755)
    message = str(info.value)
    assert "Cannot write into out_dir" in message and "Permission denied" in message
    assert "folder you can write to" in message and "--out" in message
    assert list(out.iterdir()) == []


# --- broken numbers stop training; best.keras is never written from them ------------


def with_bad_pixel(split, value):
    bad = tiny_data()
    x = getattr(bad, f"x_{split}").astype("float32")
    x[3, 2, 1, 0] = value
    setattr(bad, f"x_{split}", x)
    return bad


@pytest.mark.parametrize(
    "split, value", [("train", np.nan), ("train", np.inf), ("test", -np.inf), ("test", np.nan)]
)
def test_nan_or_infinite_pixels_are_refused_before_training(split, value, tmp_path):
    with pytest.raises(ValueError) as info:
        run(tmp_path / "run", data=with_bad_pixel(split, value))
    message = str(info.value)
    for word in (f"x_{split}", "NaN or infinite", "the first is image 3", "np.nan_to_num"):
        assert word in message, message
    assert not (tmp_path / "run").exists()


def test_a_nan_loss_stops_training_and_saves_no_best_model(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(FloatingPointError) as info:
        run(out, model=tiny_model(scale=float("nan")))  # every output, hence the loss, is NaN
    message = str(info.value)
    for word in ("epoch 1", "loss nan", "Lower the learning rate", "--overwrite"):
        assert word in message, message
    assert not (out / "best.keras").exists()
    assert not (out / "backup").exists()


# --- bad arguments: a clear error instead of a raw Keras/TensorFlow traceback -------------


MODEL_CASES = {
    "patch_size=0": (lambda: vitcourse.build_model("course_vit", patch_size=0), ["patch_size=0", ">= 1"]),
    "a non-square input shape": (
        lambda: vitcourse.build_model("course_vit", input_shape=(32, 64, 3)),
        ["(32, 64, 3) is not square", "Resize the images to 32x32", "image_size=32"]),
    "a grey input shape": (
        lambda: vitcourse.build_model("course_vit", input_shape=(32, 32, 1)),
        ["1 channel", "RGB", "np.repeat(x, 3, axis=-1)", "augmentation='none'"]),
    "a rank-2 input shape": (
        lambda: vitcourse.build_model("course_vit", input_shape=(32, 32)),
        ["input_shape=(32, 32)", "(height, width, channels)", "x[..., None]"]),
    "mlp_units=64, an int": (
        lambda: vitcourse.build_model("course_vit", mlp_units=64), ["mlp_units=64", "tuple of layer sizes"]),
    "mlp_units not ending at the token size": (
        lambda: vitcourse.build_model("course_vit", mlp_units=(256, 64)), ["projection_dim=128", "(256, 128)"]),
    "num_classes=0": (
        lambda: vitcourse.build_model("course_vit", num_classes=0), ["num_classes=0", "at least 2 classes"]),
    "num_classes=1": (
        lambda: vitcourse.build_model("course_vit", num_classes=1), ["num_classes=1", "at least 2 classes"]),
    "depth=0": (lambda: vitcourse.build_model("course_vit", depth=0), ["depth=0", ">= 1"]),
    "depth=-2": (lambda: vitcourse.build_model("kerasio_vit", depth=-2), ["depth=-2", ">= 1"]),
    "epsilon=0": (lambda: vitcourse.build_model("course_vit", epsilon=0), ["epsilon=0", "must be > 0"]),
    "epsilon<0": (lambda: vitcourse.build_model("vit_small_ds", epsilon=-1e-6), ["epsilon", "must be > 0"]),
    "TransformerBlock mlp_units=64": (
        lambda: TransformerBlock(4, 16, 64), ["mlp_units must be a list of layer sizes", "[128, 64]"]),
    "TransformerBlock epsilon=0": (lambda: TransformerBlock(4, 16, [64], epsilon=0), ["epsilon must be > 0"]),
    "ShiftedPatchTokenization epsilon<0": (
        lambda: ShiftedPatchTokenization(4, 16, epsilon=-1.0), ["epsilon must be > 0"]),
}


@pytest.mark.parametrize("case", sorted(MODEL_CASES))
def test_bad_model_arguments_get_a_clear_error(case):
    action, words = MODEL_CASES[case]
    with pytest.raises(ValueError) as info:
        action()
    message = str(info.value)
    for word in words:
        assert word in message, f"{case}: {word!r} not in {message!r}"


@pytest.mark.parametrize("seed", [-1, 0.5, True])
def test_train_refuses_a_bad_seed(seed, tmp_path):
    with pytest.raises(ValueError, match=r"seed must be a whole number >= 0"):
        run(tmp_path / "run", seed=seed)
    assert not (tmp_path / "run").exists()


# --- the JPEG copy: never delete what it did not write, never extract outside dest --------


def tarball_with(path, member, content=b"x"):
    """A tarball holding a normal train/ file and ``member`` (a TarInfo); returns its sha256."""
    with tarfile.open(path, "w:gz") as tar:
        fine = tarfile.TarInfo("train/cat/0000.jpg")
        fine.size = 1
        tar.addfile(fine, io.BytesIO(b"x"))
        if member.isfile():
            member.size = len(content)
            tar.addfile(member, io.BytesIO(content))
        else:
            tar.addfile(member)
    return data.file_digest(path, "sha256")


def member(name, kind=tarfile.REGTYPE, linkname=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info


UNSAFE_MEMBERS = {
    "an absolute path": (member("/tmp/vitcourse-escaped.txt"), "absolute or goes up"),
    "a path going up": (member("train/../../escaped.txt"), "absolute or goes up"),
    "a symlink out of dest": (member("train/cat/link", tarfile.SYMTYPE, "../../../outside"), "links to"),
    "an absolute symlink": (member("train/cat/passwd", tarfile.SYMTYPE, "/etc/passwd"), "links to"),
    "a hard link out of dest": (member("train/cat/hard", tarfile.LNKTYPE, "/etc/passwd"), "links to"),
    "a character device": (member("train/cat/tty", tarfile.CHRTYPE), "device or FIFO"),
    "a FIFO": (member("train/cat/pipe", tarfile.FIFOTYPE), "device or FIFO"),
}


@pytest.mark.parametrize("has_data_filter", [True, False], ids=["with data filter", "without (Python 3.10)"])
@pytest.mark.parametrize("case", sorted(UNSAFE_MEMBERS))
def test_unsafe_tar_members_are_refused_before_extracting(case, has_data_filter, tmp_path, monkeypatch):
    if not has_data_filter:
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    unsafe, words = UNSAFE_MEMBERS[case]
    tarball = tmp_path / "evil.tar.gz"
    sha256 = tarball_with(tarball, unsafe)
    dest = tmp_path / "deep" / "dest"
    with pytest.raises(ValueError) as info:
        data.extract_cifar10_jpeg(tarball, dest, sha256=sha256)
    message = str(info.value)
    for word in (repr(unsafe.name), words, "Nothing was extracted", "intact copy"):
        assert word in message, message
    assert not (dest / "train").exists() and not (dest / ".complete").exists()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["deep", "dest", "evil.tar.gz"]


def test_extract_keeps_an_existing_train_folder(tmp_path):
    tarball = tmp_path / "copy.tar.gz"
    sha256 = tarball_with(tarball, member("train/dog/0000.jpg"))
    dest = tmp_path / "dest"
    (dest / "train").mkdir(parents=True)
    (dest / "train" / "holiday.jpg").write_bytes(b"the reader's photo")
    with pytest.raises(FileExistsError) as info:
        data.extract_cifar10_jpeg(tarball, dest, sha256=sha256)
    assert "not extracted by extract_cifar10_jpeg" in str(info.value) and "another dest" in str(info.value)
    assert snapshot(dest) == {"train/holiday.jpg": b"the reader's photo"}


def test_safe_tarball_still_extracts_without_the_data_filter(tmp_path, monkeypatch):
    monkeypatch.delattr(tarfile, "data_filter", raising=False)
    tarball = tmp_path / "copy.tar.gz"
    sha256 = tarball_with(tarball, member("train/cat/1", tarfile.SYMTYPE, "0000.jpg"))  # a link inside
    train_dir = data.extract_cifar10_jpeg(tarball, tmp_path / "dest", sha256=sha256)
    assert (train_dir / "cat" / "1").read_bytes() == b"x"


def test_a_16_bit_png_is_not_white(tmp_path):
    from PIL import Image

    (tmp_path / "scans" / "x").mkdir(parents=True)
    Image.fromarray(np.full((4, 4), 32896, np.uint16)).save(tmp_path / "scans" / "x" / "mid.png")  # mid grey
    images, _, _ = data.load_image_folder(tmp_path / "scans")
    assert images.max() == images.min() == 128  # 32896 / 257, not 255


def test_train_with_a_data_object_missing_arrays(tmp_path):
    with pytest.raises(ValueError, match="data has no x_test, y_test"):
        run(tmp_path / "run", data=types.SimpleNamespace(x_train=np.zeros((2, 8, 8, 3)), y_train=[0, 1]))
    assert not (tmp_path / "run").exists()
