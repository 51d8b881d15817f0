"""Offline is enforced: the fast profile keeps the model hub offline, and the network guard that
the notebook tests run every kernel under blocks any connection outside loopback.

Each check runs in a fresh Python process: huggingface_hub reads its offline switch when it is
imported, and the guard is installed when the interpreter starts (``sitecustomize``).
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
GUARD = ROOT / ".ci" / "network_guard"

# Tries a public DNS server (8.8.8.8:53) and a loopback server; prints what happened as JSON.
PROBE = textwrap.dedent("""
    import json, os, socket
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    socket.create_connection(server.getsockname(), timeout=2).close()  # loopback must work
    try:
        socket.create_connection(("8.8.8.8", 53), timeout=2).close()
        outcome = "connected"
    except OSError as error:
        outcome = type(error).__name__
    print(json.dumps({"outbound": outcome, "guarded": os.environ.get("AIGC_NETWORK_GUARD_ACTIVE")}))
""")


def clean_env(**extra) -> dict:
    """The environment without the variables these tests are about, plus ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"PYTHONPATH", "AIGC_PROFILE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
                        "AIGC_NETWORK_GUARD_ACTIVE", "AIGC_NETWORK_GUARD_LOG"}}
    env.update(extra)
    return env


def probe(env: dict) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True,
                          timeout=60, check=True)
    return json.loads(done.stdout)


def test_the_guard_blocks_outbound_connections_and_logs_them(tmp_path):
    log = tmp_path / "network.log"
    result = probe(clean_env(PYTHONPATH=str(GUARD), AIGC_NETWORK_GUARD_LOG=str(log)))
    assert result == {"outbound": "NetworkBlocked", "guarded": "1"}
    assert "8.8.8.8" in log.read_text()


def test_without_the_guard_the_same_probe_is_not_blocked():
    # The check above can fail: without the guard the connection is attempted for real
    # ("connected" with a network, a timeout or refusal without one).
    result = probe(clean_env())
    assert result["guarded"] is None and result["outbound"] != "NetworkBlocked"


def test_a_guarded_kernel_runs_but_cannot_reach_the_network(tmp_path, monkeypatch):
    # What notebooks/conftest.py does for nbval: the kernel inherits PYTHONPATH, loads the guard,
    # and still talks to this process over loopback (ZMQ).
    log = tmp_path / "network.log"
    monkeypatch.setenv("PYTHONPATH", str(GUARD))
    monkeypatch.setenv("AIGC_NETWORK_GUARD_LOG", str(log))
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import socket\nprint('kernel is up')"),
        nbformat.v4.new_code_cell("socket.create_connection(('8.8.8.8', 53), timeout=2)"),
    ])
    with pytest.raises(CellExecutionError, match="NetworkBlocked"):
        NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    assert "kernel is up" in nb.cells[0].outputs[0]["text"]
    assert "8.8.8.8" in log.read_text()


def test_the_notebook_tests_fail_a_cell_that_tried_the_network_even_if_it_caught_the_error(
        tmp_path):
    # notebooks/conftest.py (the real one) runs a two-cell notebook with nbval, as CI does.
    (tmp_path / "notebooks").mkdir()
    (tmp_path / ".ci").symlink_to(ROOT / ".ci")
    conftest = (ROOT / "notebooks" / "conftest.py").read_text()
    (tmp_path / "notebooks" / "conftest.py").write_text(conftest)
    nbformat.write(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("print('offline work')"),
        nbformat.v4.new_code_cell("import socket\ntry:\n"
                                  "    socket.create_connection(('8.8.8.8', 53))\n"
                                  "except OSError:\n    print('caught, carrying on')"),
    ]), tmp_path / "notebooks" / "probe.ipynb")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q",
         f"--rootdir={tmp_path}", "notebooks/probe.ipynb"],
        cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=300, check=False)
    assert "1 failed, 1 passed" in done.stdout, done.stdout[-2000:]
    assert "this cell tried to use the network" in done.stdout


HUB_STATE = ("import aigc_course, huggingface_hub.constants as c, os; "
             "print(c.HF_HUB_OFFLINE, os.environ.get('TRANSFORMERS_OFFLINE'))")


@pytest.mark.parametrize(("env", "expected"), [
    ({}, "True 1"),                                # fast is the default: offline
    ({"AIGC_PROFILE": "fast"}, "True 1"),
    ({"AIGC_PROFILE": "full"}, "False None"),      # full may download
    ({"HF_HUB_OFFLINE": "0"}, "False 1"),          # the learner's own setting wins
])
def test_importing_the_package_keeps_the_hub_offline_in_the_fast_profile(env, expected):
    done = subprocess.run([sys.executable, "-c", HUB_STATE], env=clean_env(**env), cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.split() == expected.split()
