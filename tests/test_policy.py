"""Policy tests: how notebooks and pages are stored and organised (see CONTRIBUTING.md)."""

import json
import re
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
PAGES = sorted((ROOT / "book").glob("*.md"))


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    found = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                found.append(entry["file"])
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    return found


def cells(nb_path: Path) -> list[dict]:
    return json.loads(nb_path.read_text(encoding="utf-8"))["cells"]


def source(cell: dict) -> str:
    return "".join(cell["source"])


def test_there_are_notebooks_and_pages():
    assert len(NOTEBOOKS) >= 3 and len(PAGES) >= 4


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_stored_without_outputs(nb):
    for cell in cells(nb):
        if cell["cell_type"] == "code":
            assert cell.get("outputs", []) == [], f"{nb.name}: a code cell has stored outputs"
            assert cell.get("execution_count") is None, f"{nb.name}: a code cell has an execution count"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_follows_the_template(nb):
    all_cells = cells(nb)
    text = "\n".join(source(c) for c in all_cells)
    assert re.match(r"\d\d_[a-z0-9_]+\.ipynb$", nb.name), "name must be NN_short_name.ipynb"
    assert "hide-cell" in all_cells[0].get("metadata", {}).get("tags", []), "first cell: the hidden install cell"
    assert 'find_spec("aigc_course") is None' in source(all_cells[0])
    assert re.search(rf"^# {nb.name[:2]} · ", text, re.MULTILINE), "title '# NN · ...'"
    assert re.search(rf'ac\.setup\("{nb.stem}"', text), "ac.setup(\"<notebook name>\") names the notebook"
    low = text.lower()
    for section in ("learning objectives", "prerequisites", "estimated time", "## summary",
                    "## exercises", "## references"):
        assert section in low, f"{nb.name}: missing '{section}'"
    assert "{exercise}" in text and "{solution" in text, "exercises with solutions"
    assert "ac.check." in text, "at least one self-check with aigc_course.check"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_code_of_executed_solutions_is_folded_in_jupyterlab(nb):
    """A solution's code between {solution-start} and {solution-end} carries
    ``jupyter.source_hidden``, so JupyterLab shows it folded, like the solution's text."""
    inside, unfolded = False, []
    for i, cell in enumerate(cells(nb)):
        text = source(cell)
        if cell["cell_type"] == "markdown" and "{solution-start}" in text:
            inside = True
        elif cell["cell_type"] == "markdown" and "{solution-end}" in text:
            inside = False
        elif inside and cell["cell_type"] == "code" and \
                not cell.get("metadata", {}).get("jupyter", {}).get("source_hidden"):
            unfolded.append(i)
    assert not unfolded, f"{nb.name}: solution code cells {unfolded} lack jupyter.source_hidden"


def test_toc_and_files_match_both_ways():
    listed = toc_files()
    assert len(listed) == len(set(listed)), "a file is listed twice in _toc.yml"
    for entry in listed:
        assert (ROOT / f"{entry}.md").exists() or (ROOT / f"{entry}.ipynb").exists(), \
            f"_toc.yml lists {entry}, which does not exist"
    on_disk = {f"notebooks/{p.stem}" for p in NOTEBOOKS} | {f"book/{p.stem}" for p in PAGES}
    assert on_disk - set(listed) == set(), "files missing from _toc.yml"


def test_notebooks_are_in_reading_order_in_the_toc():
    numbers = [int(Path(f).name[:2]) for f in toc_files() if f.startswith("notebooks/")]
    assert numbers == sorted(numbers)


def test_only_one_bibliography_and_citations_exist():
    bib = (ROOT / "book" / "references.bib").read_text()
    keys = set(re.findall(r"@\w+\{([^,\s]+),", bib))
    texts = {p.name: p.read_text(encoding="utf-8") for p in PAGES}
    texts.update({p.name: "\n".join(source(c) for c in cells(p)) for p in NOTEBOOKS})
    with_bibliography = [name for name, t in texts.items() if "{bibliography}" in t]
    assert with_bibliography == ["references.md"]
    for name, t in texts.items():
        for group in re.findall(r"\{cite(?::[pt])?\}`([^`]+)`", t):
            for key in group.split(","):
                assert key.strip() in keys, f"{name} cites unknown key {key.strip()!r}"


def test_no_unsafe_loading_in_the_package():
    for path in (ROOT / "aigc_course").rglob("*.py"):
        code = path.read_text()
        assert "trust_remote_code=True" not in code, path
        for call in re.findall(r"torch\.load\([^)]*\)", code):
            assert "weights_only=True" in call, f"{path}: {call}"
        assert "pickle.load" not in code, path


def test_requirements_have_bounds():
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line or line.startswith("-e"):
            continue
        spec = line.split(";")[0].strip()
        if spec.startswith("torch=="):
            continue
        assert ">=" in spec and "<" in spec, f"requirement without lower and upper bound: {line}"


def test_dependencies_in_pyproject_have_bounds():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = [*project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        specs += extra
    for spec in specs:
        version = spec.split(";")[0]
        assert ">=" in version and "<" in version.replace("<=", ""), \
            f"dependency without lower and upper bound: {spec}"


def repository_tools():
    sys.path.insert(0, str(ROOT / ".ci"))
    import set_repository

    return set_repository


def test_install_cells_and_title_notes_use_the_repository_of_config_yml():
    tools = repository_tools()
    url = tools.repository_url((ROOT / "_config.yml").read_text())
    for nb in NOTEBOOKS:
        install, title = cells(nb)[:2]
        assert f'%pip install -q "aigc_course[course] @ git+{url}"' in source(install), nb.name
        assert tools.title_note(url, nb.stem) in source(title), nb.name


def test_a_fork_gets_its_own_launch_buttons_install_cells_and_links(tmp_path):
    tools = repository_tools()
    config = tools.with_repository((ROOT / "_config.yml").read_text(), "someone/fork")
    assert yaml.safe_load(config)["repository"]["url"] == "https://github.com/someone/fork"
    copy = tmp_path / NOTEBOOKS[0].name
    copy.write_text(NOTEBOOKS[0].read_text(encoding="utf-8"), encoding="utf-8")
    assert tools.sync_notebook(copy, "https://github.com/someone/fork")
    install, title = cells(copy)[:2]
    assert "git+https://github.com/someone/fork\"" in source(install)
    assert f"https://someone.github.io/fork/notebooks/{copy.stem}.html" in source(title)
    assert not tools.sync_notebook(copy, "https://github.com/someone/fork")  # idempotent


def test_the_pages_workflow_points_the_book_at_the_repository_it_runs_in():
    workflow = (ROOT / ".github" / "workflows" / "pages.yml").read_text()
    assert 'python .ci/set_repository.py "${{ github.repository }}"' in workflow
    assert workflow.index("set_repository.py") < workflow.index("jupyter-book build")


@pytest.mark.parametrize(("profile", "other"), [("fast", "full"), ("full", "fast")])
def test_setup_says_the_profile_and_how_to_switch_in_its_first_line(profile, other, monkeypatch,
                                                                    capsys):
    import torch

    import aigc_course as ac

    monkeypatch.setenv("AIGC_PROFILE", profile)
    ac.setup(threads=torch.get_num_threads())
    first = capsys.readouterr().out.splitlines()[0]
    assert f"profile: {profile} (set AIGC_PROFILE={other} for " in first
