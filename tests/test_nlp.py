"""NLP track: grammar entropy, sentiment corpus, tokenisers, LM batches, RNN models, downloads."""

import hashlib
import io
import math
import tarfile

import numpy as np
import pytest
import torch

from aigc_course import text as T
from aigc_course.data import DownloadError, Remote
from aigc_course.data import sentiment as S
from aigc_course.data.grammar import Grammar, english_grammar, load_grammar_text
from aigc_course.data.text_downloads import load_imdb, load_tiny_shakespeare
from aigc_course.models.rnn import (
    CharLSTM,
    LSTMClassifier,
    bits_per_char,
    lm_step,
    sample,
    tbptt_step,
    train_sentiment_classifier,
)
from aigc_course.train import fit


# --------------------------------------------------------------------------- grammar
def test_tiny_grammar_entropy_by_hand():
    # one state, " ab" or " b" with p = 1/2: 1 bit per step over 2.5 characters = 0.4 bits/char
    g = Grammar({"s": {"s": 1}}, {"s": {" ab": 1, " b": 1}}, start="s")
    assert g.entropy_rate() == pytest.approx(0.4, abs=1e-12)


def test_two_state_grammar_entropy_by_hand():
    # a -> a (1/4) or b (3/4); b -> a always. pi_a = 4/7, pi_b = 3/7.
    # a emits " x" / " y" (1 bit), b emits "." (0 bits). bits/step = 4/7 * (H(1/4) + 1);
    # chars/step = 4/7 * 2 + 3/7 * 1 = 11/7.
    g = Grammar({"a": {"a": 1, "b": 3}, "b": {"a": 1}}, {"a": {" x": 1, " y": 1}, "b": {".": 1}}, "a")
    h14 = -(0.25 * math.log2(0.25) + 0.75 * math.log2(0.75))
    assert g.stationary()["a"] == pytest.approx(4 / 7)
    assert g.entropy_rate() == pytest.approx((4 / 7) * (h14 + 1) / (11 / 7), abs=1e-12)


def test_grammar_sample_log_prob_matches_entropy_and_is_deterministic():
    g = english_grammar()
    text = g.sample(60_000, seed=3)
    assert text == g.sample(60_000, seed=3) and text != g.sample(60_000, seed=4)
    assert set(text) <= set(g.alphabet)
    whole = text[: text.rfind(".") + 1]
    assert -g.log2_prob(whole) / len(whole) == pytest.approx(g.entropy_rate(), rel=0.03)
    train, val = load_grammar_text(5000, 1000, seed=1)
    assert len(train) == 5000 and len(val) == 1000 and train[:1000] != val


def test_grammar_rejects_bad_definitions():
    with pytest.raises(ValueError, match="ambiguous"):
        Grammar({"s": {"a": 1, "b": 1}, "a": {"s": 1}, "b": {"s": 1}},
                {"s": {".": 1}, "a": {" x": 1}, "b": {" x": 1}}, "s")
    with pytest.raises(ValueError, match="surface"):
        Grammar({"s": {"s": 1}}, {"s": {"Bad": 1}}, "s")
    with pytest.raises(ValueError, match="start state"):
        Grammar({"s": {"s": 1}}, {"s": {" a": 1}}, "t")
    with pytest.raises(ValueError, match="weight"):
        Grammar({"s": {"s": -1}}, {"s": {" a": 1}}, "s")
    with pytest.raises(ValueError, match="irreducible|reachable"):
        Grammar({"s": {"t": 1}, "t": {"t": 1}}, {"s": {" a": 1}, "t": {" b": 1}}, "s")
    with pytest.raises(ValueError, match="n_chars"):
        english_grammar().sample(0)
    with pytest.raises(ValueError, match="cannot"):
        english_grammar().log2_prob(" the the")


# --------------------------------------------------------------------------- sentiment corpus
def test_sentiment_corpus_is_deterministic_and_held_out():
    a, b = S.load_sentiment(800, 200, 300, seed=5), S.load_sentiment(800, 200, 300, seed=5)
    assert a.train.texts == b.train.texts and torch.equal(a.train.labels, b.train.labels)
    assert not set(a.test.texts) & set(a.train.texts)
    assert len(a.negation) == int(a.test.negated.sum()) and bool(a.negation.negated.all())
    share = a.train.negated.float().mean()
    assert 0.45 < share < 0.65 and 0.4 < a.train.labels.float().mean() < 0.6  # the hard mix


def test_negation_flips_the_label():
    rng = np.random.default_rng(0)
    pos_words, neg_words = set(S.POS_ADJ), set(S.NEG_ADJ)
    for _ in range(200):
        text = S._clause(rng, polarity=1, company="Acme", negate=True, intensify=False)
        words = set(text.split())
        if words & (pos_words | neg_words):  # adjective clauses: a negated positive uses a negative word
            assert words & neg_words and not words & pos_words, text


def test_sentiment_bad_input():
    with pytest.raises(ValueError, match="n must be"):
        S.generate_sentiment(0)
    with pytest.raises(ValueError, match="p_negation"):
        S.generate_sentiment(10, p_negation=1.5)
    with pytest.raises(ValueError, match="mask"):
        S.generate_sentiment(10).subset([True])


def test_stream_alerts_and_scoring():
    stream = S.sentiment_stream(n_days=60, companies=("Acme",), crises_per_company=1, seed=2)
    (first, last), = stream.crises["Acme"]
    truth = (stream.labels == 0).numpy()
    share = S.rolling_mean(S.daily_share(stream, truth, "Acme"), 3)
    assert share[first:last + 1].mean() > share[:first].mean() + 0.2
    assert S.alert_days([0.1, 0.6, 0.7, 0.2, 0.9], 0.5).tolist() == [1, 4]
    assert S.score_alerts([5, 30], [(4, 8), (50, 55)]) == {
        "true_alerts": 1, "false_alarms": 1, "missed_crises": 1, "crises": 2}
    with pytest.raises(ValueError, match="one flag per headline"):
        S.daily_share(stream, [True], "Acme")
    with pytest.raises(ValueError, match="no headlines"):
        S.daily_share(stream, truth, "Nobody")
    with pytest.raises(ValueError, match="window"):
        S.rolling_mean([1.0], 0)


# --------------------------------------------------------------------------- tokenisers
def test_char_vocab_round_trip_and_errors():
    v = T.CharVocab.from_text("hello world")
    assert v.decode(v.encode("low hello")) == "low hello"
    with pytest.raises(ValueError, match=r"unknown character 'z' at position 2"):
        v.encode("hez")
    with pytest.raises(ValueError, match="empty"):
        T.CharVocab.from_text("")
    with pytest.raises(TypeError, match="str"):
        v.encode(b"bytes")
    with pytest.raises(TypeError, match="integers"):
        v.decode(torch.tensor([0.5]))
    with pytest.raises(ValueError, match="not in the vocabulary"):
        v.decode([99])
    u = T.CharVocab.from_text("ab", unk=True)
    assert u.encode("abz").tolist() == [1, 2, 0] and u.decode([0]) == T.CharVocab.UNK


def test_word_vocab_padding_and_oov():
    vocab = T.WordVocab.build(["good profits", "bad profits", "good news"], min_freq=2)
    assert vocab.itos[:2] == ["<pad>", "<unk>"] and "news" not in vocab.stoi
    assert vocab.oov_rate(["good news"]) == 0.5
    ids, lengths = T.pad_batch([[3, 4, 5], [6], []])
    assert ids.tolist() == [[3, 4, 5], [6, 0, 0], [0, 0, 0]] and lengths.tolist() == [3, 1, 1]
    assert T.simple_tokenize("Isn't it GOOD?") == ["isn't", "it", "good", "?"]
    with pytest.raises(TypeError, match="list of strings"):
        T.WordVocab.build("one string")
    with pytest.raises(ValueError, match="non-empty"):
        T.pad_batch([])


def test_train_bpe_round_trips_any_text_and_lists_merges():
    texts = ["the theory of the thing", "there they go", "生成式人工智能"] * 30
    tok = T.train_bpe(texts, vocab_size=300)
    for s in ["the thesis", "人工智能 and 🙂"]:
        assert tok.decode(tok.encode(s).ids) == s
    merges = T.bpe_merges(tok)
    assert merges and all(len(m) == 2 for m in merges)
    assert len(tok.encode("the the the").ids) < len("the the the")
    assert tok.token_to_id("<|endoftext|>") == 0
    with pytest.raises(ValueError, match="vocab_size"):
        T.train_bpe(texts, vocab_size=100)
    with pytest.raises(TypeError, match="strings"):
        T.train_bpe([1, 2], vocab_size=300)
    with pytest.raises(ValueError, match="empty"):
        T.train_bpe(["", ""], vocab_size=300)


def test_lm_batches_and_bptt_batches():
    ids = torch.arange(20)
    x, y = T.lm_batches(ids, 5)
    assert x.shape == (3, 5) and torch.equal(y, x + 1)
    x2, _ = T.lm_batches(ids, 5, stride=2)
    assert x2[:, 0].tolist() == list(range(0, 15, 2))
    batches = T.bptt_batches(ids, batch_size=2, seq_len=3)
    assert len(batches) == 3
    (xa, ya), (xb, _) = batches[0], batches[1]
    assert xa[0].tolist() == [0, 1, 2] and xb[0].tolist() == [3, 4, 5] and xa[1, 0] == 9
    assert torch.equal(ya, xa + 1)
    with pytest.raises(TypeError, match="ids must be an integer tensor"):
        T.lm_batches(torch.rand(10), 3)
    with pytest.raises(TypeError, match="ids must be integers"):
        T.lm_batches(torch.ones(10, dtype=torch.bool), 3)
    with pytest.raises(TypeError, match="seq_len must be an int, got 2.5"):
        T.lm_batches(torch.arange(10), 2.5)
    with pytest.raises(ValueError, match="at least"):
        T.lm_batches(torch.arange(3), 5)
    with pytest.raises(ValueError, match=r"ids must have 1 dimensions, got shape \(2, 3\)"):
        T.lm_batches(torch.zeros(2, 3, dtype=torch.long), 2)
    with pytest.raises(ValueError, match="too few"):
        T.bptt_batches(torch.arange(5), 4, 4)


# --------------------------------------------------------------------------- models
def test_char_lstm_shapes_state_and_errors():
    m = CharLSTM(10, embed_dim=8, hidden_size=16)
    logits, (h, _) = m(torch.randint(0, 10, (3, 7)))
    assert logits.shape == (3, 7, 10) and h.shape == (1, 3, 16)
    with pytest.raises(TypeError, match="integer token ids"):
        m(torch.rand(3, 7))
    with pytest.raises(ValueError, match=r"\[0, 9\]"):
        m(torch.full((1, 2), 10))
    with pytest.raises(ValueError, match="batch, time"):
        m(torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match="vocab_size"):
        CharLSTM(0)


def test_char_lstm_learns_a_repeating_pattern_with_tbptt():
    torch.manual_seed(0)
    ids = torch.tensor([0, 1, 2, 3] * 100)
    batches = T.bptt_batches(ids, batch_size=4, seq_len=20)
    m = CharLSTM(4, embed_dim=8, hidden_size=16)
    fit(m, batches, step=tbptt_step(len(batches)), epochs=12, progress=False,
        optimizer=torch.optim.Adam(m.parameters(), lr=1e-2), device="cpu")
    assert bits_per_char(m, ids, streams=2, seq_len=50) < 0.3  # uniform would be 2 bits
    out = sample(m, torch.tensor([0]), 8, temperature=0)
    assert out.tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 0]
    x, y = T.lm_batches(ids, 16)
    h = fit(m, (x, y), step=lm_step(), epochs=1, progress=False, device="cpu")
    assert "bits_per_char" in h.steps[0]


def test_sampling_temperature_top_k_and_errors():
    m = CharLSTM(6, 4, 8)
    gen = torch.Generator().manual_seed(0)
    out = sample(m, torch.tensor([1, 2]), 30, temperature=1.0, top_k=1, generator=gen)
    greedy = sample(m, torch.tensor([1, 2]), 30, temperature=0)
    assert torch.equal(out, greedy) and len(out) == 32  # top-1 sampling is greedy
    with pytest.raises(ValueError, match="temperature"):
        sample(m, torch.tensor([1]), 3, temperature=-1)
    with pytest.raises(ValueError, match="prompt"):
        sample(m, torch.tensor([], dtype=torch.long), 3)
    with pytest.raises(ValueError, match="top_k"):
        sample(m, torch.tensor([1]), 3, top_k=0)


def test_lstm_classifier_ignores_padding():
    m = LSTMClassifier(20, 8, 8).eval()
    x = torch.tensor([[3, 4, 5, 0], [6, 7, 0, 0]])
    with torch.no_grad():
        a = m(x)
        b = m(torch.cat([x, torch.zeros(2, 5, dtype=torch.long)], 1))
    assert a.shape == (2, 2) and torch.allclose(a, b, atol=1e-6)


def test_train_sentiment_classifier_learns_negation():
    train, test = S.generate_sentiment(600, seed=0), S.generate_sentiment(200, seed=1)  # basic mix
    clf, history = train_sentiment_classifier(train.texts, train.labels, epochs=3,
                                              batch_size=32, device="cpu")
    acc = float((clf.predict(test.texts) == test.labels).float().mean())
    assert acc > 0.6 and history.epochs[-1]["loss"] < 0.9 * history.epochs[0]["loss"]  # chance: 0.5
    p = clf.predict_proba(["Acme beats forecasts"])
    assert p.shape == (1, 2) and torch.allclose(p.sum(1), torch.ones(1))
    with pytest.raises(ValueError, match="labels"):
        train_sentiment_classifier(["a", "b"], [0.5, 1.0])
    with pytest.raises(TypeError, match="not one string"):
        clf.predict("one string")


# --------------------------------------------------------------------------- downloads
def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_tiny_shakespeare_from_a_local_server(server, tmp_path):
    www, url = server
    payload = ("First Citizen:\nBefore we proceed any further, hear me speak.\n" * 20).encode()
    (www / "input.txt").write_bytes(payload)
    remote = Remote(f"{url}/input.txt", _sha(payload), "ts.txt")
    train, val = load_tiny_shakespeare(remote=remote, folder=tmp_path / "dl", progress=False)
    assert train + val == payload.decode() and len(val) == pytest.approx(len(payload) * 0.1, abs=2)
    bad = Remote(f"{url}/input.txt", _sha(b"other"), "ts2.txt")
    with pytest.raises(DownloadError, match="checksum mismatch"):
        load_tiny_shakespeare(remote=bad, folder=tmp_path / "dl", progress=False)
    with pytest.raises(ValueError, match="val_fraction"):
        load_tiny_shakespeare(1.5, remote=remote)


def _imdb_fixture() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for split in ("train", "test"):
            for label, texts in (("pos", ["great film<br />loved it", "wonderful"]), ("neg", ["awful"])):
                for i, t in enumerate(texts):
                    data = t.encode()
                    info = tarfile.TarInfo(f"aclImdb/{split}/{label}/{i}_7.txt")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_imdb_from_a_file_url(tmp_path):
    archive = tmp_path / "imdb.tar.gz"
    archive.write_bytes(_imdb_fixture())
    remote = Remote(archive.as_uri(), _sha(archive.read_bytes()), "imdb.tar.gz")
    texts, labels = load_imdb("test", remote=remote, folder=tmp_path / "dl", progress=False)
    assert labels == [0, 1, 1] and texts[1] == "great film loved it"
    texts, labels = load_imdb("train", remote=remote, folder=tmp_path / "dl", progress=False, limit=1)
    assert labels == [0, 1]
    with pytest.raises(ValueError, match="split"):
        load_imdb("dev", remote=remote)


def test_downloads_fail_clearly_offline(tmp_path):
    remote = Remote("http://127.0.0.1:9/input.txt", "0" * 64, "x.txt")
    with pytest.raises(DownloadError, match="offline"):
        load_tiny_shakespeare(remote=remote, folder=tmp_path, progress=False)
