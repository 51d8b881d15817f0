// The reader's progress: quiz answers and exercises marked done, kept in this browser only
// (localStorage, no account, no server). book/progress.md shows it; export/import as a file.
(() => {
  const KEY = "aigc-course-progress";
  const load = () => { try { return JSON.parse(localStorage.getItem(KEY)) || {}; } catch (e) { return {}; } };
  const save = (p) => localStorage.setItem(KEY, JSON.stringify(p));
  const root = () => new URL(document.documentElement.dataset.content_root || "./", location.href);
  const docname = () => decodeURIComponent(location.pathname.slice(root().pathname.length)).replace(/\.html$/, "");
  const shown = (el) => el && el.offsetParent !== null;
  // The page's own words in the site's language (the Chinese edition has <html lang="zh-CN">).
  const T = (document.documentElement.lang || "").startsWith("zh")
    ? { mark: "标记为完成", done: "✓ 已完成", page: "页面", answered: "已答题目", correct: "答对",
        exercises: "已完成练习", all: "合计", forget: "忘记本浏览器中的所有答题记录和已完成的练习？",
        export: "导出为文件", import: "导入文件：", reset: "全部忘记" }
    : { mark: "mark as done", done: "✓ done", page: "page", answered: "questions answered", correct: "correct",
        exercises: "exercises done", all: "all", forget: "Forget all answers and exercises marked done in this browser?",
        export: "Export as a file", import: "Import a file: ", reset: "Forget everything" };

  // A question counts as answered once its feedback shows; correct if the shown feedback says so.
  function record(question) {
    const feedback = [...question.querySelectorAll(".question-feedback")].filter(shown);
    if (!feedback.length) return;
    const correct = question.classList.contains("multiple-choice")
      ? feedback.some((f) => f.classList.contains("correct")) && !feedback.some((f) => f.classList.contains("incorrect"))
      : feedback.every((f) => /-feedback$/.test(f.id));
    const p = load();
    p.questions = p.questions || {};
    const key = `${docname()}#${question.id}`;
    const before = p.questions[key] || {};
    p.questions[key] = { answered: true, correct: correct || !!before.correct, at: new Date().toISOString() };
    save(p);
  }

  function exerciseButtons() {
    const p = load();
    document.querySelectorAll("div.exercise.admonition[id]").forEach((ex) => {
      const key = `${docname()}#${ex.id}`;
      const title = ex.querySelector(".admonition-title");
      if (!title || title.querySelector(".progress-done")) return;
      const button = document.createElement("button");
      button.className = "progress-done";
      button.type = "button";
      const paint = () => {
        const done = !!((load().exercises || {})[key] || {}).done;
        button.textContent = done ? T.done : T.mark;
        button.setAttribute("aria-pressed", String(done));
      };
      button.addEventListener("click", (event) => {
        event.stopPropagation();
        const q = load();
        q.exercises = q.exercises || {};
        const done = !((q.exercises[key] || {}).done);
        q.exercises[key] = { done, at: new Date().toISOString() };
        save(q);
        paint();
      });
      paint();
      title.appendChild(button);
    });
    return p;
  }

  document.addEventListener("click", (event) => {
    const question = event.target.closest("div.multiple-choice, div.short-answer");
    if (question) setTimeout(() => record(question), 300);
  }, true);

  // The progress page: a table per page of the book, from the manifest the build writes.
  function table(el) {
    const p = load(), qs = p.questions || {}, ex = p.exercises || {};
    const pages = (window.AIGC_MANIFEST || { pages: [] }).pages;
    let tq = 0, ta = 0, tc = 0, te = 0, td = 0;
    const rows = pages.map((page) => {
      const url = new URL(`${page.doc}.html`, root()).href;
      const a = page.questions.filter((q) => (qs[`${page.doc}#${q}`] || {}).answered).length;
      const c = page.questions.filter((q) => (qs[`${page.doc}#${q}`] || {}).correct).length;
      const d = page.exercises.filter((e) => (ex[`${page.doc}#${e}`] || {}).done).length;
      tq += page.questions.length; ta += a; tc += c; te += page.exercises.length; td += d;
      return `<tr><td><a href="${url}">${page.title}</a></td><td>${a} / ${page.questions.length}</td>` +
             `<td>${c}</td><td>${d} / ${page.exercises.length}</td></tr>`;
    });
    el.innerHTML = `<table class="table progress-table"><thead><tr><th>${T.page}</th><th>${T.answered}</th>` +
      `<th>${T.correct}</th><th>${T.exercises}</th></tr></thead><tbody>${rows.join("")}</tbody>` +
      `<tfoot><tr><th>${T.all}</th><th id="progress-answered">${ta} / ${tq}</th><th>${tc}</th>` +
      `<th id="progress-done">${td} / ${te}</th></tr></tfoot></table>`;
  }

  function controls(el) {
    const refresh = () => table(el.querySelector(".progress-table-host"));
    // the page's buttons are raw HTML (not in the translation catalogs): label them here
    el.querySelector(".progress-export").textContent = T.export;
    el.querySelector(".progress-reset").textContent = T.reset;
    el.querySelector(".progress-import").parentElement.firstChild.nodeValue = T.import;
    el.querySelector(".progress-export").addEventListener("click", () => {
      const blob = new Blob([JSON.stringify(load(), null, 1)], { type: "application/json" });
      const a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = "aigc-course-progress.json";
      a.click();
    });
    el.querySelector(".progress-import").addEventListener("change", async (event) => {
      const file = event.target.files[0];
      if (!file) return;
      const other = JSON.parse(await file.text()), p = load();
      for (const part of ["questions", "exercises"]) p[part] = { ...(p[part] || {}), ...(other[part] || {}) };
      save(p);
      refresh();
    });
    el.querySelector(".progress-reset").addEventListener("click", () => {
      if (confirm(T.forget)) { localStorage.removeItem(KEY); refresh(); }
    });
    refresh();
  }

  document.addEventListener("DOMContentLoaded", () => {
    exerciseButtons();
    const el = document.getElementById("course-progress");
    if (el) controls(el);
  });
})();
