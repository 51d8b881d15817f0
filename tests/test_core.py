"""Unit tests of the aigc_course core: config, results, check, data, metrics, plot."""

import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import aigc_course as ac
from aigc_course import check, config, results
from aigc_course.data import TensorSplit, load_digits
from aigc_course.metrics import accuracy, digits_frechet_distance, frechet_distance, gaussian_stats


# --------------------------------------------------------------------------- import speed
def test_import_is_fast_and_light():
    code = ("import time, sys; t = time.perf_counter(); import aigc_course; "
            "print(time.perf_counter() - t); "
            "print(sorted(m for m in ('torch', 'tensorflow', 'transformers', 'librosa') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds, heavy = out.stdout.strip().splitlines()
    assert heavy == "[]", f"import aigc_course pulled in heavy libraries: {heavy}"
    assert float(seconds) < 0.5


# --------------------------------------------------------------------------- config
def test_profile_from_environment(monkeypatch):
    monkeypatch.setenv("AIGC_PROFILE", "FULL")
    assert config.get_profile() == "full"
    assert ac.by_profile(fast=1, full=2) == 2
    monkeypatch.setenv("AIGC_PROFILE", "fast")
    assert ac.by_profile(fast=1, full=2) == 1


def test_profile_default_is_fast_on_every_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert config.get_profile() == "fast"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a GPU does not change it
    assert config.get_profile() == "fast"
    monkeypatch.setenv("AIGC_PROFILE", "full")
    assert config.get_profile() == "full"


def test_invalid_profile_names_the_valid_ones(monkeypatch):
    monkeypatch.setenv("AIGC_PROFILE", "turbo")
    with pytest.raises(ValueError, match=r"'turbo'.*\('fast', 'full'\)"):
        config.get_profile()


def test_device_choice(monkeypatch):
    assert config.get_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="'cuda' was requested but is not available"):
        config.get_device("cuda")
    with pytest.raises(ValueError, match="prefer='tpu' is not a device name"):
        config.get_device("tpu")
    monkeypatch.setenv("AIGC_DEVICE", "cpu")
    assert config.get_device() == torch.device("cpu")
    assert config.get_device("CPU:0") == torch.device("cpu", 0)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match="'cuda:1' was requested but this machine has 1 CUDA"):
        config.get_device("cuda:1")


def test_seed_everything_makes_runs_repeatable():
    config.seed_everything(123)
    a = (np.random.rand(), torch.rand(3))
    config.seed_everything(123)
    b = (np.random.rand(), torch.rand(3))
    assert a[0] == b[0] and torch.equal(a[1], b[1])


def test_seed_from_environment_and_bad_seeds(monkeypatch):
    monkeypatch.setenv("AIGC_SEED", "7")
    assert config.seed_everything() == 7
    monkeypatch.setenv("AIGC_SEED", "seven")
    with pytest.raises(ValueError, match="AIGC_SEED must be an integer"):
        config.seed_everything()
    with pytest.raises(TypeError, match="seed must be an int, got 1.5"):
        config.seed_everything(1.5)
    with pytest.raises(ValueError, match="seed must be an int >= 0, got -1"):
        config.seed_everything(-1)


def test_data_dir_is_created(monkeypatch, tmp_path):
    target = tmp_path / "nested" / "data"
    monkeypatch.setenv("AIGC_DATA_DIR", str(target))
    assert config.data_dir() == target and target.is_dir()


def test_set_threads_rejects_bad_values():
    with pytest.raises(ValueError, match="threads must be an int >= 1, got 0"):
        config.set_threads(0)


def test_threads_from_environment(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("AIGC_THREADS", "1")
        assert config.set_threads() == 1 and torch.get_num_threads() == 1
        assert config.set_threads(2) == 2  # an explicit number wins
        for bad in ("0", "two", "-1"):
            monkeypatch.setenv("AIGC_THREADS", bad)
            with pytest.raises(ValueError, match="AIGC_THREADS"):
                config.set_threads()
    finally:
        torch.set_num_threads(before)


def test_setup_prints_and_names_the_notebook(capsys):
    info = ac.setup("unit_test_notebook", seed=3)
    out = capsys.readouterr().out
    assert "profile: fast" in out and "seed: 3" in out
    assert info.seed == 3 and results.current_notebook() == "unit_test_notebook"
    results.set_notebook(None)


def test_setup_prints_the_data_dir_without_the_home_folder(capsys, tmp_path, monkeypatch):
    home = tmp_path / "home" / "learner"
    monkeypatch.setenv("HOME", str(home))  # published pages must not show the build machine's user
    monkeypatch.setenv("AIGC_DATA_DIR", str(home / "aigc data"))
    ac.setup(verbose=True)
    out = capsys.readouterr().out
    assert "data dir: ~/aigc data" in out and str(home) not in out
    monkeypatch.setenv("AIGC_DATA_DIR", str(tmp_path / "elsewhere"))  # outside home: in full
    ac.setup(verbose=True)
    assert f"data dir: {tmp_path / 'elsewhere'}" in capsys.readouterr().out


def test_results_record_the_seed_the_run_used(monkeypatch):
    monkeypatch.setenv("AIGC_SEED", "11")
    config.seed_everything(5)  # what setup(seed=5) does: the argument overrides AIGC_SEED
    results.set_notebook("nb_seed")
    try:
        results.record("x", 1.0)
        assert results.load("nb_seed")["seed"] == 5
    finally:
        results.set_notebook(None)


# --------------------------------------------------------------------------- results + check
def test_outcome_records_and_passes(capsys):
    results.set_notebook("nb_a")
    try:
        assert check.outcome("accuracy", 0.97, at_least=0.95) is None
        data = results.load("nb_a")
        assert data["metrics"]["accuracy"]["value"] == 0.97
        assert data["metrics"]["accuracy"]["passed"] is True
        assert data["profile"] in ("fast", "full")
        assert "✅ accuracy = 0.97" in capsys.readouterr().out
    finally:
        results.set_notebook(None)


def test_outcome_failure_is_friendly_and_recorded(capsys):
    results.set_notebook("nb_b")
    try:
        with pytest.raises(check.CheckFailed, match=r"(?s)loss = 3.2, but it must be ≤ 2.*Hint: train longer"):
            check.outcome("loss", 3.2, at_most=2.0, hint="train longer")
        assert results.load("nb_b")["metrics"]["loss"]["passed"] is False
        assert "❌" in capsys.readouterr().out
    finally:
        results.set_notebook(None)


def test_outcome_input_errors():
    with pytest.raises(ValueError, match="needs a threshold"):
        check.outcome("x", 1.0)
    with pytest.raises(TypeError, match="must be a number"):
        check.outcome("x", "high", at_least=1)
    with pytest.raises(TypeError, match="single number"):
        check.outcome("x", torch.ones(3), at_least=1)
    with pytest.raises(check.CheckFailed, match="not a finite number"):
        check.outcome("x", float("nan"), at_least=0)


def test_close_shape_true():
    check.close("pi", 3.14159, expected=np.pi, tol=1e-4)
    with pytest.raises(check.CheckFailed, match="got 3, expected 3.142"):
        check.close("pi", 3.0, expected=np.pi, tol=1e-4)
    with pytest.raises(check.CheckFailed, match=r"expected shape \(3,\), got shape \(2,\)"):
        check.close("v", [1, 2], expected=[1, 2, 3])
    check.shape("t", torch.zeros(4, 10), (None, 10))
    with pytest.raises(check.CheckFailed, match=r"expected shape \(4, 5\), got \(4, 10\)"):
        check.shape("t", torch.zeros(4, 10), (4, 5))
    check.true("ok", True)
    with pytest.raises(check.CheckFailed, match="(?s)not satisfied.*Hint: look again"):
        check.true("bad", False, hint="look again")


def test_record_without_notebook_is_a_noop(tmp_path):
    results.set_notebook(None)
    results.record("x", 1.0)
    assert list(results.results_dir().glob("*.json")) == []
    with pytest.raises(ValueError, match="metric 'x' must be a finite number, got inf"):
        results.record("x", float("inf"))
    with pytest.raises(ValueError, match="non-empty string"):
        results.set_notebook("  ")


# --------------------------------------------------------------------------- data
def test_digits_split_is_fixed_and_well_formed():
    a, b = load_digits(), load_digits()
    assert (len(a.train), len(a.val), len(a.test)) == (1257, 270, 270)
    assert a.train.x.shape[1:] == (1, 8, 8) and a.train.x.dtype == torch.float32
    assert a.train.y.dtype == torch.int64
    assert 0.0 <= float(a.train.x.min()) and float(a.train.x.max()) <= 1.0
    assert torch.equal(a.test.x, b.test.x)
    assert set(a.test.y.tolist()) == set(range(10))
    flat = load_digits(flat=True)
    assert flat.train.x.shape == (1257, 64)
    train_rows = {tuple(r) for r in flat.train.x.numpy().round(4)}
    overlap = sum(tuple(r) in train_rows for r in flat.test.x.numpy().round(4))
    assert overlap < 5  # (the raw data has a few duplicate images, nothing more)


def test_digits_bad_input_and_loader():
    with pytest.raises(TypeError, match="flat must be True or False"):
        load_digits(flat="yes")
    with pytest.raises(ValueError, match="3 rows but y has 2"):
        TensorSplit(torch.zeros(3, 2), torch.zeros(2))
    split = load_digits().val
    batches = list(split.loader(batch_size=100))
    assert [len(b[0]) for b in batches] == [100, 100, 70]
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        split.loader(batch_size=0)


def test_pydocs_split_by_document():
    from aigc_course.data import load_pydocs, pydocs_documents

    train, val = load_pydocs()
    assert len(train) > 300_000 and len(val) > 5_000
    docs = pydocs_documents()
    # every document goes to exactly one side (documents are joined by a blank line)
    assert len(train) + len(val) == sum(map(len, docs.values())) + 2 * (len(docs) - 2)
    only_val = [name for name, text in docs.items() if text in val and text not in train]
    assert len(only_val) >= 5  # (a few short topics are also quoted inside longer ones)
    with pytest.raises(ValueError, match="val_fraction"):
        load_pydocs(val_fraction=1.5)


# --------------------------------------------------------------------------- metrics
def test_accuracy():
    assert accuracy(torch.tensor([1, 2, 3]), torch.tensor([1, 2, 0])) == pytest.approx(2 / 3)
    logits = torch.tensor([[0.1, 0.9], [0.8, 0.2]])
    assert accuracy(logits, torch.tensor([1, 1])) == 0.5
    with pytest.raises(ValueError, match="different lengths"):
        accuracy(torch.tensor([1, 2]), torch.tensor([1]))
    with pytest.raises(ValueError, match="zero examples"):
        accuracy(torch.tensor([], dtype=torch.long), torch.tensor([], dtype=torch.long))
    with pytest.raises(TypeError, match="tensor or a numpy array"):
        accuracy([1, 2], [1, 2])


def test_frechet_distance_known_answers():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(20_000, 4))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    # N(0, I) vs N(m, 4I): d² = |m|² + tr(I + 4I - 2·2I) = |m|² + 4 · 1
    m = np.array([1.0, 2.0, 0.0, -1.0])
    b = m + 2.0 * rng.normal(size=(20_000, 4))
    assert frechet_distance(a, b) == pytest.approx(m @ m + 4.0, rel=0.05)
    with pytest.raises(ValueError, match=r"shape \[N, D\]"):
        frechet_distance(np.zeros(5), np.zeros(5))
    with pytest.raises(ValueError, match="feature sizes differ"):
        frechet_distance(np.zeros((5, 3)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="at least 2"):
        gaussian_stats(np.zeros((1, 3)))


def test_digits_classifier_is_accurate_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("AIGC_DATA_DIR", str(tmp_path))
    t0 = time.perf_counter()
    model = ac.models.digits_classifier(device="cpu")
    first = time.perf_counter() - t0
    digits = load_digits()
    with torch.no_grad():
        acc = accuracy(model(digits.test.x), digits.test.y)
    assert acc >= 0.95
    t0 = time.perf_counter()
    again = ac.models.digits_classifier(device="cpu")
    assert time.perf_counter() - t0 < first / 3  # loaded, not retrained
    for p, q in zip(model.parameters(), again.parameters()):
        assert torch.equal(p, q)
    # a corrupt cache is detected and replaced by a retrained model
    cached = tmp_path / "models" / "digits_cnn_v1.safetensors"
    cached.write_bytes(b"not a safetensors file")
    fixed = ac.models.digits_classifier(device="cpu")
    with torch.no_grad():
        assert accuracy(fixed(digits.test.x), digits.test.y) >= 0.95


def test_digits_frechet_distance_orders_real_and_noise():
    digits = load_digits()
    real = digits_frechet_distance(digits.val.x, digits.test.x)
    noise = digits_frechet_distance(torch.rand(270, 1, 8, 8), digits.test.x)
    assert real * 5 < noise
    with pytest.raises(ValueError, match=r"\[B, 1, 8, 8\]"):
        digits_frechet_distance(torch.rand(10, 3, 8, 8), digits.test.x)


# --------------------------------------------------------------------------- plot
def test_plots_draw_and_validate():
    import matplotlib.pyplot as plt

    ax = ac.plot.image_grid(torch.rand(10, 1, 8, 8), nrow=5, labels=list(range(10)), title="t")
    assert ax.get_title() == "t" and len(ax.images) == 1
    assert ax.images[0].get_array().shape == (2 * 9 + 1, 5 * 9 + 1)
    with pytest.raises(ValueError, match="expected images of shape"):
        ac.plot.image_grid(torch.rand(8, 8))
    with pytest.raises(ValueError, match="no images"):
        ac.plot.image_grid(torch.rand(0, 8, 8))
    h = ac.train.History(steps=[{"loss": 1.0 / (i + 1)} for i in range(20)],
                         epochs=[{"epoch": 1, "val_loss": 0.5}, {"epoch": 2, "val_loss": 0.3}])
    ax = ac.plot.loss_curves(h, ("loss", "val_loss"), smooth=5)
    assert len(ax.lines) == 2
    with pytest.raises(KeyError, match="no values logged under 'acc'"):
        ac.plot.loss_curves(h, "acc")
    with pytest.raises(ValueError, match="smooth must be an int >= 1, got 0"):
        ac.plot.loss_curves(h, smooth=0)
    plt.close("all")


def _record_many(folder: str, worker: int, start, seconds: float) -> None:
    import os

    os.environ["AIGC_RESULTS_DIR"] = folder
    results.set_notebook("shared_notebook")
    start.wait()                          # both processes write at the same time
    end, k = time.perf_counter() + seconds, 0
    while time.perf_counter() < end:
        results.record(f"w{worker}", float(k))
        k += 1


def test_two_processes_writing_one_file_do_not_collide(tmp_path):
    """Two notebooks (or test workers) filling one cache file at once: each writes its own
    temporary file and swaps it in. With one shared ``<name>.tmp`` a process finds its
    temporary file already renamed by the other (FileNotFoundError) or swaps in a mix."""
    import json
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(2)
    procs = [ctx.Process(target=_record_many, args=(str(tmp_path), w, start, 1.5)) for w in (0, 1)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    json.loads((tmp_path / "shared_notebook.json").read_text())  # a whole file, not a mix
    assert not list(tmp_path.glob("*.tmp"))
