"""The teaching kit (DESIGN §12) is there in every chapter, in the page source.

- a quiz of at least 5 questions at the end of every chapter notebook and main book page, with
  feedback on every multiple-choice option, folded in JupyterLab (the answers are marked in it);
- a write-it-yourself exercise (a stub and its ``ac.check`` call) in every lab and maths chapter;
- every exercise check in ``aigc_course/exercises`` is used by a notebook;
- a diagram for every model, with alt text, where the model is introduced;
- 01 writes a training loop by hand before ``ac.fit`` appears.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p for p in (ROOT / "notebooks").glob("[01][0-9]_*.ipynb") if not p.stem.endswith("_keras"))
QUIZ_PAGES = [ROOT / "book" / f"{name}.md" for name in ("how_to_use", "notation", "responsible_aigc")]
WRITE_IT_YOURSELF = [p for p in CHAPTERS if 3 <= int(p.name[:2]) <= 12]
MIN_QUESTIONS = 5
QUESTION = re.compile(r"^:::\{question\}.*?^:::$", re.DOTALL | re.MULTILINE)
DIAGRAMS = {  # diagram -> the chapters that introduce its model
    "lstm_unrolled": ["06_lstm_text_generation"], "lstm_cell": ["06_lstm_text_generation"],
    "gan_loop": ["03_gan_maths", "08_gan_lab"], "vae_reparam": ["04_vae_maths", "09_vae_lab"],
    "diffusion_chain": ["10_diffusion_lab"], "attention_sdpa": ["05_attention_maths"],
    "transformer_block": ["05_attention_maths", "11_transformer_lab"],
    "fastspeech": ["12_tts_lab"], "tts_pipeline": ["12_tts_lab"], "rag_assistant": ["13_applications"],
}


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def text(cell: dict) -> str:
    return "".join(cell["source"])


def questions(markdown: str) -> list[str]:
    return QUESTION.findall(markdown)


def option_problems(question: str) -> list[str]:
    """Multiple-choice options each need their own feedback line (`> ...`) right after them."""
    if ":type: short-answer" in question:
        body = question.split("\n---\n")[1]
        return [] if re.search(r"^(MAP|MRP|MR|M|T|TI|TF)\[.+\]", body, re.MULTILINE) and "\n= " in "\n" + body \
            else ["a short answer needs an answer key and feedback"]
    lines = question.split("\n---\n")[1].splitlines()
    problems = []
    for i, line in enumerate(lines):
        if line.startswith(("[x] ", "[ ] ")):
            rest = [ln for ln in lines[i + 1:] if ln.strip()]
            nxt = next((ln for ln in rest if ln.startswith(("[x] ", "[ ] ", "> "))), "")
            if not nxt.startswith("> "):
                problems.append(f"option without feedback: {line[:60]}")
    if not any(ln.startswith("[x] ") for ln in lines):
        problems.append("no correct option")
    return problems


def quiz_cells(path: Path) -> list[dict]:
    return [c for c in cells(path) if c["cell_type"] == "markdown" and questions(text(c))]


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_ends_with_a_quiz_folded_in_jupyterlab(nb):
    quiz = quiz_cells(nb)
    assert quiz, f"{nb.name}: no quiz (a markdown cell with `question` directives)"
    found = [q for c in quiz for q in questions(text(c))]
    assert len(found) >= MIN_QUESTIONS, f"{nb.name}: {len(found)} quiz questions, need {MIN_QUESTIONS}"
    for c in quiz:
        assert "quiz" in c["metadata"].get("tags", []), f"{nb.name}: quiz cell not tagged 'quiz'"
        assert c["metadata"].get("jupyter", {}).get("source_hidden") is True, \
            f"{nb.name}: quiz cell shows its answers in JupyterLab (set jupyter.source_hidden)"
        # JupyterLab shows a folded cell's first line: a MyST comment, not ":::{question} ..."
        assert text(c).startswith("% Quiz"), f"{nb.name}: the quiz cell should start with a '% Quiz ...' comment"
    problems = [p for q in found for p in option_problems(q)]
    assert not problems, f"{nb.name}: {problems}"
    labels = re.findall(r"^:label: (\S+)", "\n".join(found), re.MULTILINE)
    assert len(labels) == len(found) and all(lb.startswith(f"quiz-{nb.name[:2]}") for lb in labels), labels
    headings = [text(c).splitlines()[0] for c in cells(nb) if c["cell_type"] == "markdown"]
    assert "## Quiz" in headings, f"{nb.name}: no '## Quiz' heading"
    assert any(q.count(":type: short-answer") for q in found) or nb.name.startswith(("00", "15")), \
        f"{nb.name}: no short (numeric or formula) answer"


@pytest.mark.parametrize("page", QUIZ_PAGES, ids=lambda p: p.stem)
def test_main_book_pages_end_with_a_quiz(page):
    found = questions(page.read_text(encoding="utf-8"))
    assert len(found) >= MIN_QUESTIONS, f"{page.name}: {len(found)} quiz questions"
    assert not [p for q in found for p in option_problems(q)]


def test_the_option_check_catches_an_option_without_feedback():
    bad = ":::{question} t\n:label: quiz-00-9\nq?\n---\n[x] right\n> why\n[ ] wrong\n[ ] wrong too\n> why\n---\n:::"
    assert option_problems(questions(bad)[0]) == ["option without feedback: [ ] wrong"]


def exercise_checks() -> dict[str, str]:
    from aigc_course import exercises
    found = {}
    for info in pkgutil.iter_modules(exercises.__path__):
        module = importlib.import_module(f"aigc_course.exercises.{info.name}")
        found.update({name: info.name for name in module.__all__})
    return found


@pytest.mark.parametrize("nb", WRITE_IT_YOURSELF, ids=lambda p: p.stem)
def test_labs_and_maths_chapters_have_a_write_it_yourself_stub_and_its_check(nb):
    code = [text(c) for c in cells(nb) if c["cell_type"] == "code"]
    stubs = [c for c in code if "raise NotImplementedError" in c and "source_hidden" not in c]
    assert stubs, f"{nb.name}: no stub (a visible code cell ending in `raise NotImplementedError`)"
    used = {m for c in code for m in re.findall(r"\bcheck\.(\w+)\(", c)} & set(exercise_checks())
    assert used, f"{nb.name}: no `ac.check.<exercise>(...)` call from aigc_course/exercises"


def test_every_exercise_check_is_used_by_a_notebook_and_reachable_from_check():
    from aigc_course import check
    calls = {m for nb in CHAPTERS for c in cells(nb) for m in re.findall(r"\bcheck\.(\w+)\(", text(c))}
    for name in exercise_checks():
        assert name in calls, f"check.{name} is not used by any notebook"
        assert callable(getattr(check, name))


@pytest.mark.parametrize("diagram", sorted(DIAGRAMS))
def test_each_model_has_its_diagram_where_it_is_introduced(diagram):
    assert (ROOT / "book" / "figures" / f"{diagram}.svg").exists()
    for stem in DIAGRAMS[diagram]:
        md = "\n".join(text(c) for c in cells(ROOT / "notebooks" / f"{stem}.ipynb") if c["cell_type"] == "markdown")
        block = re.search(r":::\{figure\} \.\./book/figures/" + diagram + r"\.svg\n(.*?)\n:::", md, re.DOTALL)
        assert block, f"{stem} does not show {diagram}.svg"
        alt = re.search(r"^:alt: (.+)$", block.group(1), re.MULTILINE)
        assert alt and len(alt.group(1)) > 30, f"{stem}: {diagram}.svg needs an alt text"
        assert ":class: diagram" in block.group(1), f"{stem}: {diagram}.svg needs :class: diagram (dark theme)"


def test_01_writes_a_training_loop_by_hand_before_fit():
    code = [text(c) for c in cells(ROOT / "notebooks" / "01_deep_learning_essentials.ipynb")
            if c["cell_type"] == "code"]
    first_fit = next(i for i, c in enumerate(code) if re.search(r"\bac\.fit\(|\bfit\(", c))
    before = "\n".join(code[:first_fit])
    for piece in ("DataLoader", "zero_grad()", ".backward()", ".step()", "torch.no_grad()", ".eval()"):
        assert piece in before, f"01: the hand-written loop before the first fit lacks {piece}"


def test_the_instructors_quiz_bank_lists_every_quiz_question():
    labels = set()
    for nb in CHAPTERS:
        for c in quiz_cells(nb):
            labels |= set(re.findall(r"^:label: (quiz-\S+)", text(c), re.MULTILINE))
    for page in QUIZ_PAGES:
        labels |= set(re.findall(r"^:label: (quiz-\S+)", page.read_text(encoding="utf-8"), re.MULTILINE))
    bank = set(re.findall(r"`(quiz-[a-z0-9-]+)`", (ROOT / "book" / "instructors.md").read_text(encoding="utf-8")))
    assert labels == bank, f"missing from the bank: {sorted(labels - bank)}; not in any quiz: {sorted(bank - labels)}"
