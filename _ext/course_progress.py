"""Sphinx extension: the reader's progress (quizzes answered, exercises done), kept in the browser.

Nothing leaves the browser: ``_vendor/progress.js`` stores answers in ``localStorage`` and the
page ``book/progress.md`` shows them, with export and import as a JSON file. This extension
writes the list of every page's quiz questions and exercises, ``_static/progress_manifest.js``,
after the HTML is built (so the progress page knows what there is to do).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

QUESTION = re.compile(r'<div class="(?:multiple-choice|short-answer)[^"]*" id="([^"]+)"')
EXERCISE = re.compile(r'<div class="exercise admonition[^"]*" id="([^"]+)"')
TITLE = re.compile(r"<title>(.*?)(?:\s+&#8212;.*)?</title>", re.DOTALL)


def _write_manifest(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    out = Path(app.outdir)
    pages = []
    for docname in app.env.found_docs:
        html = out / f"{docname}.html"
        if not html.exists():
            continue
        text = html.read_text(encoding="utf-8")
        questions, exercises = QUESTION.findall(text), EXERCISE.findall(text)
        if questions or exercises:
            title = TITLE.search(text)
            pages.append({"doc": docname, "title": title.group(1).strip() if title else docname,
                          "questions": questions, "exercises": exercises})
    reading = []   # the book's reading order: the table of contents, depth first

    def walk(doc):
        if doc not in reading:
            reading.append(doc)
            for child in app.env.toctree_includes.get(doc, []):
                walk(child)
    walk(app.config.root_doc)
    order = {doc: i for i, doc in enumerate(reading)}
    pages.sort(key=lambda p: (order.get(p["doc"], len(order)), p["doc"]))
    manifest = json.dumps({"pages": pages}, ensure_ascii=False, indent=0)
    (out / "_static" / "progress_manifest.js").write_text(f"window.AIGC_MANIFEST = {manifest};\n",
                                                         encoding="utf-8")


def setup(app):
    app.add_js_file("progress.js")
    app.connect("build-finished", _write_manifest)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
