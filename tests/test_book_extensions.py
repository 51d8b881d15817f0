"""The book's own Sphinx extensions (_ext/), on a one-page book built in a few seconds.

- offline_quiz: the quiz pages load nothing from a CDN (MathLive and the Compute Engine come
  from _vendor/), and without it they would;
- course_progress: every page's quiz questions and exercises are listed for the progress page.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE = """# A page

:::{question} Which one?
:label: quiz-x-1
Pick.
---
[x] This
> Yes.
[ ] That
> No.
---
:::

:::{question} A number
:label: quiz-x-2
:type: short-answer
How much is $2\\ln 2$?
---
MAP[1.386;0.01] Answer:
= Yes.
> No.
---
:::

:::{exercise}
:label: ex-x-1
Do it.
:::
"""


def build(tmp_path: Path, extensions: list[str]) -> Path:
    (tmp_path / "index.md").write_text(PAGE, encoding="utf-8")
    (tmp_path / "conf.py").write_text(
        f"import sys; sys.path.insert(0, {str(ROOT / '_ext')!r})\n"
        f"extensions = ['myst_parser', 'sphinx_design', 'sphinx_exercise', 'teachbooks_questions', *{extensions!r}]\n"
        "myst_enable_extensions = ['colon_fence', 'dollarmath']\n"
        f"html_static_path = [{str(ROOT / '_vendor')!r}]\n"
        "mathjax_path = 'mathjax/tex-chtml.js'\n"
        "suppress_warnings = ['design.card_legacy']\n", encoding="utf-8")
    out = tmp_path / "html"
    subprocess.run([sys.executable, "-m", "sphinx", "-q", "-W", "-b", "html", str(tmp_path), str(out)],
                   check=True, capture_output=True, text=True, timeout=120)
    return out


def cdn_urls(out: Path) -> list[str]:
    page = (out / "index.html").read_text(encoding="utf-8")
    scripts = [(out / "_static" / n).read_text(encoding="utf-8")
               for n in ("teachbooks_sab.js", "teachbooks_sag.js", "teachbooks_math_utils.js")]
    return re.findall(r"https://(?:cdn\.jsdelivr\.net|esm\.run)/[^\"' ]+", page + "".join(scripts))


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    return build(tmp_path_factory.mktemp("book"), ["offline_quiz", "course_progress"])


def test_quiz_pages_load_nothing_from_a_cdn(book):
    assert cdn_urls(book) == []
    assert "_static/mathlive/mathlive.min.js" in (book / "index.html").read_text(encoding="utf-8")
    assert 'from "./compute-engine/compute-engine.js"' in (book / "_static" / "teachbooks_sab.js").read_text()
    assert (book / "_static" / "compute-engine" / "chunks").is_dir()
    assert (book / "_static" / "mathlive" / "fonts").is_dir()


def test_without_offline_quiz_the_same_page_needs_the_network(tmp_path):
    urls = cdn_urls(build(tmp_path, ["course_progress"]))
    assert "https://cdn.jsdelivr.net/npm/mathlive" in urls
    assert any(u.startswith("https://esm.run/@cortex-js/compute-engine") for u in urls)


def test_the_progress_manifest_lists_questions_and_exercises(book):
    text = (book / "_static" / "progress_manifest.js").read_text(encoding="utf-8")
    manifest = json.loads(text.removeprefix("window.AIGC_MANIFEST = ").rstrip().rstrip(";"))
    assert manifest["pages"] == [{"doc": "index", "title": "A page", "questions": ["quiz-x-1", "quiz-x-2"],
                                  "exercises": ["ex-x-1"]}]
    assert '<script src="_static/progress.js' in (book / "index.html").read_text(encoding="utf-8")
