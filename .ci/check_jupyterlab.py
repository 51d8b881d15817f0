"""Check that JupyterLab renders the course's MyST the way a learner sees it.

Serves JupyterLab on loopback, opens a chapter in headless Chromium and checks that the
``jupyterlab-myst`` extension rendered it: an exercise, its solution folded (a closed
``<details>``), a theorem, and the maths typeset (no ``$`` or ``:::{`` left as raw text). Saves a
screenshot of the exercises and one of the first theorem (``<name>_theorem.png``).

    python .ci/check_jupyterlab.py [--notebook notebooks/03_gan_maths.ipynb] [--screenshot PNG]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHROME_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--window-size=1400,1800")

# Counts what jupyterlab-myst produced in the open notebook (run in the page).
INSPECT = """
const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
if (!nb) return null;
const text = nb.innerText;
const solutions = [...nb.querySelectorAll('details')]
    .filter(d => /Solution/.test(d.querySelector('summary')?.innerText || ''));
return {
  myst_cells: nb.querySelectorAll('.myst').length,
  exercises: (text.match(/Exercise \\d/g) || []).length,
  solutions: solutions.length,
  solutions_open: solutions.filter(d => d.open).length,
  theorems: (text.match(/Theorem/g) || []).length,
  maths: nb.querySelectorAll('.MathJax, mjx-container, .katex').length,
  raw_directives: (text.match(/:::+\\{/g) || []).length,
  raw_context: (text.match(/.{0,80}:::+\\{.{0,80}/g) || []).slice(0, 3),
  raw_dollars: (text.match(/\\$\\$/g) || []).length,
  solution_code_cells_folded: nb.querySelectorAll('.jp-CodeCell .jp-InputPlaceholder').length,
  quiz_heading: [...nb.querySelectorAll('h2')].some(h => /^Quiz/.test(h.innerText)),
  quiz_cells_folded: nb.querySelectorAll('.jp-MarkdownCell .jp-InputPlaceholder').length,
  answers_in_sight: (text.match(/^\\s*\\[x\\] /gm) || []).length,
};
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# JupyterLab user settings: render every cell (not only those scrolled into view), no news pop-up.
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false",
                                                     "checkForUpdates": False},
}


def lab_environment() -> dict:
    """Fresh config and settings folders, and the network guard (the lab must work offline)."""
    settings = Path(tempfile.mkdtemp(prefix="aigc_lab_settings_"))
    for name, values in SETTINGS.items():
        path = settings / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    guard = str(ROOT / ".ci" / "network_guard")
    return dict(os.environ, JUPYTER_CONFIG_DIR=tempfile.mkdtemp(prefix="aigc_lab_cfg_"),
                JUPYTERLAB_SETTINGS_DIR=str(settings),
                PYTHONPATH=os.pathsep.join(p for p in (guard, os.environ.get("PYTHONPATH")) if p))


def start_lab(port: int, folder: Path, log) -> subprocess.Popen:
    """JupyterLab on 127.0.0.1 without token, browser or update checks; waits until it answers."""
    env = lab_environment()
    lab = subprocess.Popen(
        [str(BIN / "jupyter"), "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         "--ServerApp.token=", "--ServerApp.password=", f"--ServerApp.root_dir={folder}",
         "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         "--LabApp.extension_manager=readonly", *(["--allow-root"] if os.geteuid() == 0 else [])],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    for _ in range(120):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=1)
            return lab
        except OSError:
            if lab.poll() is not None:
                raise RuntimeError("JupyterLab exited; see its log") from None
            time.sleep(0.5)
    lab.terminate()
    raise RuntimeError("JupyterLab did not start within 60 s")


def browser() -> webdriver.Chrome:
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def wait_for_rendering(driver, timeout: float = 60) -> dict:
    """Poll the page until the notebook's MyST cells (and maths) have rendered."""
    found, end = None, time.time() + timeout
    while time.time() < end:
        found = driver.execute_script(INSPECT)
        if found and found["solutions"] and found["maths"]:
            time.sleep(2)  # let the last cells and MathJax finish
            return driver.execute_script(INSPECT)
        time.sleep(1)
    return found or {}


def problems_in(found: dict) -> list[str]:
    checks = {
        "cells rendered by jupyterlab-myst": found.get("myst_cells", 0) > 0,
        "an exercise": found.get("exercises", 0) > 0,
        "a solution in a <details> block": found.get("solutions", 0) > 0,
        "every solution folded": found.get("solutions") and not found.get("solutions_open"),
        "a solution's code cell folded (jupyter.source_hidden)":
            found.get("solution_code_cells_folded", 0) > 0,
        "a theorem": found.get("theorems", 0) > 0,
        "typeset maths": found.get("maths", 0) > 0,
        "no raw ':::{' directive text": found.get("raw_directives", 1) == 0,
        "no raw '$$' maths": found.get("raw_dollars", 1) == 0,
        "a quiz heading": found.get("quiz_heading", False),
        "the quiz cell folded (its answers are marked in it)": found.get("quiz_cells_folded", 0) > 0,
        "no quiz answer ('[x] ...') in plain sight": found.get("answers_in_sight", 1) == 0,
    }
    return [f"missing: {what}" for what, ok in checks.items() if not ok]


# Scroll targets for the screenshots (JavaScript expressions that find one element).
EXERCISES = ("[...document.querySelectorAll('.jp-Notebook h2')]"
             ".find(h => /Exercises/.test(h.innerText))")
THEOREM = ("[...document.querySelectorAll('.jp-Notebook .myst *')]"
           ".find(e => e.children.length === 0 && /^Theorem/.test(e.innerText))")


def screenshot(driver, target: str, path: Path) -> None:
    """Scroll the element that the JavaScript expression ``target`` finds to the top; save a PNG."""
    driver.execute_script(f"const el = {target}; if (el) el.scrollIntoView({{block: 'start'}});")
    time.sleep(1)
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--notebook", type=Path, default=ROOT / "notebooks" / "03_gan_maths.ipynb")
    parser.add_argument("--screenshot", type=Path, default=ROOT / "_build" / "jupyterlab.png")
    args = parser.parse_args()
    start = time.time()
    port = free_port()
    theorem_png = args.screenshot.with_stem(args.screenshot.stem + "_theorem")
    with tempfile.TemporaryFile("w+") as log:
        notebook = args.notebook.resolve()
        lab = start_lab(port, notebook.parent, log)
        try:
            driver = browser()
            try:
                driver.get(f"http://127.0.0.1:{port}/lab/tree/{notebook.name}")
                found = wait_for_rendering(driver)
                screenshot(driver, EXERCISES, args.screenshot)
                screenshot(driver, THEOREM, theorem_png)
            finally:
                driver.quit()
        finally:
            lab.terminate()
            lab.wait(timeout=30)
        problems = problems_in(found)
        if problems:
            log.seek(0)
            print(log.read()[-3000:])
    print(f"{args.notebook} in JupyterLab: {found}; {time.time() - start:.1f} s; "
          f"screenshots {args.screenshot}, {theorem_png}")
    for problem in problems:
        print("PROBLEM:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
