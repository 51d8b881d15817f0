"""The repository URL lives in one place, ``_config.yml`` (``repository.url``).

This script copies it into what is derived from it: every notebook's install cell (what Colab and
Kaggle run: ``pip install "aigc_course[course] @ git+<url>"``) and the note under each title that
links to the chapter on the course website (GitHub Pages of the same repository).

    python .ci/set_repository.py                 # sync the notebooks with _config.yml
    python .ci/set_repository.py OWNER/NAME      # point everything at github.com/OWNER/NAME first
    python .ci/set_repository.py --check         # exit 1 if a notebook is out of sync

The Pages workflow runs it with ``${{ github.repository }}`` before building, so a fork's launch
buttons, install cells and links open the fork.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "_config.yml"
URL_LINE = re.compile(r"^(repository:\n(?:[ \t]+.*\n)*?[ \t]+url:[ \t]*)(\S+)", re.MULTILINE)
NOTE_START = "> This notebook reads best on the "


def repository_url(config_text: str) -> str:
    """``repository.url`` of a ``_config.yml`` text, e.g. ``https://github.com/owner/name``."""
    found = URL_LINE.search(config_text)
    if not found:
        raise ValueError("_config.yml has no repository.url")
    return found.group(2).rstrip("/")


def with_repository(config_text: str, repository: str) -> str:
    """``config_text`` with ``repository.url`` set to ``https://github.com/<repository>``."""
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repository):
        raise ValueError(f"repository must look like OWNER/NAME, got {repository!r}")
    return URL_LINE.sub(lambda m: m.group(1) + f"https://github.com/{repository}", config_text)


def site_url(repo_url: str) -> str:
    """GitHub Pages address of a GitHub repository: ``https://owner.github.io/name``."""
    owner, name = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+)", repo_url).groups()
    return f"https://{owner.lower()}.github.io/{name}"


def install_cell(repo_url: str) -> str:
    """Source of the first (hidden) cell: installs the package and the `course` extra."""
    return (
        "# On Colab or in a fresh environment: install the course's package and everything the\n"
        "# notebooks use (a no-op when it is present).\n"
        "import importlib.util\n"
        'if importlib.util.find_spec("aigc_course") is None:\n'
        f'    %pip install -q "aigc_course[course] @ git+{repo_url}"'
    )


def title_note(repo_url: str, stem: str) -> str:
    """The line under a notebook's title that links to the chapter on the website."""
    return (f"{NOTE_START}[course website]({site_url(repo_url)}/notebooks/{stem}.html), "
            "which renders its exercises, folded solutions and maths.")


def with_note(title_source: str, note: str) -> str:
    """The title cell's source with ``note`` right under the ``# NN · ...`` heading."""
    lines = [ln for ln in title_source.split("\n") if not ln.startswith(NOTE_START)]
    while len(lines) > 1 and lines[1] == "" and (len(lines) < 3 or lines[2] == ""):
        del lines[1]  # the blank lines left behind by a removed note
    return "\n".join([lines[0], "", note, *lines[1:]])


def as_lines(text: str) -> list[str]:
    """A cell's source in the notebook JSON layout: one string per line."""
    return text.splitlines(keepends=True)


def sync_notebook(path: Path, repo_url: str, write: bool = True) -> bool:
    """Bring the install cell and title note of one notebook in line; True if it changed."""
    text = path.read_text(encoding="utf-8")
    nb = json.loads(text)
    install, title = nb["cells"][0], nb["cells"][1]
    install["source"] = as_lines(install_cell(repo_url))
    title["source"] = as_lines(with_note("".join(title["source"]), title_note(repo_url, path.stem)))
    new = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    if new != text and write:
        path.write_text(new, encoding="utf-8")
    return new != text


def main(argv: list[str]) -> int:
    check = "--check" in argv
    names = [a for a in argv if a != "--check"]
    config = CONFIG.read_text()
    if names:
        config = with_repository(config, names[0])
        CONFIG.write_text(config)
    url = repository_url(config)
    stale = [p.name for p in sorted((ROOT / "notebooks").glob("*.ipynb"))
             if sync_notebook(p, url, write=not check)]
    print(f"repository: {url}; {'out of sync' if check else 'updated'}: {stale or 'none'}")
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
