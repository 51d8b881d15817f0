"""Retrieval for a help desk: TF-IDF over known questions, with a confidence and a "don't know".

The retriever turns each intent into one document (its known paraphrases plus its answer),
embeds it with TF-IDF (word 1–2-grams without stop words, plus character 3–5-grams so typos
and word forms still match), embeds a new question the same way and ranks the intents by
cosine similarity. The top similarity is the
*confidence*: below ``threshold`` the assistant says it does not know and hands over to a
person instead of answering something unrelated::

    kb = faq_knowledge_base(seed=0)
    r = FAQRetriever.fit(kb, questions_per_intent=5)         # index 5 paraphrases per intent
    r.answer("how long until my money comes back?")           # → Answer(intent="refund_status", ...)
    top_k_accuracy(r, held_out_questions, held_out_intents, k=3)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..validation import check_int, check_number

DONT_KNOW = ("I'm not sure I understood your question. Let me connect you with a member of our "
             "support team who can help.")


@dataclass(frozen=True)
class Answer:
    """What the assistant replies: ``intent`` is ``None`` on the "don't know" path."""

    intent: str | None
    text: str
    confidence: float


class FAQRetriever:
    """TF-IDF retrieval of FAQ intents (see the module docstring).

    Each intent becomes one document: its indexed questions and its answer, joined. A query is
    embedded the same way and the intents are ranked by cosine similarity. Build it with
    :meth:`fit`; ``search(query, k)`` → ``[(intent, score), ...]`` best first,
    ``answer(query)`` → :class:`Answer`. Scores are cosine similarities in [0, 1].
    """

    def __init__(self, vectorizer, matrix, intents: list[str], answers: dict[str, str],
                 threshold: float):
        self.vectorizer, self.matrix = vectorizer, matrix
        self.intents = intents
        self.answers = answers
        self.threshold = threshold

    @classmethod
    def fit(cls, entries: Sequence, questions_per_intent: int | None = None,
            threshold: float = 0.15, use_answers: bool = True) -> FAQRetriever:
        """Index ``entries`` (objects with ``intent``, ``questions``, ``answer``).

        Args:
            entries: e.g. :func:`aigc_course.data.faq_knowledge_base`.
            questions_per_intent: index only the first N questions of each entry (keep the
                rest as held-out paraphrases); ``None`` indexes them all.
            threshold: confidence below which :meth:`answer` says "don't know" (0 ≤ t < 1).
            use_answers: add each answer's words to its intent's document (more vocabulary
                to match; the notebook measures the gain).
        """
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import FeatureUnion

        entries = list(entries)
        if not entries:
            raise ValueError("entries is empty: give at least one FAQ entry")
        if questions_per_intent is not None:
            check_int("questions_per_intent", questions_per_intent)
        check_number("threshold", threshold, 0.0, 1.0, high_open=True)
        documents, intents, answers = [], [], {}
        for e in entries:
            for attr in ("intent", "questions", "answer"):
                if not hasattr(e, attr):
                    raise TypeError(f"each entry needs .intent, .questions and .answer; {e!r} has no .{attr}")
            if e.intent in answers:
                raise ValueError(f"intent {e.intent!r} appears twice")
            qs = list(e.questions)[:questions_per_intent]
            if not qs:
                raise ValueError(f"intent {e.intent!r} has no questions")
            documents.append(" ".join(qs + ([e.answer] if use_answers else [])))
            intents.append(e.intent)
            answers[e.intent] = e.answer
        vectorizer = FeatureUnion([
            ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, stop_words="english")),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)),
        ])
        matrix = _normalise(vectorizer.fit_transform(documents))
        return cls(vectorizer, matrix, intents, answers, float(threshold))

    def scores(self, queries: Sequence[str]) -> np.ndarray:
        """Cosine similarity of each query to each intent: ``[len(queries), n_intents]``."""
        if isinstance(queries, str):
            raise TypeError("queries must be a list of strings, not one string")
        queries = list(queries)
        if not queries or not all(isinstance(q, str) for q in queries):
            raise ValueError("queries must be a non-empty list of strings")
        return (_normalise(self.vectorizer.transform(queries)) @ self.matrix.T).toarray()

    def search(self, query: str, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` best intents for one query, ``[(intent, score), ...]`` best first."""
        if not isinstance(query, str):
            raise TypeError(f"query must be a string, got {type(query).__name__}")
        check_int("k", k)
        s = self.scores([query])[0]
        best = np.argsort(-s, kind="stable")[:k]
        return [(self.intents[j], float(s[j])) for j in best]

    def answer(self, query: str) -> Answer:
        """The canonical answer of the best intent, or the "don't know" reply below the threshold."""
        intent, confidence = self.search(query, k=1)[0]
        if confidence < self.threshold:
            return Answer(None, DONT_KNOW, confidence)
        return Answer(intent, self.answers[intent], confidence)


def _normalise(matrix):
    from sklearn.preprocessing import normalize

    return normalize(matrix)  # FeatureUnion concatenates two unit vectors: renormalise to cosine


def top_k_accuracy(retriever: FAQRetriever, queries: Sequence[str], intents: Sequence[str],
                   k: int = 1) -> float:
    """Share of ``queries`` whose true intent is among the retriever's ``k`` best."""
    queries, intents = list(queries), list(intents)
    if len(queries) != len(intents):
        raise ValueError(f"queries ({len(queries)}) and intents ({len(intents)}) have different lengths")
    check_int("k", k)
    s = retriever.scores(queries)
    top = np.argsort(-s, axis=1, kind="stable")[:, :k]
    hits = [intents[i] in {retriever.intents[j] for j in top[i]} for i in range(len(queries))]
    return float(np.mean(hits))
