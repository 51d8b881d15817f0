"""Check the built website in real headless Chromium, page by page, as a reader would.

Usage: python .ci/check_site.py _build/html [--screenshots _build/screenshots]
       python .ci/check_site.py _build/html/zh-CN --lang zh-CN [--screenshots ...]

For every HTML page listed in the book's navigation it checks that:
  - the page loads without JavaScript console errors (severe);
  - every <img> has loaded with a non-zero size;
  - maths is typeset by MathJax (no raw $$ or \\( left in the text);
  - every <audio> element has a source that loads;
  - internal links point to existing files and anchors;
  - notebook pages have launch (Colab/Binder) and download buttons;
  - exercise solutions are hidden (collapsed) until clicked, and open when clicked;
  - nothing is loaded from another host (no CDN): every resource the browser fetched is local;
  - quizzes work: each chapter (and the pages in QUIZ_PAGES) has at least 5 questions; the check
    answers one multiple-choice question (feedback appears) and one short answer with the right
    value (the "correct" feedback appears);
  - diagrams (img.diagram) have alt text, and are inverted in the dark theme;
  - the page's language: ``<html lang>`` is the edition's; a link leads to the same page in the
    other edition; with ``--lang zh-CN`` the title and text are Chinese and a CJK font is installed
    (so nothing shows as boxes);
and that the search page finds results (in Chinese, segmented by jieba, for the Chinese edition). A screenshot of each page (plus a mobile-width one)
goes under --screenshots. Exits non-zero on any failure.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

from bs4 import BeautifulSoup
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By


def make_driver(width: int = 1280, height: int = 900) -> webdriver.Chrome:
    opts = Options()
    opts.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--allow-file-access-from-files",
                 f"--window-size={width},{height}", "--autoplay-policy=no-user-gesture-required"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


def internal_link_problems(html_root: Path, page: Path, soup: BeautifulSoup, ids_cache: dict) -> list[str]:
    problems = []
    for a in soup.find_all("a", href=True):
        href = a["href"]
        if href.startswith(("http://", "https://", "mailto:", "javascript:", "data:")):
            continue
        parsed = urlparse(href)
        target = page if not parsed.path else (page.parent / unquote(parsed.path)).resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.exists():
            problems.append(f"broken link {href!r}")
            continue
        if parsed.fragment and target.suffix == ".html":
            if target not in ids_cache:
                tsoup = BeautifulSoup(target.read_text(encoding="utf-8"), "html.parser")
                ids_cache[target] = {t.get("id") for t in tsoup.find_all(id=True)} | {
                    t.get("name") for t in tsoup.find_all("a", attrs={"name": True})}
            if unquote(parsed.fragment) not in ids_cache[target]:
                problems.append(f"missing anchor {href!r}")
    return problems


QUIZ_PAGES = ("book/how_to_use.html", "book/notation.html", "book/responsible_aigc.html")
MIN_QUESTIONS = 5


def needs_quiz(rel: str) -> bool:
    """Every chapter notebook (not a _keras companion) and the main book pages end with a quiz."""
    return rel in QUIZ_PAGES or bool(re.fullmatch(r"notebooks/\d\d_[a-z0-9_]+(?<!_keras)\.html", rel))


def external_requests(driver) -> list[str]:
    """URLs the page fetched from anywhere but the built site (scripts, styles, fonts, images)."""
    return driver.execute_script(
        "return performance.getEntriesByType('resource').map(r => r.name)"
        ".filter(n => !n.startsWith('file:') && !n.startsWith('data:') && !n.startsWith('blob:'));")


def visible(driver, css: str) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0])).filter(e => e.offsetParent !== null)"
        ".map(e => e.id || e.className);", css)


def try_quiz(driver, soup: BeautifulSoup) -> tuple[int, list[str]]:
    """Answer one multiple-choice and one short-answer question as a reader would."""
    problems = []
    questions = soup.select("article div.multiple-choice, article div.short-answer")
    choice = next((q for q in questions if "multiple-choice" in q["class"]), None)
    if choice is not None:
        qid = choice["id"]
        option = driver.find_elements(By.CSS_SELECTOR, f"[id='{qid}'] .option")[-1]
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].click();", option)
        time.sleep(0.3)
        if not visible(driver, f"[id='{qid}'] .question-feedback"):
            problems.append(f"quiz {qid}: choosing an option shows no feedback")
    answer = next((q for q in questions if "short-answer" in q["class"]), None)
    if answer is not None:
        qid = answer["id"]
        field = answer.select_one(".question-option-input")
        key = answer.select_one(".question-option-answer").get_text(strip=True)
        value = key.split(";")[0]
        element = driver.find_element(By.CSS_SELECTOR, f"[id='{field['id']}']")
        if field.name == "math-field":
            driver.execute_script("arguments[0].value = arguments[1];", element, value)
        else:
            element.clear()
            element.send_keys(value)
        submit = driver.find_element(By.CSS_SELECTOR, f"[id='{qid}'] .submit-button")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].click();", submit)
        time.sleep(0.5)
        shown = visible(driver, f"[id='{qid}'] .question-feedback")
        if not any(s.endswith("-feedback") for s in shown):
            problems.append(f"quiz {qid}: the right answer {value!r} does not get the 'correct' feedback "
                            f"(shown: {shown})")
    return len(questions), problems


CJK = re.compile(r"[\u3400-\u9fff]")
LATIN_WORD = re.compile(r"\b[A-Za-z]{3,}\b")
SEARCH = {"en": "gradient", "zh-CN": "梯度"}
# Interface words that extensions write themselves: in the Chinese edition they must be Chinese too.
ENGLISH_UI = ("Show code cell", "Hide code cell", "Try again", "Submit answer", "Question (",
              "mark as done", "Solution to Exercise", "Exercise ", "Theorem ", "Proof.")


def language_problems(driver, soup: BeautifulSoup, lang: str) -> tuple[list[str], float]:
    """The page is in the edition's language; returns the problems and its share of Chinese."""
    problems = []
    got = driver.execute_script("return document.documentElement.lang;")
    if got != lang:
        problems.append(f"<html lang={got!r}>, expected {lang!r}")
    if not soup.select("p.language-switch a[hreflang]"):
        problems.append("no link to the other language's page")
    article = BeautifulSoup(str(soup.select_one("article") or soup), "html.parser")
    for skip in article.select("pre, code, .highlight, .cell_output, .math, mjx-container, script, style"):
        skip.decompose()
    text = article.get_text(" ")
    chinese = len(CJK.findall(text))
    share = chinese / max(chinese + len(LATIN_WORD.findall(text)), 1)
    if lang.startswith("zh"):
        title = driver.title
        if not CJK.search(title):
            problems.append(f"title not in Chinese: {title!r}")
        # the bibliography lists English titles of English papers: not a translation gap
        left = sorted({w for w in ENGLISH_UI if w in text})
        if left:
            problems.append(f"interface words left in English: {left}")
        if share < 0.6 and not soup.select("article .citation, article div.citation"):
            problems.append(f"text mostly not Chinese ({share:.0%} Chinese characters among words)")
    return problems, share


def check_page(driver, html_root: Path, page: Path, shots: Path, ids_cache: dict,
               lang: str = "en") -> tuple[list[str], dict]:
    problems: list[str] = []
    driver.get_log("browser")  # clear
    driver.get(page.as_uri())
    # wait for MathJax (if the page has maths) to finish typesetting
    deadline = time.time() + 20
    while time.time() < deadline:
        state = driver.execute_script(
            "return document.readyState === 'complete' && (!window.MathJax || !MathJax.startup || "
            "!MathJax.startup.promise ? true : (window.__mjdone === true));")
        if state:
            break
        driver.execute_script(
            "if (window.MathJax && MathJax.startup && MathJax.startup.promise && !window.__mjwait) {"
            " window.__mjwait = true; MathJax.startup.promise.then(() => { window.__mjdone = true; }); }")
        time.sleep(0.2)
    soup = BeautifulSoup(driver.page_source, "html.parser")
    info: dict = {}
    rel = page.relative_to(html_root).as_posix()

    for entry in driver.get_log("browser"):
        # pydata-sphinx-theme logs this once on a reader's very first visit (nothing is stored yet
        # in localStorage); the page is unaffected, so it is not counted as an error.
        if "Got invalid theme mode" in entry.get("message", ""):
            continue
        if entry.get("level") == "SEVERE":
            problems.append(f"console error: {entry.get('message', '')[:200]}")

    images = driver.execute_script(
        "return Array.from(document.images).map(i => [i.currentSrc || i.src, i.complete, i.naturalWidth]);")
    info["images"] = len(images)
    for src, complete, width in images:
        if not complete or not width:
            problems.append(f"image not loaded: {src[:100]}")

    article = BeautifulSoup(str(soup.select_one("article") or soup), "html.parser")
    for code in article.select("pre, code, .highlight"):   # code may contain "\\[" or "$$" itself
        code.decompose()
    text = article.get_text(" ")
    raw_math = re.findall(r"\$\$|\\\(|\\\[|\\begin\{", text)
    info["math"] = len(soup.select("mjx-container"))
    if raw_math:
        problems.append(f"raw TeX left in the page ({len(raw_math)} places): MathJax did not render it")

    audio = driver.execute_script(
        "return Array.from(document.querySelectorAll('audio')).map(a => [a.currentSrc || "
        "(a.querySelector('source') || {}).src || '', a.readyState, a.error ? a.error.code : 0]);")
    info["audio"] = len(audio)
    for src, ready, err in audio:
        if err or ready < 1 or not src:
            problems.append(f"audio not loadable (readyState {ready}, error {err}): {src[:60]}")

    problems += internal_link_problems(html_root, page, soup, ids_cache)
    lang_problems, info["chinese"] = language_problems(driver, soup, lang)
    problems += lang_problems

    diagrams = soup.select("article img.diagram")
    info["diagrams"] = len(diagrams)
    for img in diagrams:
        if len(img.get("alt", "").strip()) < 20:
            problems.append(f"diagram without a real alt text: {img.get('src')}")

    if rel.startswith("notebooks/"):
        html = driver.page_source
        if "colab.research.google.com" not in html or "mybinder.org" not in html:
            problems.append("launch buttons (Colab, Binder) missing")
        if not re.search(r"\.ipynb", html) or "download" not in html.lower():
            problems.append("download button missing")
        if not soup.select(".cell_output"):
            problems.append("no executed outputs on a notebook page")

    shots.mkdir(parents=True, exist_ok=True)
    name = rel.replace("/", "__").replace(".html", ".png")
    driver.save_screenshot(str(shots / name))

    solutions = driver.find_elements(By.CSS_SELECTOR, ".solution.dropdown")
    info["solutions"] = len(solutions)
    if solutions:  # hidden until the reader clicks, then shown
        sol = solutions[0]
        body = sol.find_elements(By.CSS_SELECTOR, ":scope > :not(.admonition-title):not(button)")
        if body and body[0].is_displayed():
            problems.append("a solution is shown by default (it should be hidden)")
        button = sol.find_elements(By.CSS_SELECTOR, "button.toggle-button")
        if not button:
            problems.append("a solution has no toggle button")
        else:
            driver.execute_script("arguments[0].scrollIntoView(); arguments[0].click();", button[0])
            time.sleep(0.3)
            if body and not body[0].is_displayed():
                problems.append("a solution does not open when its button is clicked")

    done_buttons = driver.find_elements(By.CSS_SELECTOR, "div.exercise button.progress-done")
    if soup.select("div.exercise.admonition[id]") and not done_buttons:
        problems.append("exercises have no 'mark as done' button (progress.js did not run)")
    elif done_buttons:
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].click();", done_buttons[0])
        if done_buttons[0].get_attribute("aria-pressed") != "true":
            problems.append("'mark as done' does not mark the exercise as done")

    info["quiz"], quiz_problems = try_quiz(driver, soup)
    problems += quiz_problems
    if needs_quiz(rel) and info["quiz"] < MIN_QUESTIONS:
        problems.append(f"{info['quiz']} quiz questions (a chapter ends with at least {MIN_QUESTIONS})")

    info["external"] = external_requests(driver)
    for url in info["external"]:
        problems.append(f"loaded from another host (a CDN?): {url[:120]}")

    return problems, info


def theme_shots(chapter: Path, diagram_pages: list[Path], shots: Path) -> list[str]:
    """Screenshots of a chapter's answered quiz and of diagrams: light/dark, desktop/phone."""
    problems = []
    for width, height, device in ((1280, 900, "desktop"), (390, 844, "phone")):
        driver = make_driver(width, height)
        try:
            for theme in ("light", "dark"):
                driver.get(chapter.as_uri())
                time.sleep(1.5)
                driver.execute_script("document.documentElement.dataset.theme = arguments[0];", theme)
                soup = BeautifulSoup(driver.page_source, "html.parser")
                _, quiz_problems = try_quiz(driver, soup)
                problems += quiz_problems
                driver.save_screenshot(str(shots / f"quiz__{chapter.stem}__{theme}__{device}.png"))
                for page in diagram_pages:
                    driver.get(page.as_uri())
                    time.sleep(1.5)
                    driver.execute_script("document.documentElement.dataset.theme = arguments[0];", theme)
                    imgs = driver.find_elements(By.CSS_SELECTOR, "article img.diagram")
                    for k, img in enumerate(imgs):
                        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", img)
                        time.sleep(0.2)
                        name = Path(img.get_attribute("src")).stem
                        filt = driver.execute_script("return getComputedStyle(arguments[0]).filter;", img)
                        if (theme == "dark") != ("invert" in filt):
                            problems.append(f"diagram {name} in the {theme} theme has filter {filt!r}")
                        if k == 0:
                            driver.save_screenshot(str(shots / f"diagram__{name}__{theme}__{device}.png"))
        finally:
            driver.quit()
    return problems


def pages_in_order(html_root: Path) -> list[Path]:
    index = html_root / "index.html"
    first = html_root / (BeautifulSoup(index.read_text(), "html.parser").find("meta", attrs={"http-equiv": "Refresh"}) or {}).get(
        "content", "0; url=book/intro.html").split("url=")[-1]
    soup = BeautifulSoup(first.read_text(encoding="utf-8"), "html.parser")
    pages = [first]
    for a in soup.select("nav.bd-docs-nav a.reference.internal, .bd-sidebar a.reference.internal"):
        target = (first.parent / unquote(urlparse(a["href"]).path)).resolve()
        if target.suffix == ".html" and target not in pages:
            pages.append(target)
    return pages


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("html", type=Path)
    parser.add_argument("--screenshots", type=Path, default=Path("_build/screenshots"))
    parser.add_argument("--lang", default="en", choices=sorted(SEARCH), help="the edition's language")
    parser.add_argument("--no-theme-shots", action="store_true",
                        help="skip the light/dark x desktop/phone screenshots (same layout in both editions)")
    args = parser.parse_args()
    if args.lang.startswith("zh"):
        fonts = subprocess.run(["fc-list", ":lang=zh", "family"], check=False, capture_output=True,
                               text=True).stdout
        print(f"CJK fonts: {fonts.splitlines()[0] if fonts.strip() else 'none'}")
        if not fonts.strip():
            print("[FAIL] no CJK font installed: Chinese text would show as boxes (apt-get install fonts-noto-cjk)")
            return 1
    html_root = args.html.resolve()
    pages = pages_in_order(html_root)
    driver = make_driver()
    failures = 0
    ids_cache: dict = {}
    report = {}
    try:
        for page in pages:
            problems, info = check_page(driver, html_root, page, args.screenshots, ids_cache, args.lang)
            rel = page.relative_to(html_root).as_posix()
            report[rel] = {"problems": problems, **info}
            status = "ok" if not problems else "FAIL"
            print(f"[{status}] {rel}: {info.get('images', 0)} images, {info.get('math', 0)} maths, "
                  f"{info.get('audio', 0)} audio, {info.get('solutions', 0)} solutions, "
                  f"{info.get('quiz', 0)} quiz questions, {info.get('diagrams', 0)} diagrams, "
                  f"{len(info.get('external', []))} external requests, {info.get('chinese', 0):.0%} Chinese")
            for p in problems:
                print(f"    - {p}")
            failures += bool(problems)
        # search works (Sphinx's client-side search)
        query = SEARCH[args.lang]
        driver.get((html_root / "search.html").as_uri() + "?q=" + query)
        deadline = time.time() + 20
        hits = 0
        while time.time() < deadline and not hits:
            hits = len(driver.find_elements(By.CSS_SELECTOR, "#search-results li, ul.search li"))
            time.sleep(0.3)
        print(f"[{'ok' if hits else 'FAIL'}] search for {query!r}: {hits} results")
        failures += not hits
        report["search"] = {"hits": hits}
        # the progress page counts the questions answered above (localStorage, in this browser)
        answered = sum(min(r.get("quiz", 0), 2) for r in report.values() if isinstance(r, dict))
        progress = html_root / "book" / "progress.html"
        driver.get(progress.as_uri())
        time.sleep(1)
        shown = driver.find_elements(By.ID, "progress-answered")
        counted = int(shown[0].text.split("/")[0]) if shown else -1
        ok = counted >= min(answered, 1) and counted > 0
        print(f"[{'ok' if ok else 'FAIL'}] progress page: {shown[0].text if shown else 'no table'} "
              f"questions answered (the check answered up to {answered})")
        failures += not ok
    finally:
        driver.quit()
    # one chapter at phone width
    mobile = make_driver(390, 844)
    try:
        chapter = next((p for p in pages if "01_deep_learning" in p.name), pages[0])
        mobile.get(chapter.as_uri())
        time.sleep(2)
        mobile.save_screenshot(str(args.screenshots / "mobile__chapter.png"))
    finally:
        mobile.quit()
    # a chapter's quiz answered, and diagrams, in both themes at desktop and phone width
    by_name = {p.stem: p for p in pages}
    chapter = by_name.get("08_gan_lab", pages[0])
    diagram_pages = [by_name[n] for n in ("05_attention_maths", "10_diffusion_lab", "12_tts_lab") if n in by_name]
    shot_problems = [] if args.no_theme_shots else theme_shots(chapter, diagram_pages, args.screenshots)
    for p in shot_problems:
        print(f"[FAIL] {p}")
    failures += bool(shot_problems)
    external = sorted({u for r in report.values() for u in r.get("external", [])})
    print(f"external requests on all pages: {len(external)}" + "".join(f"\n    - {u}" for u in external))
    totals = {k: sum(r.get(k, 0) for r in report.values() if isinstance(r.get(k, 0), int))
              for k in ("quiz", "diagrams")}
    print(f"quiz questions: {totals['quiz']}, diagrams: {totals['diagrams']}")
    (args.screenshots / "report.json").write_text(json.dumps(report, indent=2))
    print(f"{len(pages)} pages checked, {failures} with problems; screenshots in {args.screenshots}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
