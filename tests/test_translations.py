"""The Chinese edition is complete, in sync with the English sources, and keeps their markup.

The catalogs ``locales/zh_CN/LC_MESSAGES/**/*.po`` are checked against a fresh extraction of the
current sources (``_build/gettext``-style .pot files, made here in a temporary folder):

- every page and notebook has a catalog, and no catalog is left for a page that is gone;
- no entry is untranslated or fuzzy, and no English paragraph lacks its entry: an English
  sentence that changed is a new msgid without a translation, so the test fails until the
  catalog is updated (``python .ci/translations.py update``) and the new entry translated;
- each translation keeps the maths, inline code, roles, link targets and quiz structure of its
  source (markup parity), and uses the glossary's Chinese terms.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

babel_po = pytest.importorskip("babel.messages.pofile")

ROOT = Path(__file__).resolve().parents[1]
CATALOGS = ROOT / "locales" / "zh_CN" / "LC_MESSAGES"
BIN = Path(sys.executable).parent


def read(path: Path) -> dict[str, tuple[str, bool]]:
    """msgid -> (msgstr, fuzzy) of a .po or .pot file (the header entry left out)."""
    with path.open("rb") as f:
        catalog = babel_po.read_po(f)
    return {m.id: (m.string or "", m.fuzzy) for m in catalog if m.id}


@pytest.fixture(scope="module")
def templates(tmp_path_factory) -> dict[str, dict]:
    """The current sources' entries, page by page (what `translations.py extract` writes)."""
    out = tmp_path_factory.mktemp("gettext")
    subprocess.run([sys.executable, str(ROOT / ".ci" / "translations.py"), "conf"], check=True, cwd=ROOT)
    subprocess.run([str(BIN / "sphinx-build"), "-q", "-b", "gettext", "-D", "nb_execution_mode=off",
                    "-d", str(out / "doctrees"), ".", str(out)], check=True, cwd=ROOT,
                   capture_output=True, text=True, timeout=600)
    pots = {p.relative_to(out).with_suffix("").as_posix(): read(p) for p in out.rglob("*.pot")}
    pots.pop("sphinx", None)    # the theme's own strings: Sphinx ships their Chinese
    return pots


def catalogs() -> dict[str, dict]:
    return {p.relative_to(CATALOGS).with_suffix("").as_posix(): read(p) for p in CATALOGS.rglob("*.po")}


# --- completeness and drift --------------------------------------------------------------

def drift(templates: dict[str, dict], translated: dict[str, dict]) -> list[str]:
    """What keeps the Chinese edition from matching the English sources, one line per problem."""
    problems = [f"{page}: no catalog" for page in sorted(set(templates) - set(translated))]
    problems += [f"{page}: catalog for a page that no longer exists" for page in sorted(set(translated) - set(templates))]
    for page in sorted(set(templates) & set(translated)):
        po = translated[page]
        for msgid in templates[page]:
            msgstr, fuzzy = po.get(msgid, ("", False))
            if msgid not in po:
                problems.append(f"{page}: English changed or new, no translation: {msgid[:90]!r}")
            elif fuzzy:
                problems.append(f"{page}: fuzzy (its English changed): {msgid[:90]!r}")
            elif not msgstr.strip():
                problems.append(f"{page}: untranslated: {msgid[:90]!r}")
    return problems


def test_the_chinese_edition_is_complete_and_in_sync(templates):
    problems = drift(templates, catalogs())
    assert not problems, f"{len(problems)} problems, e.g.:\n" + "\n".join(problems[:30])


def test_no_catalog_is_marked_fuzzy_as_a_whole():
    """A fuzzy header marks a whole catalog unreviewed (`translations.py update` names it)."""
    fuzzy = []
    for po in CATALOGS.rglob("*.po"):
        with po.open("rb") as f:
            if babel_po.read_po(f).fuzzy:
                fuzzy.append(po.relative_to(CATALOGS).as_posix())
    assert not fuzzy, f"catalogs with a fuzzy header: {fuzzy}"


def test_drift_is_caught_when_one_english_sentence_changes():
    before = {"book/intro": {"Hello.": ("", False), "Old sentence.": ("", False)}}
    po = {"book/intro": {"Hello.": ("你好。", False), "Old sentence.": ("旧句子。", False)}}
    assert drift(before, po) == []
    after = {"book/intro": {"Hello.": ("", False), "New sentence.": ("", False)}}
    assert drift(after, po) == ["book/intro: English changed or new, no translation: 'New sentence.'"]
    po["book/intro"]["Hello."] = ("你好。", True)
    assert "fuzzy" in drift(before, po)[0]


# --- markup parity -----------------------------------------------------------------------

MATH = re.compile(r"\$\$.+?\$\$|\$[^$\n]+?\$", re.DOTALL)
CODE = re.compile(r"``.+?``|`[^`\n]+`")
ROLE = re.compile(r"\{([a-z:]+)\}`([^`]*)`")
LINK = re.compile(r"\]\(([^)\s]+)\)")
STRUCTURE = re.compile(r"^(?:\[[x ]\] |> |= |! |& |\^\^\^$|---$|:::.*$|:[a-z-]+:.*$|(?:MAP|MRP|MR|M|TI|TF|T)\[[^\]]*\])",
                       re.MULTILINE)
DIRECTIVE_OPTION_VALUE_TRANSLATABLE = (":alt:", ":caption:")


def markup(text: str) -> Counter:
    """The parts of a paragraph that a translation must keep exactly."""
    roles = [(r, t.rsplit("<", 1)[-1].rstrip(">") if "<" in t else (t if r not in ("term",) else "")) for r, t in ROLE.findall(text)]
    rest = ROLE.sub(" ", text)
    structure = [s if not s.startswith(DIRECTIVE_OPTION_VALUE_TRANSLATABLE) else s.split(":")[1]
                 for s in STRUCTURE.findall(rest)]
    return Counter([("math", m) for m in MATH.findall(rest)] + [("code", c) for c in CODE.findall(MATH.sub(" ", rest))]
                   + [("role", r) for r in roles] + [("link", u) for u in LINK.findall(rest)]
                   + [("structure", s) for s in structure])


def is_formula(msgid: str) -> bool:
    """A display-maths block (``$$ … $$`` or ``\\begin{…}``): its entry starts with a newline."""
    return msgid.startswith("\n") or msgid.lstrip().startswith("\\begin{")


def literal_stars(text: str) -> int:
    """``*`` left as text after Markdown rendering (code and maths removed first).

    CommonMark does not close ``**bold：**`` before a Chinese character (a closing ``**`` right
    after punctuation must be followed by a space or punctuation), so the reader sees asterisks;
    write ``**bold**：`` instead.
    """
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark").render(CODE.sub(" ", MATH.sub(" ", ROLE.sub(" ", text))))
    return re.sub(r"<[^>]+>", "", html).count("*")


def parity_problems(msgid: str, msgstr: str) -> list[str]:
    if is_formula(msgid):
        return [] if msgstr == msgid else ["a display formula must be copied unchanged"]
    want, got = markup(msgid), markup(msgstr)
    missing, extra = want - got, got - want
    problems = [f"lost {kind}: {value!r}" for (kind, value) in missing] + \
               [f"added {kind}: {value!r}" for (kind, value) in extra]
    if re.match(r"\d+\. ", msgid) and re.match(r"\d+\. ", msgstr):
        # "1. 博弈" would be parsed as a numbered list, and Sphinx keeps the English heading
        problems.append("a heading that starts with a number needs an escaped dot: '1\\. …'")
    if "*" in msgstr and literal_stars(msgstr) > literal_stars(msgid):
        problems.append("emphasis does not render: a '*' shows as text (put punctuation outside **…**)")
    return problems


def test_every_translation_keeps_the_markup_of_its_source():
    problems = []
    for page, entries in catalogs().items():
        for msgid, (msgstr, _) in entries.items():
            if msgstr:
                problems += [f"{page}: {p} in {msgid[:60]!r}" for p in parity_problems(msgid, msgstr)]
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:30])


def test_parity_catches_a_broken_formula_a_changed_link_and_a_lost_option():
    assert parity_problems("The loss $-\\log D(x)$ of `gan_step`.", "损失 $-\\log D(x)$ 来自 `gan_step`。") == []
    assert parity_problems("The loss $-\\log D(x)$.", "损失 $-\\log D(x) $。") != []
    assert parity_problems("See [the docs](https://a.org).", "见[文档](https://b.org)。") != []
    assert parity_problems("See {doc}`the lab <../notebooks/08_gan_lab>`.", "见{doc}`实验 <../notebooks/08_gan_lab>`。") == []
    assert parity_problems("q\n---\n[x] a\n> yes\n[ ] b\n> no\n---", "问\n---\n[x] 甲\n> 对\n---") != []
    assert parity_problems("**What happens:** no error.", "**会发生什么**：没有报错。") == []
    assert parity_problems("1. The game", "1. 博弈") and not parity_problems("1. The game", "1\\. 博弈")
    assert "emphasis" in parity_problems("**What happens:** no error.", "**会发生什么：**没有报错。")[0]


# --- one terminology ----------------------------------------------------------------------

def glossary() -> list[tuple[str, str]]:
    """(English term, Chinese term) from book/glossary.md's table."""
    rows = []
    for line in (ROOT / "book" / "glossary.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0] not in ("English", "") and not set(cells[0]) <= set("-: "):
            rows.append((cells[0], cells[1]))
    return rows


# Where the glossary's Chinese carries a qualifier, the shorter word is the term in running text.
SHORT = {"mask (attention)": "掩码", "watermark (text)": "水印", "score function (estimator)": "得分函数",
         "profile (fast/full)": "配置"}
# English words with two senses in the course, where the glossary term is only one of them:
# "bias" is also a layer's bias vector (偏置), not only unfairness (偏见).
AMBIGUOUS = {"bias (fairness)"}
ALIASES = {"batch norm": "batch normalisation"}   # short forms of a glossary term in the English


def term_problems(msgid: str, msgstr: str, terms: list[tuple[str, str]]) -> list[str]:
    """A glossary term in the English must appear as the glossary's Chinese in the translation.

    Accepted: the Chinese term (any of its "/" alternatives, without a parenthesised qualifier),
    or, for names written in capitals (GAN, DDPM, LayerNorm), the name itself kept in Latin letters.
    """
    if is_formula(msgid):
        return []
    plain = CODE.sub(" ", MATH.sub(" ", ROLE.sub(" ", LINK.sub("]", msgid))))
    for short, full in ALIASES.items():
        plain = re.sub(rf"\b{short}\b", full, plain, flags=re.IGNORECASE)
    problems = []
    # longest names first, each blanked out once found: "batch normalisation" is not also "batch"
    for english, chinese in sorted(terms, key=lambda t: -len(t[0].split(" (")[0])):
        name = english.split(" (")[0]
        pattern = re.compile(rf"(?<![\w-]){re.escape(name)}(?:s|es)?(?![\w-])",
                             re.IGNORECASE if name.islower() else 0)
        if not pattern.search(plain):
            continue
        plain = pattern.sub(" ", plain)
        if english in AMBIGUOUS:
            continue
        accepted = [SHORT[english]] if english in SHORT else [
            alt.split("（")[0].split(" (")[0].strip() for alt in chinese.split("/")]
        latin = re.sub(r"[^\x00-\x7f]", "", accepted[0]).strip()
        if latin or not name.islower():
            accepted += [latin or name, name]
        if any(a and a in msgstr for a in accepted):
            continue
        problems.append(f"{english!r} should be {chinese!r}")
    return problems


def test_translations_use_the_glossary_terms():
    terms = glossary()
    assert len(terms) >= 100
    problems = []
    for page, entries in catalogs().items():
        if page == "book/glossary":
            continue
        for msgid, (msgstr, _) in entries.items():
            if msgstr:
                problems += [f"{page}: {p} in {msgid[:50]!r}" for p in term_problems(msgid, msgstr, terms)]
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:30])


def test_the_term_check_catches_a_different_word():
    terms = [("discriminator", "判别器"), ("Adam", "Adam 优化器"), ("grounding", "事实依据/接地"),
             ("DCGAN", "深度卷积生成对抗网络"), ("mask (attention)", "注意力掩码")]
    assert term_problems("The discriminator uses Adam.", "判别器使用 Adam。", terms) == []
    assert term_problems("The discriminator wins.", "鉴别器获胜。", terms) == ["'discriminator' should be '判别器'"]
    assert term_problems("Grounding helps; a DCGAN; a causal mask.", "接地有用；DCGAN；因果掩码。", terms) == []
    assert term_problems("A causal mask.", "因果遮罩。", terms) == ["'mask (attention)' should be '注意力掩码'"]
    more = [("batch", "批次"), ("batch normalisation", "批归一化"), ("bias (fairness)", "偏见（公平性）")]
    assert term_problems("Batch normalisation, batch norm and a bias vector.", "批归一化、批归一化和一个偏置向量。",
                         more) == []
