"""Sphinx extension: a link on every page to the same page in the other language.

The English site is the root of the build (``_build/html``), the Chinese one lives under
``zh-CN/`` (built with ``language=zh_CN`` from the catalogs in ``locales/``). Each page gets a
small switch above its text and ``<link rel="alternate" hreflang>`` tags in its head.

It also translates the captions of the table of contents ("Part I — Foundations"): Jupyter
Book's toctrees are inserted after Sphinx has translated the page, so Sphinx never does.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from sphinx import addnodes
from sphinx.locale import init as init_catalog
from sphinx.util.i18n import docname_to_domain

SUBDIR = {"zh_CN": "zh-CN"}          # Sphinx language -> folder of that edition in the site
LABEL = {"en": "English", "zh_CN": "中文"}
# Words that extensions write into the HTML themselves, outside the catalogs.
FIXED_WORDS = {"zh_CN": [('<span class="caption-number">Question </span>',   # teachbooks-questions
                          '<span class="caption-number">问题 </span>')]}


def _switch(app, pagename, templatename, context, doctree) -> None:
    if doctree is None:   # search page, genindex: no counterpart worth linking
        return
    language = app.config.language or "en"
    up = "../" * pagename.count("/")
    if language == "en":
        other, href = "zh_CN", f"{up}{SUBDIR['zh_CN']}/{pagename}.html"
        english, chinese = f"{pagename.rsplit('/', 1)[-1]}.html", href
    else:
        other, href = "en", f"{up}../{pagename}.html"
        english, chinese = href, f"{pagename.rsplit('/', 1)[-1]}.html"
    lang_attr = {"en": "en", "zh_CN": "zh-CN"}
    for english, translated in FIXED_WORDS.get(language, []):
        context["body"] = context.get("body", "").replace(english, translated)
    context["body"] = (
        f'<p class="language-switch" lang="{lang_attr[other]}"><a href="{escape(href)}" '
        f'hreflang="{lang_attr[other]}">{LABEL[other]}</a></p>\n' + context.get("body", ""))
    context["metatags"] = context.get("metatags", "") + (
        f'\n<link rel="alternate" hreflang="en" href="{escape(english)}">'
        f'\n<link rel="alternate" hreflang="zh-CN" href="{escape(chinese)}">')


def _translate_toc_captions(app, doctree) -> None:
    if (app.config.language or "en") == "en":
        return
    dirs = [str(Path(app.srcdir) / d) for d in app.config.locale_dirs]
    domain = docname_to_domain(app.env.docname, app.config.gettext_compact)
    catalog, _ = init_catalog(dirs, app.config.language, domain)
    for toctree in doctree.findall(addnodes.toctree):
        if toctree.get("caption"):
            toctree["caption"] = catalog.gettext(toctree["caption"])


def setup(app):
    app.connect("html-page-context", _switch)
    app.connect("doctree-read", _translate_toc_captions)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
