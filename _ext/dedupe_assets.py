"""Sphinx extension: drop duplicate <script> entries from every page.

With Jupyter Book 1.0.4 and sphinx-book-theme 1.3 the inline scripts of sphinx-thebe and
sphinx-togglebutton are added twice (once with ``filename=None``, once with ``""``), so the
browser reports "Identifier 'THEBE_JS_URL' has already been declared". Keeping the first
copy of each script fixes it.
"""


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    seen, kept = set(), []
    for script in context.get("script_files", []):
        attributes = getattr(script, "attributes", None) or {}
        key = (getattr(script, "filename", None) or "", tuple(sorted(attributes.items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def setup(app):
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
