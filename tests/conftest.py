"""Shared test settings: every test gets its own data and results directories."""

import matplotlib
import pytest

matplotlib.use("Agg")  # no windows during tests (set here, not via MPLBACKEND, which kernels inherit)


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path, monkeypatch):
    # A private results dir per test; the data dir stays shared so the cached classifier is reused.
    monkeypatch.setenv("AIGC_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.delenv("AIGC_PROFILE", raising=False)
    monkeypatch.delenv("AIGC_SEED", raising=False)
    monkeypatch.delenv("AIGC_DEVICE", raising=False)
    yield
