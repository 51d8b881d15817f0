"""The hard sentiment corpus of chapter 07: its rules, its label noise, and the (bi)LSTM models."""

import pytest
import torch

from aigc_course.data import sentiment as S
from aigc_course.models.rnn import LSTMClassifier, train_sentiment_classifier

POSITIVE = set(S.POS_ADJ) | {w for third, base, _ in S.POS_VERBS for w in (third, base)}
NEGATIVE = set(S.NEG_ADJ) | {w for third, base, _ in S.NEG_VERBS for w in (third, base)}
NEGATORS = {"not", "never", "hardly", "no", "fails", "failed"}  # "no" of "no longer"


def read_clause(clause: str) -> int:
    """The polarity of one clause: its one sentiment word, flipped by a negator."""
    words = clause.replace(",", " ").split()
    polar = [1 for w in words if w in POSITIVE] + [0 for w in NEGATIVE.intersection(words)]
    assert len(polar) == 1, clause
    negators = sum(w in NEGATORS or w.endswith("n't") for w in words)
    assert negators <= 1, clause
    return polar[0] ^ negators


def read(text: str) -> int:
    """An independent reference reading of the generator's rules: the label of a clean text."""
    t = text.lower()
    for frame in S.NEGATING_FRAMES:
        if t.startswith(frame.lower()):  # possibly followed by an aside: "that, as ... said,"
            return 1 - read_clause(t[len(frame):])
    if t.startswith("although "):
        return read_clause(t.split(", ", 1)[1])
    if ", but " in t:
        return read_clause(t.split(", but ")[1])
    for concession in (", even though ", ", although "):
        if concession in t:
            return read_clause(t.split(concession)[0])
    if " and " in t:
        first, second = t.split(" and ")
        assert read_clause(first) == read_clause(second), text
        return read_clause(first)
    return read_clause(t)


@pytest.fixture(scope="module")
def hard():
    return S.generate_sentiment(20_000, seed=3, **S.HARD_MIX)


def test_every_clean_label_follows_the_rules(hard):
    wrong = [(t, int(y)) for t, y in zip(hard.texts, hard.clean_labels) if read(t) != y]
    assert not wrong, wrong[:5]
    by_text = {}
    for t, y in zip(hard.texts, hard.clean_labels.tolist()):
        by_text.setdefault(t, set()).add(y)
    assert all(len(ys) == 1 for ys in by_text.values())  # so the noise ceiling is exact


def test_each_phenomenon_appears_with_its_flag(hard):
    for flag, low, high in (("double_negation", 0.09, 0.15), ("scope", 0.12, 0.18),
                            ("contrast", 0.25, 0.40), ("negated", 0.45, 0.65)):
        share = float(getattr(hard, flag).float().mean())
        assert low < share < high, (flag, share)
    framed = [t for t, d in zip(hard.texts, hard.double_negation) if d]
    assert all(any(t.lower().startswith(f.lower()) for f in S.NEGATING_FRAMES) for t in framed)
    assert all(" and " in t for t, s in zip(hard.texts, hard.scope) if s)
    positive = hard.clean_labels == 1
    for flag in ("double_negation", "scope", "contrast"):  # both labels occur in every subset
        mask = getattr(hard, flag)
        assert 0.4 < float(positive[mask].float().mean()) < 0.6, flag


def test_hand_checked_examples():
    split = S.generate_sentiment(40, seed=0, **S.HARD_MIX)
    pairs = set(zip(split.texts, split.clean_labels.tolist()))
    for text, label in [
        ("Analysts do not believe that Tyrell fails to cut its dividend", 0),  # not(positive)
        ("It is not true that, in early trading, Oscorp no longer remains excellent", 1),
        ("No one claims that Nakatomi is not unprofitable", 0),  # frame + not + negative word
        ("It is not true that Nakatomi boosts margins", 0),  # the frame alone flips
        ("I can't say that the Nakatomi website seems very unreliable", 1),
        ("The Oscorp website remains great and Oscorp did not strongly lose market share", 1),
        ("Cyberdyne did not win a major contract and Cyberdyne cuts its dividend", 0),  # scope
        ("Although the Globex app looks worrying, Globex raises guidance", 1),  # main clause last
        ("Duff shares remain great, even though Duff seems disappointing", 1),  # main clause first
        ("Soylent's outlook seems quite unprofitable and Soylent's outlook no longer looks solid",
         0),  # "quite" stays in its clause
    ]:
        assert (text, label) in pairs, text


def test_label_noise_rate_and_ceiling():
    n, rate = 20_000, 0.1
    split = S.generate_sentiment(n, seed=1, label_noise=rate, **S.STREAM_MIX)
    flipped = float((split.labels != split.clean_labels).float().mean())
    assert abs(flipped - rate) < 3 * (rate * (1 - rate) / n) ** 0.5, flipped
    assert torch.equal(S.generate_sentiment(500, seed=1).labels,
                       S.generate_sentiment(500, seed=1).clean_labels)  # no noise unless asked
    corpus = S.load_sentiment(600, 100, 2000, seed=0)
    ceiling = float((corpus.test.labels == corpus.test.clean_labels).float().mean())
    assert 0.93 < ceiling < 0.97  # 1 - 5 % label noise
    with pytest.raises(ValueError, match="label_noise must be in"):
        S.load_sentiment(600, 100, 200, label_noise=0.6)
    with pytest.raises(ValueError, match="p_double_negation . p_scope . p_hard_contrast"):
        S.generate_sentiment(10, p_double_negation=0.6, p_scope=0.6)


def test_hard_corpus_is_deterministic_per_seed():
    a, b, c = (S.generate_sentiment(300, seed=s, **S.HARD_MIX) for s in (4, 4, 5))
    assert a.texts == b.texts and torch.equal(a.labels, b.labels)
    assert all(torch.equal(getattr(a, f), getattr(b, f)) for f in S.SentimentSplit.FLAGS)
    assert a.texts != c.texts
    plain = S.generate_sentiment(300, seed=4)  # the basic mix has none of the hard constructions
    assert not (plain.double_negation.any() or plain.scope.any())


def test_subset_keeps_every_field(hard):
    sub = hard.subset(hard.double_negation)
    assert len(sub) == int(hard.double_negation.sum()) and bool(sub.double_negation.all())
    assert len(sub.clean_labels) == len(sub.scope) == len(sub.companies) == len(sub)


@pytest.mark.parametrize("bidirectional, features", [(True, 16), (False, 8)])
def test_lstm_classifier_directions(bidirectional, features):
    m = LSTMClassifier(30, 6, 8, bidirectional=bidirectional).eval()
    assert m.head.in_features == features and m.lstm.bidirectional is bidirectional
    assert m(torch.tensor([[3, 4, 5, 0], [6, 7, 0, 0]])).shape == (2, 2)


def test_train_sentiment_classifier_direction_choice():
    split = S.generate_sentiment(64, seed=0)
    clf, _ = train_sentiment_classifier(split.texts, split.labels, epochs=1, bidirectional=False,
                                        device="cpu")
    assert clf.model.lstm.bidirectional is False and clf.predict(split.texts[:3]).shape == (3,)
    with pytest.raises(TypeError, match="bidirectional must be"):
        train_sentiment_classifier(split.texts, split.labels, bidirectional="yes")
