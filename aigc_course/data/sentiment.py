"""A generated, labelled sentiment corpus of financial headlines and customer reviews.

Every example has a label (1 = positive, 0 = negative) fixed by a rule on its words, with the
phenomena that defeat a bag of words:

* **negation** — "Acme is not profitable", "Globex fails to beat forecasts": the polarity of
  the sentiment word is flipped;
* **intensifiers** — "extremely weak": stronger, same label; an intensifier before "but" does
  not reach the clause after it;
* **contrast** — "Initech misses estimates, but the outlook is strong": the clause after
  ``but`` (or the main clause of "although ...", "..., even though ...") decides the label;
* **double negation** — "I can't say that, after earnings, Acme is not profitable"
  (positive): a negating frame flips the negated clause back; "I can't say that Acme is
  profitable" is negative;
* **negator scope** — "Acme is not weak and the app is helpful" (positive): a negator flips
  only its own clause, not the other half of an "and".

The last three, the intensified first clause of a contrast and **label noise** (each label
flipped with probability ``label_noise``) are off in :func:`generate_sentiment` unless asked
for, so older seeds reproduce; :func:`load_sentiment` turns them all on (:data:`HARD_MIX`, 5 %
label noise). The clean label is a function of the text, so no classifier can beat the
**noise ceiling** ``1 - label_noise`` in expectation; ``clean_labels`` keeps the labels before
the flip, and ``(labels == clean_labels).float().mean()`` is the exact ceiling on a split.

:func:`load_sentiment` returns train/val/test splits plus ``negation``: the test examples whose
deciding clause is negated (no test text occurs in the training set). :func:`sentiment_stream`
generates dated headlines per company with hidden "crisis" periods in which the share of
negative news jumps, for the monitoring application of chapter 07;
:func:`daily_share`, :func:`rolling_mean`, :func:`alert_days` and :func:`score_alerts` turn
predictions into alerts and count false alarms and missed crises.

All company names are invented. Everything is generated offline, deterministically from a seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..validation import check_int, check_number

COMPANIES = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Wonka", "Tyrell",
             "Cyberdyne", "Soylent", "Oscorp", "Nakatomi", "Gringotts", "Stark Bank", "Duff")
PRODUCTS = ("app", "service", "customer support", "new card", "fee structure", "website",
            "mobile bank", "loan offer", "savings account", "checkout")
POS_ADJ = ("strong", "solid", "profitable", "impressive", "excellent", "reliable", "healthy",
           "promising", "robust", "great", "good", "upbeat", "stable", "helpful")
NEG_ADJ = ("weak", "poor", "disappointing", "risky", "unprofitable", "shaky", "terrible", "bad",
           "worrying", "fragile", "gloomy", "volatile", "unreliable", "slow")
INTENSIFIERS = ("very", "really", "extremely", "remarkably", "truly", "quite", "deeply")
# (third person, base form, objects)
POS_VERBS = (("beats", "beat", ("expectations", "forecasts", "estimates")),
             ("raises", "raise", ("guidance", "its dividend", "its outlook")),
             ("wins", "win", ("a major contract", "new customers", "market share")),
             ("grows", "grow", ("revenue", "profits", "deposits")),
             ("boosts", "boost", ("margins", "sales", "its buyback")))
NEG_VERBS = (("misses", "miss", ("expectations", "forecasts", "estimates")),
             ("cuts", "cut", ("guidance", "its dividend", "its outlook")),
             ("loses", "lose", ("a major contract", "customers", "market share")),
             ("delays", "delay", ("its product launch", "payments", "its results")),
             ("warns", "warn", ("on profits", "of losses", "of layoffs")))
PREFIXES = ("", "", "", "breaking:", "analysts say", "report:", "in early trading,", "this quarter,")
SUFFIXES = ("", "", "", "this quarter", "after earnings", "say analysts", "this year")
# a frame negates the whole clause after it
NEGATING_FRAMES = ("it is not true that", "I can't say that", "nobody thinks that",
                   "analysts do not believe that", "it is wrong to say that", "no one claims that")
ASIDES = (", as analysts said,", ", after earnings,", ", according to the report,",
          ", this quarter,", ", in early trading,")
# the harder mix of chapter 07: shares of the three extra constructions (the rest are the basic
# sentences), and the label noise; see generate_sentiment
HARD_MIX = {"p_double_negation": 0.2, "p_scope": 0.15, "p_hard_contrast": 0.25,
            "label_noise": 0.05}
# the headlines of sentiment_stream: the hard constructions, no label noise (labels are the truth)
STREAM_MIX = {k: v for k, v in HARD_MIX.items() if k != "label_noise"}


def _pick(rng, seq):
    return seq[int(rng.integers(len(seq)))]


def _subject(rng, company: str) -> str:
    kind = rng.random()
    if kind < 0.45:
        return company
    if kind < 0.65:
        return f"{company} shares" if rng.random() < 0.5 else f"{company}'s outlook"
    return f"the {company} {_pick(rng, PRODUCTS)}" if rng.random() < 0.5 else f"the {_pick(rng, PRODUCTS)}"


def _clause(rng, polarity: int, company: str, negate: bool, intensify: bool) -> str:
    """One clause with the given polarity (1 positive, 0 negative)."""
    base = polarity if not negate else 1 - polarity  # the sentiment word before negation
    if rng.random() < 0.6:  # "X is [not] [very] good"
        subj = _subject(rng, company)
        plural = subj.endswith("shares")
        adj = _pick(rng, POS_ADJ if base else NEG_ADJ)
        if intensify:
            adj = f"{_pick(rng, INTENSIFIERS)} {adj}"
        cop = _pick(rng, ("are", "look", "remain", "seem") if plural else ("is", "looks", "remains", "seems"))
        if negate:
            neg = _pick(rng, ("not", "not", "no longer", "never", "hardly"))
            if cop in ("is", "are"):
                return f"{subj} {cop} {neg} {adj}" if rng.random() < 0.6 else f"{subj} {cop}n't {adj}"
            aux = "do" if plural else "does"
            if neg == "not":
                return f"{subj} {aux} not {cop.rstrip('s') if not plural else cop} {adj}"
            return f"{subj} {neg} {cop} {adj}"
        return f"{subj} {cop} {adj}"
    subj, plural = company, False  # "Acme [does not] beat(s) forecasts"
    third, basef, objects = _pick(rng, POS_VERBS if base else NEG_VERBS)
    obj = _pick(rng, objects)
    adverb = f"{_pick(rng, ('sharply', 'strongly', 'massively', 'clearly'))} " if intensify else ""
    if negate:
        aux = _pick(rng, ("does not", "did not", "doesn't", "fails to", "failed to", "never"))
        if plural and aux in ("does not", "doesn't"):
            aux = aux.replace("does", "do")
        if aux == "never":
            return f"{subj} never {adverb}{basef if plural else third} {obj}"
        return f"{subj} {aux} {adverb}{basef} {obj}"
    return f"{subj} {adverb}{basef if plural else third} {obj}"


def _sentence(rng, label: int, company: str, p_negation: float, p_contrast: float,
              p_intensifier: float) -> tuple[str, bool, bool, bool]:
    negate = bool(rng.random() < p_negation)
    intensify = bool(rng.random() < p_intensifier)
    contrast = bool(rng.random() < p_contrast)
    main = _clause(rng, label, company, negate, intensify)
    if contrast:
        first_pol = 1 - label if rng.random() < 0.8 else label
        first = _clause(rng, first_pol, company, bool(rng.random() < p_negation), False)
        text = f"{first}, but {main}" if rng.random() < 0.7 else f"although {first}, {main}"
    else:
        pre, suf = _pick(rng, PREFIXES), _pick(rng, SUFFIXES)
        text = " ".join(p for p in (pre, main, suf) if p)
    return _capitalise(text), negate, contrast, intensify



def _framed(rng, label: int, company: str, p_intensifier: float) -> tuple[str, bool]:
    """"<negating frame> <clause>": the frame flips the clause. Returns (text, double negation).

    With probability 0.6 the clause itself is negated too, and the two negations cancel.
    """
    double = bool(rng.random() < 0.6)
    inner = _clause(rng, 1 - label, company, double, bool(rng.random() < p_intensifier))
    aside = _pick(rng, ASIDES) if rng.random() < 0.5 else ""
    return f"{_pick(rng, NEGATING_FRAMES)}{aside} {inner}", double


def _scoped(rng, label: int, company: str, p_intensifier: float) -> str:
    """"<clause> and <clause>", both of polarity ``label``, exactly one of them negated."""
    first_negated = bool(rng.random() < 0.5)
    first = _clause(rng, label, company, first_negated, bool(rng.random() < p_intensifier))
    second = _clause(rng, label, company, not first_negated, bool(rng.random() < p_intensifier))
    return f"{first} and {second}"


def _hard_contrast(rng, label: int, company: str, p_negation: float,
                   p_intensifier: float) -> tuple[str, bool, bool]:
    """A contrast whose conceded clause is opposite and often intensified; the main clause
    may come first ("..., even though ..."). Returns (text, main negated, main intensified)."""
    negate, intensify = bool(rng.random() < p_negation), bool(rng.random() < p_intensifier)
    main = _clause(rng, label, company, negate, intensify)
    conceded = _clause(rng, 1 - label, company, bool(rng.random() < p_negation),
                       bool(rng.random() < 0.6))
    form = int(rng.integers(4))
    text = (f"{conceded}, but {main}", f"although {conceded}, {main}",
            f"{main}, even though {conceded}", f"{main}, although {conceded}")[form]
    return text, negate, intensify


def _hard_sentence(rng, label: int, company: str, mix: dict, p_negation: float,
                   p_intensifier: float):
    """One of the harder constructions, or None (then a basic sentence is drawn).

    Returns (text, negated, contrast, intensified, double negation, scope) or None.
    """
    u = rng.random()
    if u < mix["p_double_negation"]:
        text, double = _framed(rng, label, company, p_intensifier)
        return text, True, False, False, double, False
    u -= mix["p_double_negation"]
    if u < mix["p_scope"]:
        return _scoped(rng, label, company, p_intensifier), True, False, False, False, True
    u -= mix["p_scope"]
    if u < mix["p_hard_contrast"]:
        text, negate, intensify = _hard_contrast(rng, label, company, p_negation, p_intensifier)
        return text, negate, True, intensify, False, False
    return None


def _draw(rng, label: int, company: str, p_negation: float, p_contrast: float,
          p_intensifier: float, mix: dict) -> tuple:
    """One sentence: (text, negated, contrast, intensified, double negation, scope)."""
    if mix["p_double_negation"] or mix["p_scope"] or mix["p_hard_contrast"]:
        hard = _hard_sentence(rng, label, company, mix, p_negation, p_intensifier)
        if hard is not None:
            return (_capitalise(hard[0]),) + hard[1:]
    return _sentence(rng, label, company, p_negation, p_contrast, p_intensifier) + (False, False)


def _capitalise(text: str) -> str:
    return text[0].upper() + text[1:]


@dataclass
class SentimentSplit:
    """Parallel lists: ``texts``, ``labels`` (LongTensor, 1 = positive, after label noise),
    ``clean_labels`` (before it) and boolean flags ``[N]`` per example."""

    texts: list
    labels: torch.Tensor
    negated: torch.Tensor
    contrast: torch.Tensor
    intensified: torch.Tensor
    double_negation: torch.Tensor
    scope: torch.Tensor
    clean_labels: torch.Tensor
    companies: list = field(default_factory=list)

    FLAGS = ("negated", "contrast", "intensified", "double_negation", "scope")

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, mask) -> SentimentSplit:
        """The examples where the boolean ``mask`` (tensor or array ``[N]``) is True."""
        mask = torch.as_tensor(mask, dtype=torch.bool)
        if mask.shape != (len(self),):
            raise ValueError(f"mask must have shape ({len(self)},), got {tuple(mask.shape)}")
        idx = mask.nonzero().flatten().tolist()
        tensors = [getattr(self, f)[mask] for f in ("labels",) + self.FLAGS + ("clean_labels",)]
        return SentimentSplit([self.texts[i] for i in idx], *tensors,
                              companies=[self.companies[i] for i in idx] if self.companies else [])


@dataclass
class SentimentCorpus:
    train: SentimentSplit
    val: SentimentSplit
    test: SentimentSplit
    negation: SentimentSplit  # the negated test examples


def generate_sentiment(n: int, seed: int = 0, *, p_negation: float = 0.3, p_contrast: float = 0.2,
                       p_intensifier: float = 0.3, p_double_negation: float = 0.0,
                       p_scope: float = 0.0, p_hard_contrast: float = 0.0,
                       label_noise: float = 0.0, p_positive: float = 0.5,
                       companies=COMPANIES) -> SentimentSplit:
    """``n`` labelled sentences (see the module docstring for what is in them).

    A sentence is a framed (double) negation with probability ``p_double_negation``, two clauses
    joined by "and" (negator scope) with ``p_scope``, a hard contrast with ``p_hard_contrast``,
    and otherwise a basic sentence (negated with ``p_negation``, intensified with
    ``p_intensifier``, a contrast with ``p_contrast``). Then each label is flipped with
    probability ``label_noise``.
    """
    check_int("n", n)
    for name, p in (("p_negation", p_negation), ("p_contrast", p_contrast),
                    ("p_intensifier", p_intensifier), ("p_double_negation", p_double_negation),
                    ("p_scope", p_scope), ("p_hard_contrast", p_hard_contrast),
                    ("label_noise", label_noise), ("p_positive", p_positive)):
        check_number(name, p, 0.0, 1.0)
    mix = {"p_double_negation": p_double_negation, "p_scope": p_scope,
           "p_hard_contrast": p_hard_contrast}
    check_number("p_double_negation + p_scope + p_hard_contrast", sum(mix.values()), 0.0, 1.0)
    if isinstance(companies, str) or not companies:
        raise ValueError("companies must be a non-empty list of names")
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        label = int(rng.random() < p_positive)
        company = _pick(rng, companies)
        text, *flags = _draw(rng, label, company, p_negation, p_contrast, p_intensifier, mix)
        noisy = label_noise > 0 and rng.random() < label_noise  # no draw when off: seeds reproduce
        rows.append((text, 1 - label if noisy else label, *flags, label, company))
    return _split_from_rows(rows)


def _split_from_rows(rows) -> SentimentSplit:
    """Rows (text, label, 5 flags, clean label, company) → a :class:`SentimentSplit`."""
    texts, labels, *flags, clean, comp = zip(*rows)
    return SentimentSplit(list(texts), torch.tensor(labels, dtype=torch.long),
                          *(torch.tensor(f, dtype=torch.bool) for f in flags),
                          torch.tensor(clean, dtype=torch.long), list(comp))


def load_sentiment(n_train: int = 6000, n_val: int = 1000, n_test: int = 2000,
                   seed: int = 0, *, label_noise: float = HARD_MIX["label_noise"]
                   ) -> SentimentCorpus:
    """Train/val/test splits of the hard mix (:data:`HARD_MIX`) and the held-out negation
    subset of the test split.

    Every split has ``label_noise`` (default 5 %), so the best possible expected accuracy is
    ``1 - label_noise``. Val and test examples whose text also occurs in the training split
    are dropped (so the splits can be a little smaller than asked), which makes every
    evaluation out-of-sample.
    """
    for name, n in (("n_train", n_train), ("n_val", n_val), ("n_test", n_test)):
        check_int(name, n)
    mix = {**HARD_MIX, "label_noise": check_number("label_noise", label_noise, 0.0, 0.5)}
    train = generate_sentiment(n_train, seed, **mix)
    seen = set(train.texts)

    def held_out(n, s):
        split = generate_sentiment(n, s, **mix)
        return split.subset([t not in seen for t in split.texts])

    val = held_out(n_val, seed + 7919)
    test = held_out(n_test, seed + 15_485_863)
    return SentimentCorpus(train, val, test, test.subset(test.negated))


# --------------------------------------------------------------------------- monitoring
@dataclass
class SentimentStream:
    """Dated headlines: per record ``days[i]`` (0-based), ``dates[i]``, ``companies[i]``,
    ``texts[i]``, ``labels[i]``; ``crises[company]`` lists the hidden ``(first_day, last_day)``
    periods of elevated negative news."""

    texts: list
    labels: torch.Tensor
    days: np.ndarray
    dates: np.ndarray
    companies: list
    crises: dict
    n_days: int


def sentiment_stream(n_days: int = 120, companies=("Acme", "Globex", "Initech"), *,
                     per_day: float = 12.0, base_negative: float = 0.3, crisis_negative: float = 0.7,
                     crises_per_company: int = 2, crisis_days: tuple = (5, 10),
                     start: str = "2024-01-01", seed: int = 0) -> SentimentStream:
    """A stream of dated headlines per company with hidden crises.

    Each day each company gets Poisson(``per_day``) headlines; each is negative with probability
    ``base_negative``, or ``crisis_negative`` inside one of its crisis periods (lengths drawn
    from ``crisis_days``, non-overlapping, not in the first 10 days).
    """
    check_int("n_days", n_days, low=30)
    if isinstance(companies, str) or not companies:
        raise ValueError("companies must be a non-empty list of names")
    for name, p in (("base_negative", base_negative), ("crisis_negative", crisis_negative)):
        check_number(name, p, 0.0, 1.0)
    check_number("per_day", per_day, 0.0, low_open=True)
    if not isinstance(crisis_days, (tuple, list)) or len(crisis_days) != 2:
        raise TypeError("crisis_days must be a (min, max) pair of ints, "
                        f"got {type(crisis_days).__name__} {crisis_days!r}")
    lo = check_int("crisis_days[0]", crisis_days[0])
    hi = check_int("crisis_days[1]", crisis_days[1], low=lo)
    check_int("crises_per_company", crises_per_company)
    if crises_per_company * (hi + 10) > n_days - 10:
        raise ValueError(f"{crises_per_company} crises of up to {hi} days (10 days apart, none in "
                         f"the first 10 days) do not fit in n_days={n_days}")
    rng = np.random.default_rng(seed)
    crises = {}
    for company in companies:
        periods = []
        while len(periods) < crises_per_company:
            length = int(rng.integers(lo, hi + 1))
            first = int(rng.integers(10, n_days - length))
            if all(first > b + 10 or first + length - 1 < a - 10 for a, b in periods):
                periods.append((first, first + length - 1))
        crises[company] = sorted(periods)
    rows, days = [], []
    for day in range(n_days):
        for company in companies:
            in_crisis = any(a <= day <= b for a, b in crises[company])
            p_neg = crisis_negative if in_crisis else base_negative
            for _ in range(int(rng.poisson(per_day))):
                label = int(rng.random() >= p_neg)
                text, *flags = _draw(rng, label, company, 0.3, 0.2, 0.3, STREAM_MIX)
                rows.append((text, label, *flags, label, company))
                days.append(day)
    split = _split_from_rows(rows)
    days = np.asarray(days)
    dates = np.datetime64(start, "D") + days
    return SentimentStream(split.texts, split.labels, days, dates, split.companies, crises, n_days)


def daily_share(stream: SentimentStream, negative, company: str) -> np.ndarray:
    """Share of ``company``'s headlines flagged negative (``negative[i]`` True) on each day, ``[n_days]``.

    Days without headlines get NaN.
    """
    negative = np.asarray(negative, dtype=bool)
    if negative.shape != (len(stream.texts),):
        raise ValueError(f"negative must have one flag per headline ({len(stream.texts)}), got {negative.shape}")
    mask = np.array([c == company for c in stream.companies])
    if not mask.any():
        raise ValueError(f"no headlines for company {company!r}; companies: {sorted(set(stream.companies))}")
    total = np.bincount(stream.days[mask], minlength=stream.n_days)
    neg = np.bincount(stream.days[mask], weights=negative[mask], minlength=stream.n_days)
    with np.errstate(invalid="ignore"):
        return neg / np.where(total == 0, np.nan, total)


def rolling_mean(x, window: int) -> np.ndarray:
    """Trailing mean over the last ``window`` values (NaNs ignored); the first values use what exists."""
    x = np.asarray(x, dtype=float)
    check_int("window", window)
    out = np.empty_like(x)
    for i in range(len(x)):
        chunk = x[max(0, i - window + 1): i + 1]
        out[i] = np.nanmean(chunk) if np.isfinite(chunk).any() else np.nan
    return out


def alert_days(share, threshold: float) -> np.ndarray:
    """Days on which ``share`` crosses ``threshold`` from below (one alert per crossing)."""
    share = np.nan_to_num(np.asarray(share, dtype=float), nan=0.0)
    above = share >= threshold
    return np.flatnonzero(above & ~np.concatenate([[False], above[:-1]]))


def score_alerts(alerts, crises, grace: int = 2) -> dict:
    """Count true alerts, false alarms and missed crises.

    An alert is true when it falls inside a crisis ``(first, last)`` or up to ``grace`` days
    after its end (rolling averages lag); a crisis with no true alert is missed.
    """
    alerts = [int(a) for a in alerts]
    hit = [any(a <= d <= b + grace for a, b in crises) for d in alerts]
    missed = sum(not any(a <= d <= b + grace for d in alerts) for a, b in crises)
    return {"true_alerts": int(sum(hit)), "false_alarms": int(len(alerts) - sum(hit)),
            "missed_crises": int(missed), "crises": len(crises)}
