"""Sphinx extension: the quizzes of teachbooks-questions, working offline (no CDN).

teachbooks-questions 0.4 loads MathLive (the maths answer field) from cdn.jsdelivr.net on every
page, and its short-answer scripts import the CortexJS Compute Engine (which checks maths and
numeric answers) from esm.run. Offline, or behind a network that blocks those hosts, the quiz
breaks. Both libraries are vendored under ``_vendor/`` (MIT licence, copied from npm:
``mathlive@0.111.1``, ``@cortex-js/compute-engine@0.119.0``, files as published). This
extension points every page at the local copies:

- the MathLive ``<script>`` becomes ``_static/mathlive/mathlive.min.js`` (``config-inited``);
- after the build, the ``import ... from "https://esm.run/..."`` line of each copied
  ``teachbooks_*.js`` becomes ``./compute-engine/compute-engine.js`` (``build-finished``).

The build fails if an upgrade of the extension changes its files so that a rewrite no longer
applies, rather than shipping a quiz that silently needs the network.
"""

from __future__ import annotations

import re
from pathlib import Path

MATHLIVE_CDN = "https://cdn.jsdelivr.net/npm/mathlive"
MATHLIVE_LOCAL = "mathlive/mathlive.min.js"
CE_IMPORT = re.compile(r'"https://esm\.run/@cortex-js/compute-engine@[0-9.]+"')
CE_LOCAL = '"./compute-engine/compute-engine.js"'
PATCHED = ("teachbooks_sab.js", "teachbooks_sag.js", "teachbooks_math_utils.js")
# MathLive finds its fonts and keyboard sounds next to the page unless told otherwise.
MATHLIVE_SETUP = """
document.addEventListener("DOMContentLoaded", () => {
  if (!window.MathfieldElement) return;
  const root = new URL(document.documentElement.dataset.content_root || "./", location.href);
  MathfieldElement.fontsDirectory = new URL("_static/mathlive/fonts/", root).href;
  MathfieldElement.soundsDirectory = new URL("_static/mathlive/sounds/", root).href;
});
"""


def _use_local_mathlive(app, config) -> None:
    js = app.registry.js_files
    cdn = [i for i, (name, _) in enumerate(js) if name == MATHLIVE_CDN]
    if not cdn:
        raise RuntimeError(f"offline_quiz: teachbooks-questions no longer adds {MATHLIVE_CDN}; "
                           "check what it loads now before upgrading")
    for i in cdn:
        js[i] = (MATHLIVE_LOCAL, js[i][1])
    app.add_js_file(None, body=MATHLIVE_SETUP)


def _use_local_compute_engine(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    for name in PATCHED:
        path = static / name
        text = path.read_text(encoding="utf-8")
        new, count = CE_IMPORT.subn(CE_LOCAL, text)
        if count == 0 and CE_LOCAL not in text:   # (already rewritten by an earlier build: fine)
            raise RuntimeError(f"offline_quiz: no Compute Engine import to rewrite in {name}")
        if "https://esm.run" in new or "cdn.jsdelivr" in new:
            raise RuntimeError(f"offline_quiz: {name} still imports from a CDN")
        path.write_text(new, encoding="utf-8")


def setup(app):
    app.connect("config-inited", _use_local_mathlive)
    app.connect("build-finished", _use_local_compute_engine)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
