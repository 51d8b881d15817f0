"""The Chinese edition: extract the book's text, update the catalogs, build the Chinese site.

    python .ci/translations.py extract   # _build/gettext/**/*.pot from the pages and notebooks
    python .ci/translations.py update    # extract, then sphinx-intl update locales/zh_CN/LC_MESSAGES
    python .ci/translations.py build     # the Chinese site into _build/html/zh-CN (executes nothing)
    python .ci/translations.py status    # entries, untranslated and fuzzy per catalog
    python .ci/translations.py conf      # only write conf.py (the Sphinx config of _config.yml)

English is written in the notebooks and book/ pages; Chinese lives in the gettext catalogs
``locales/zh_CN/LC_MESSAGES/<page>.po``. The Chinese build reads the notebooks' outputs from the
English build's jupyter-cache (``nb_execution_mode=cache``; the check below refuses to run a
notebook), so both sites show the very same numbers, figures and audio.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LANG = "zh_CN"
LOCALES = ROOT / "locales"
POT = ROOT / "_build" / "gettext"
SITE = ROOT / "_build" / "html"
ZH_SITE = SITE / "zh-CN"
BIN = Path(sys.executable).parent
PROJECT = "AIGC from Beginner to Practice"
TEAM = "AIGC course authors"
TITLE = "AIGC 从入门到实战"
FOOTER = "<p>本书的每个笔记本都在构建网站时执行（fast 配置，CPU）；中文版与英文版显示同一次执行的输出。</p>"


def sphinx_conf() -> None:
    """conf.py from _config.yml (``jupyter-book config sphinx``), able to import ``_ext/``."""
    subprocess.run([str(BIN / "jupyter-book"), "config", "sphinx", str(ROOT)], check=True,
                   stdout=subprocess.DEVNULL)
    conf = ROOT / "conf.py"
    conf.write_text('import os, sys\nsys.path.insert(0, os.path.abspath("_ext"))\n' + conf.read_text())


def sphinx(*args: str) -> None:
    subprocess.run([str(BIN / "sphinx-build"), *args], check=True, cwd=ROOT)


def extract() -> None:
    """Every paragraph of the pages and of the notebooks' markdown cells, as .pot templates."""
    sphinx_conf()
    # Extraction reads the sources only: no notebook needs to run for it.
    sphinx("-q", "-b", "gettext", "-D", "nb_execution_mode=off", ".", str(POT))


def update() -> None:
    extract()
    subprocess.run([str(BIN / "sphinx-intl"), "update", "-p", str(POT), "-l", LANG, "-d", str(LOCALES),
                    "-w", "0"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    fill_headers()


def fill_headers() -> None:
    """sphinx-intl writes each new catalog with a placeholder header marked fuzzy: name it.

    A fuzzy header marks the whole catalog as unreviewed (gettext's statistics count it, and
    compilers may skip the catalog), although nothing in it needs a translator.
    """
    from babel.messages.pofile import read_po, write_po

    for po in (LOCALES / LANG / "LC_MESSAGES").rglob("*.po"):
        with po.open("rb") as f:
            catalog = read_po(f, locale=LANG)
        if catalog.fuzzy or catalog.project != PROJECT:
            catalog.fuzzy, catalog.project, catalog.language_team = False, PROJECT, TEAM
            with po.open("wb") as f:
                write_po(f, catalog, width=0)


def build(warnings_are_errors: bool = True) -> None:
    """The Chinese site, from the catalogs and the English build's executed notebooks."""
    sphinx_conf()
    start = time.time()
    # nb_execution_mode=cache with an execution timeout of 1 s: a notebook missing from the cache
    # (the English build has not run it) fails instead of being executed here.
    args = ["-b", "html", "-D", f"language={LANG}", "-D", "nb_execution_timeout=1",
            # the site's title and footer live in _config.yml, not in a page: set them here
            "-D", f"html_title={TITLE}", "-D", f"html_theme_options.extra_footer={FOOTER}",
            # myst-nb's buttons on folded cells
            "-D", "nb_code_prompt_show=显示代码单元格", "-D", "nb_code_prompt_hide=隐藏代码单元格",
            "-d", str(ROOT / "_build" / "doctrees-zh"), ".", str(ZH_SITE)]
    if warnings_are_errors:
        args = ["-W", "-n", "--keep-going", *args]
    subprocess.run([str(BIN / "sphinx-build"), *args], check=True, cwd=ROOT)
    # Like Jupyter Book's own build, the site's index.html sends the reader to the first page.
    (ZH_SITE / "index.html").write_text(
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta http-equiv="Refresh" content="0; url=book/intro.html" /></head></html>\n', encoding="utf-8")
    print(f"Chinese site built in {time.time() - start:.0f} s: {ZH_SITE / 'index.html'}")


def status() -> int:
    from babel.messages.pofile import read_po

    total = bad = 0
    for po in sorted((LOCALES / LANG / "LC_MESSAGES").rglob("*.po")):
        with po.open("rb") as f:
            catalog = read_po(f)
        entries = [m for m in catalog if m.id]
        untranslated = sum(not m.string for m in entries)
        fuzzy = sum(m.fuzzy for m in entries) + catalog.fuzzy   # the header counts too
        total += len(entries)
        bad += untranslated + fuzzy
        print(f"{po.relative_to(LOCALES)}: {len(entries)} entries, {untranslated} untranslated, {fuzzy} fuzzy")
    print(f"{total} entries, {total - bad} translated ({100 * (total - bad) / max(total, 1):.1f} %)")
    return 1 if bad else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["conf", "extract", "update", "build", "status"])
    args = parser.parse_args()
    if args.command == "status":
        return status()
    {"conf": sphinx_conf, "extract": extract, "update": update, "build": build}[args.command]()
    return 0


if __name__ == "__main__":
    sys.exit(main())
