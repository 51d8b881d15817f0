"""One source of truth for dependencies: every third-party import is declared in pyproject.toml.

Each import in the package, the notebooks' code cells, the tests, the CI scripts and the book's
Sphinx extensions is mapped to the distribution that provides it
(``importlib.metadata.packages_distributions()``), and that distribution must be declared where
the importing code is installed: the package and the notebooks need the core dependencies or the
``course`` extra (that is what the notebooks' install cell installs on Colab), the tests and CI
may also use ``dev`` and ``book``, the Sphinx extensions ``book``.
"""

import ast
import json
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCAL = {"aigc_course", "conftest"}  # the course's own modules
# tests/test_errata.py checks that the legacy torchtext API is gone: it must fail to import.
ABSENT_ON_PURPOSE = {"torchtext"}


def normalise(name: str) -> str:
    """PEP 503 name: ``Rouge_Score`` and ``rouge-score`` are the same distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(*groups: str) -> set[str]:
    """Names of the distributions declared in the core dependencies plus the given extras."""
    project = PYPROJECT["project"]
    specs = list(project["dependencies"])
    for group in groups:
        specs += project.get("optional-dependencies", {}).get(group, [])
    return {normalise(re.match(r"[A-Za-z0-9._-]+", spec).group()) for spec in specs}


def notebook_code(path: Path) -> str:
    """The code cells of a notebook, without IPython's ``%magic`` and ``!shell`` lines."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    lines = []
    for cell in cells:
        if cell["cell_type"] == "code":
            for line in "".join(cell["source"]).splitlines():
                code = line.lstrip()
                if code.startswith(("%", "!")):  # keep an `if ...: %pip ...` block valid
                    line = line[: len(line) - len(code)] + "pass"
                lines.append(line)
            lines.append("")
    return "\n".join(lines)


def top_level_imports(code: str) -> set[str]:
    """Top-level module names of the absolute imports in ``code``."""
    names = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def third_party_imports(*patterns: str) -> dict[str, set[str]]:
    """{module: files importing it} for the third-party imports in files matching ``patterns``."""
    paths = sorted({p for pattern in patterns for p in ROOT.glob(pattern)})
    local = LOCAL | {p.stem for p in paths}  # e.g. one .ci script importing another
    found: dict[str, set[str]] = {}
    for path in paths:
        code = notebook_code(path) if path.suffix == ".ipynb" else path.read_text()
        for name in top_level_imports(code) - local - set(sys.stdlib_module_names):
            found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def undeclared(patterns: tuple[str, ...], allowed: set[str]) -> list[str]:
    """Messages for every import in ``patterns`` whose distribution is not in ``allowed``."""
    providers = packages_distributions()
    problems = []
    for module, files in sorted(third_party_imports(*patterns).items()):
        if module in ABSENT_ON_PURPOSE:
            continue
        dists = {normalise(d) for d in providers.get(module, [])}
        where = f"imported in {min(files)}"
        if not dists:
            problems.append(f"{module} ({where}) is not installed")
        elif not dists & allowed:
            problems.append(f"{module} -> {sorted(dists)} ({where}) is not declared where needed")
    return problems


PACKAGE = ("aigc_course/**/*.py", "notebooks/*.ipynb")
TESTS = ("tests/**/*.py", "notebooks/conftest.py", ".ci/**/*.py")
BOOK = ("_ext/**/*.py",)


def test_the_extras_exist():
    assert set(PYPROJECT["project"].get("optional-dependencies", {})) >= {"course", "book", "dev"}


def test_package_and_notebook_imports_are_in_the_core_or_course_extra():
    problems = undeclared(PACKAGE, declared("course"))
    assert not problems, "\n".join(problems)


def test_test_and_ci_imports_are_declared():
    problems = undeclared(TESTS, declared("course", "book", "dev"))
    assert not problems, "\n".join(problems)


def test_sphinx_extension_imports_are_in_the_book_extra():
    problems = undeclared(BOOK, declared("book"))
    assert not problems, "\n".join(problems)


def test_the_scan_finds_the_imports_it_must_check():
    assert {"torch", "numpy", "transformers"} <= set(third_party_imports(*PACKAGE))
    assert {"pytest", "selenium", "yaml"} <= set(third_party_imports(*TESTS))
    assert top_level_imports("import a.b\nfrom c.d import e\nfrom . import f") == {"a", "c"}


def test_requirements_install_the_torch_pin_and_the_extras():
    text = (ROOT / "requirements.txt").read_text()
    lines = [ln.split("#")[0].strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln]
    assert any(ln.startswith("torch==") for ln in lines)
    assert "-e .[course,book,dev]" in lines
