"""A generated customer-service knowledge base and dialogues (no download, deterministic).

An online shop's help desk, written from templates:

* :func:`faq_knowledge_base` — one :class:`FAQEntry` per *intent* (``"refund_status"``,
  ``"reset_password"``, ...): several paraphrased customer questions and one canonical
  answer. The seed picks the shop's policies (return window, delivery times, free-shipping
  threshold, opening hours...), the products named in the questions and the paraphrases'
  order and wording, so two seeds give two different but equally valid shops.
* :func:`customer_service_dialogues` — ``n`` short conversations as plain text::

      Customer: Hi, where is my order?
      Agent: Sure, I can help with that. Orders ship within 2 business days ...
      Customer: No, that's all. Thanks!
      Agent: You're welcome. Have a nice day!

  ready to train a small language model or a chatbot on.

Categories: orders, shipping, returns, refunds, payments, account, products, support.
Everything is generated with :class:`random.Random` (the global random state is untouched).
The templates (questions, answers, greetings) are data, kept in ``customer_service.json`` next
to this module; this file holds only the code that fills them in.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from importlib import resources

from ..validation import check_int

__all__ = ["AGENT", "CUSTOMER", "FAQEntry", "customer_service_dialogues", "faq_knowledge_base",
           "random_policy"]

CUSTOMER = "Customer:"
AGENT = "Agent:"


def _load_templates() -> dict:
    """The templates, read from ``customer_service.json`` (shipped inside the package)."""
    text = resources.files(__package__).joinpath("customer_service.json").read_text("utf-8")
    return json.loads(text)


_TEMPLATES = _load_templates()
_PRODUCTS: list[str] = _TEMPLATES["products"]
# intent -> {"category", "questions" (templates), "answer" (template)}. Slots: {product},
# {a_product} and the policy values of _policies() ({return_days}, {ship_days}, ...).
_INTENTS: dict[str, dict] = _TEMPLATES["intents"]
_PREFIXES: list[str] = _TEMPLATES["prefixes"]
_SUFFIXES: list[str] = _TEMPLATES["suffixes"]
_OPENERS: list[str] = _TEMPLATES["openers"]
_CLOSERS: list[str] = _TEMPLATES["closers"]
_FOLLOW_UPS: list[str] = _TEMPLATES["follow_ups"]
_GOODBYES: list[tuple[str, str]] = [(g["customer"], g["agent"]) for g in _TEMPLATES["goodbyes"]]


@dataclass(frozen=True)
class FAQEntry:
    """One intent of the knowledge base.

    Attributes:
        intent: a short id, e.g. ``"refund_status"`` (unique in the knowledge base).
        category: one of ``orders, shipping, returns, refunds, payments, account, products,
            support``.
        questions: paraphrases of the same customer question (8 per intent, all different).
        answer: the canonical answer, with the shop's policy values filled in.
    """

    intent: str
    category: str
    questions: tuple[str, ...]
    answer: str
    policy: dict = field(default_factory=dict, compare=False, repr=False)


def _policies(rng: random.Random) -> dict:
    """The shop's policy numbers, drawn once per seed (answers quote them)."""
    std = rng.choice([2, 3, 4])
    open_hour = rng.choice([7, 8, 9])
    return {
        "ship_days": rng.choice([2, 3]),
        "cancel_hours": rng.choice([1, 2, 12, 24]),
        "std_days": f"{std} to {std + 2}",
        "express_days": rng.choice(["1", "1 to 2"]),
        "ship_fee": rng.choice(["$3.99", "$4.95", "$5.50"]),
        "free_over": rng.choice(["$35", "$50", "$75"]),
        "express_fee": rng.choice(["$9.99", "$12.50", "$14.00"]),
        "n_countries": rng.choice([25, 40, 60]),
        "intl_days": rng.choice(["6 to 10", "7 to 14", "10 to 15"]),
        "track_hours": rng.choice([12, 24, 48]),
        "return_days": rng.choice([14, 30, 60]),
        "damage_days": rng.choice([7, 14]),
        "refund_days": rng.choice([3, 5, 7]),
        "instalment_over": rng.choice(["$100", "$150", "$200"]),
        "n_instalments": rng.choice([3, 4]),
        "release_days": rng.choice([3, 5]),
        "reset_minutes": rng.choice([30, 60]),
        "erase_days": rng.choice([14, 30]),
        "restock_weeks": rng.choice(["2 to 3", "3 to 4", "4 to 6"]),
        "warranty_years": rng.choice([1, 2, 3]),
        "open_hour": open_hour,
        "close_hour": open_hour + rng.choice([9, 10, 12]),
        "reply_hours": rng.choice([12, 24]),
    }


def random_policy(rng: random.Random) -> dict:
    """Policy values drawn from wide ranges: training shops for a generator that must *read* them.

    Every slot of :func:`_policies` gets a value (numbers 1–99, prices $2.49–$19.99), so no
    fixed value can be memorised: a model trained on many such shops has to copy the value
    from the passage it is given.
    """
    def price(low, high):
        return f"${rng.randint(low, high)}.{rng.choice(['00', '49', '50', '95', '99'])}"

    def span(low, high):
        a = rng.randint(low, high)
        return f"{a} to {a + rng.randint(1, 5)}"

    open_hour = rng.randint(5, 11)
    return {
        "ship_days": rng.randint(1, 9), "cancel_hours": rng.randint(1, 72),
        "std_days": span(1, 9), "express_days": rng.choice([str(rng.randint(1, 3)), span(1, 3)]),
        "ship_fee": price(2, 9), "free_over": f"${rng.randint(2, 20) * 5}",
        "express_fee": price(8, 19), "n_countries": rng.randint(5, 99), "intl_days": span(3, 20),
        "track_hours": rng.randint(1, 72), "return_days": rng.randint(7, 99),
        "damage_days": rng.randint(2, 30), "refund_days": rng.randint(1, 20),
        "instalment_over": f"${rng.randint(5, 40) * 10}", "n_instalments": rng.randint(2, 12),
        "release_days": rng.randint(1, 14), "reset_minutes": rng.randint(5, 90),
        "erase_days": rng.randint(7, 60), "restock_weeks": span(1, 8),
        "warranty_years": rng.randint(1, 10), "open_hour": open_hour,
        "close_hour": open_hour + rng.randint(6, 12), "reply_hours": rng.randint(2, 72),
    }


def _fill(template: str, product: str) -> str:
    article = "an" if product[0] in "aeiou" else "a"
    return template.format(product=product, a_product=f"{article} {product}")


def _dress(question: str, rng: random.Random) -> str:
    """Add a greeting/politeness (or not) around a question, keeping the capitals right."""
    prefix, suffix = rng.choice(_PREFIXES), rng.choice(_SUFFIXES)
    if prefix and not prefix.endswith(". "):
        question = question[0].lower() + question[1:] if not question.startswith("I ") else question
    return f"{prefix}{question}{suffix}"


def faq_knowledge_base(seed: int = 0, policy: dict | None = None) -> list[FAQEntry]:
    """The help desk's knowledge base: 25 intents × 8 paraphrased questions + one answer each.

    Args:
        seed: picks the policies quoted in the answers, the products named in the questions,
            the greetings around them and the order of the paraphrases (same seed → same list).
        policy: policy values that replace the seed's, e.g. ``{"return_days": 45}`` (the
            questions stay the same: this is how the shop edits its documents).

    Returns:
        ``list[FAQEntry]`` in a fixed intent order (the intents never change with the seed;
        use e.g. the first 5 questions of each entry to build an index and the other 3 as
        held-out paraphrases).
    """
    rng = random.Random(check_int("seed", seed, low=None))
    drawn = _policies(rng)
    unknown = sorted(set(policy or {}) - set(drawn))
    if unknown:
        raise ValueError(f"policy has unknown keys {unknown}; the keys are {sorted(drawn)}")
    policy = {**drawn, **(policy or {})}
    entries = []
    for intent, spec in _INTENTS.items():
        templates = spec["questions"]
        order = list(range(len(templates)))
        rng.shuffle(order)
        # an intent's templates all differ, so its questions do too (a test checks 30 seeds)
        questions = [_dress(_fill(templates[i], rng.choice(_PRODUCTS)), rng) for i in order]
        answer = spec["answer"].format(**policy)
        entries.append(FAQEntry(intent, spec["category"], tuple(questions), answer, dict(policy)))
    return entries


def customer_service_dialogues(n: int, seed: int = 0, max_turns: int = 3) -> list[str]:
    """``n`` customer-service conversations as text, answers taken from :func:`faq_knowledge_base`.

    Each dialogue has 1 to ``max_turns`` customer questions, each answered by the agent with an
    opener, the canonical answer of the question's intent and (sometimes) a closing question,
    and ends with a goodbye exchange. Lines start with ``"Customer: "`` or ``"Agent: "``; the
    dialogue ends with a newline.

    Args:
        n: number of dialogues (≥ 1).
        seed: the seed of both the knowledge base and the dialogues (same seed → same texts).
        max_turns: most questions per dialogue (≥ 1).
    """
    check_int("n", n)
    check_int("max_turns", max_turns)
    kb = faq_knowledge_base(seed)
    rng = random.Random(f"dialogues-{seed}")
    dialogues = []
    for _ in range(n):
        turns = rng.randint(1, max_turns)
        intents = rng.sample(kb, turns)
        lines = []
        for t, entry in enumerate(intents):
            question = rng.choice(entry.questions)
            if t > 0:  # a follow-up: drop the greeting, lead in with a connective
                for prefix in filter(None, _PREFIXES):
                    question = question.removeprefix(prefix)
                if not question.startswith("I "):
                    question = question[0].lower() + question[1:]
                question = f"{rng.choice(_FOLLOW_UPS)} {question}"
            closer = rng.choice(_CLOSERS)
            reply = " ".join(part for part in (rng.choice(_OPENERS), entry.answer, closer) if part)
            lines += [f"{CUSTOMER} {question}", f"{AGENT} {reply}"]
        bye_customer, bye_agent = rng.choice(_GOODBYES)
        lines += [f"{CUSTOMER} {bye_customer}", f"{AGENT} {bye_agent}"]
        dialogues.append("\n".join(lines) + "\n")
    return dialogues
