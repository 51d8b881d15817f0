"""Shared test settings: every test gets its own data and results directories."""

import http.server
import threading
from functools import partial

import matplotlib
import pytest

# OMP_WAIT_POLICY and the threads of parallel workers: ../conftest.py

matplotlib.use("Agg")  # no windows during tests (set here, not via MPLBACKEND, which kernels inherit)


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path, monkeypatch):
    # A private results dir per test; the data dir stays shared so the cached classifier is reused.
    monkeypatch.setenv("AIGC_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.delenv("AIGC_PROFILE", raising=False)
    monkeypatch.delenv("AIGC_SEED", raising=False)
    monkeypatch.delenv("AIGC_DEVICE", raising=False)
    yield


@pytest.fixture
def server(tmp_path):
    """A local HTTP server serving ``tmp_path/www``, for download tests: yields (folder, base URL)."""
    www = tmp_path / "www"
    www.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield www, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
