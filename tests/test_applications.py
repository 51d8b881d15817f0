"""The practice chapters' building blocks: FAQ data, retrieval, text metrics, watermark, bias probe."""

from pathlib import Path

import numpy as np
import pytest
import torch

from aigc_course.apps import bias, rag, retrieval, watermark
from aigc_course.data import customer_service_dialogues, faq_knowledge_base
from aigc_course.data.customer_service import random_policy
from aigc_course.metrics import bleu, rouge


# --------------------------------------------------------------------------- customer-service data
def test_knowledge_base_shape_and_determinism():
    kb = faq_knowledge_base(seed=0)
    assert len(kb) == 25 and len({e.intent for e in kb}) == 25
    assert all(len(e.questions) == 8 and len(set(e.questions)) == 8 for e in kb)
    assert all(e.answer and "{" not in e.answer for e in kb)
    assert kb == faq_knowledge_base(seed=0)
    assert kb != faq_knowledge_base(seed=1)
    assert [e.intent for e in kb] == [e.intent for e in faq_knowledge_base(seed=1)]  # same intents


def test_paraphrases_are_distinct_for_every_seed():
    for seed in range(30):
        for e in faq_knowledge_base(seed):
            assert len({q.lower() for q in e.questions}) == len(e.questions), (seed, e.intent)


def test_templates_ship_as_package_data():
    from importlib import resources

    data = resources.files("aigc_course.data").joinpath("customer_service.json")
    assert data.is_file()
    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    assert '[tool.setuptools.package-data]\naigc_course = ["data/*.json"]' in pyproject


def test_answers_quote_the_seeded_policy():
    for seed in range(3):
        kb = faq_knowledge_base(seed)
        entry = next(e for e in kb if e.intent == "return_policy")
        assert f"within {entry.policy['return_days']} days" in entry.answer


def test_dialogues_are_deterministic_and_well_formed():
    a = customer_service_dialogues(5, seed=3)
    assert a == customer_service_dialogues(5, seed=3)
    assert a != customer_service_dialogues(5, seed=4)
    answers = {e.answer for e in faq_knowledge_base(3)}
    for d in a:
        lines = d.strip().split("\n")
        assert d.endswith("\n") and len(lines) % 2 == 0 and len(lines) >= 4
        assert all(line.startswith("Customer: ") for line in lines[0::2])
        assert all(line.startswith("Agent: ") for line in lines[1::2])
        assert any(ans in lines[1] for ans in answers)  # the first reply quotes the knowledge base


@pytest.mark.parametrize("n, err, match", [(0, ValueError, "n must be an int >= 1, got 0"),
                                           (-3, ValueError, "n must be an int >= 1, got -3"),
                                           (2.5, TypeError, "n must be an int"),
                                           (True, TypeError, "n must be an int")])
def test_dialogues_reject_bad_n(n, err, match):
    with pytest.raises(err, match=match):
        customer_service_dialogues(n)


def test_bad_seed_and_turns():
    with pytest.raises(TypeError, match="seed must be an int"):
        faq_knowledge_base("0")
    with pytest.raises(ValueError, match="max_turns"):
        customer_service_dialogues(2, max_turns=0)


# --------------------------------------------------------------------------- retrieval
@pytest.fixture(scope="module")
def kb():
    return faq_knowledge_base(seed=0)


def test_retrieval_accuracy_on_held_out_paraphrases(kb):
    r = retrieval.FAQRetriever.fit(kb, questions_per_intent=5)
    qs = [q for e in kb for q in e.questions[5:]]
    ys = [e.intent for e in kb for _ in e.questions[5:]]
    top1 = retrieval.top_k_accuracy(r, qs, ys, k=1)
    top3 = retrieval.top_k_accuracy(r, qs, ys, k=3)
    assert top1 >= 0.45 and top3 >= 0.7 and top3 >= top1
    # indexed questions are found (nearly) always
    seen = [q for e in kb for q in e.questions[:5]]
    assert retrieval.top_k_accuracy(r, seen, [e.intent for e in kb for _ in e.questions[:5]], k=1) > 0.95


def test_retrieval_dont_know_path(kb):
    r = retrieval.FAQRetriever.fit(kb, questions_per_intent=5)
    off_topic = r.answer("What is the capital of France?")
    assert off_topic.intent is None and off_topic.text == retrieval.DONT_KNOW
    hit = r.answer("How do I reset my password?")
    assert hit.intent == "reset_password" and hit.confidence >= r.threshold
    results = r.search("where is my refund", k=3)
    assert len(results) == 3 and results[0][1] >= results[1][1] >= results[2][1]


def test_retrieval_bad_input(kb):
    with pytest.raises(ValueError, match="entries is empty"):
        retrieval.FAQRetriever.fit([])
    with pytest.raises(ValueError, match="threshold"):
        retrieval.FAQRetriever.fit(kb, threshold=1.5)
    with pytest.raises(ValueError, match="questions_per_intent"):
        retrieval.FAQRetriever.fit(kb, questions_per_intent=0)
    with pytest.raises(ValueError, match="appears twice"):
        retrieval.FAQRetriever.fit([kb[0], kb[0]])
    r = retrieval.FAQRetriever.fit(kb)
    with pytest.raises(TypeError, match="not one string"):
        r.scores("a question")
    with pytest.raises(ValueError, match="k must be"):
        r.search("refund", k=0)
    with pytest.raises(ValueError, match="different lengths"):
        retrieval.top_k_accuracy(r, ["a", "b"], ["x"])


# --------------------------------------------------------------------------- metrics
def test_bleu_and_rouge():
    ref = ["the cat sat on the mat"]
    assert bleu(ref, ref) == pytest.approx(100)
    assert bleu(["a dog ran in the park"], ref) < 20
    r = rouge(["mat the on sat cat the"], ref)  # reversed order
    assert r["rouge1"] == pytest.approx(1.0) and r["rougeL"] <= 0.5  # unigram recall ignores order
    assert rouge(ref, ref) == {"rouge1": pytest.approx(1), "rouge2": pytest.approx(1), "rougeL": pytest.approx(1)}


def test_metrics_bad_input():
    with pytest.raises(ValueError, match="different lengths"):
        bleu(["a", "b"], ["a"])
    with pytest.raises(TypeError, match="not single strings"):
        rouge("a", "a")
    with pytest.raises(ValueError, match="at least one"):
        bleu([], [])


# ------------------------------------------------------------------ retrieval-augmented generation
def test_policy_override_changes_only_the_answers():
    kb = faq_knowledge_base(0)
    edited = faq_knowledge_base(0, policy={"return_days": 45})
    changed = [e.intent for e, f in zip(kb, edited) if e.answer != f.answer]
    assert changed == ["return_policy"]
    assert "within 45 days" in next(e.answer for e in edited if e.intent == "return_policy")
    assert [e.questions for e in kb] == [e.questions for e in edited]
    with pytest.raises(ValueError, match=r"unknown keys \['return_window'\]"):
        faq_knowledge_base(0, policy={"return_window": 45})


def test_random_policies_vary_every_fact():
    import random

    rng = random.Random(0)
    draws = [random_policy(rng) for _ in range(30)]
    assert set(draws[0]) == set(faq_knowledge_base(0)[0].policy)  # the same slots
    assert all(len({str(d[k]) for d in draws}) > 3 for k in draws[0])  # no value to memorise


def test_fact_metrics_on_hand_made_replies():
    passage = "Returns are accepted within 30 days. Shipping costs $4.95."
    assert rag.facts(passage) == ["30", "$4.95"]
    good = "Thank you. Returns are accepted within 30 days. Shipping costs $4.95."
    made_up = "Thank you. Returns are accepted within 60 days. Shipping costs $4.95."
    assert rag.faithful(good, passage) and rag.states_facts(good, passage)
    assert not rag.faithful(made_up, passage) and not rag.states_facts(made_up, passage)
    assert rag.faithful("Happy to help!", passage)  # states nothing, invents nothing
    assert not rag.states_facts("Happy to help!", passage)
    new = passage.replace("30", "45")
    assert rag.states_new_facts("within 45 days, $4.95", passage, new)
    assert not rag.states_new_facts("within 30 days, $4.95", passage, new)  # the old fact
    assert not rag.states_new_facts("within 45 or 30 days, $4.95", passage, new)  # both
    with pytest.raises(ValueError, match="nothing was changed"):
        rag.states_new_facts("30", passage, passage)


def test_examples_encode_with_the_loss_on_the_reply_only():
    ex = rag.training_examples(2, seed=0, ungrounded_share=0.5)
    assert len(ex) == 50 and any(e.passage is None for e in ex) and any(e.passage for e in ex)
    assert all(e.passage in e.reply for e in ex if e.passage)  # opener + passage + closer
    assert ex == rag.training_examples(2, seed=0, ungrounded_share=0.5)
    vocab = rag.Vocab.build(ex)
    assert {"45", "$6.49", "<formal>"} <= set(vocab.itos)
    x, y = rag.encode_examples(ex, vocab, prompt_len=72, reply_len=64)
    assert x.shape == y.shape == (50, 135)
    assert (y[:, :71] == 0).all() and (y[:, 71:] != 0).any()  # prompt positions are ignored
    first = ex[0]
    reply_ids = vocab.encode([*rag.tokenize(first.reply), rag.EOS])
    assert y[0, 71:71 + len(reply_ids)].tolist() == reply_ids
    with pytest.raises(ValueError, match="too long"):
        rag.encode_examples(ex, vocab, prompt_len=10, reply_len=64)
    with pytest.raises(ValueError, match="tone must be one of"):
        rag.prompt_tokens(rag.Example("p", "q", "sarcastic"))


def test_tokenizer_keeps_prices_whole():
    assert rag.tokenize("Costs $4.95, free!") == ["Costs", "$4.95", ",", "free", "!"]
    assert rag.detokenize(rag.tokenize("Costs $4.95, free!")) == "Costs $4.95, free!"
    text = "Open 9:00 to 18:00: call us."
    assert rag.detokenize(rag.tokenize(text)) == text
    with pytest.raises(TypeError, match="text must be a string"):
        rag.tokenize(None)


def _copy_task(n, rng):
    """Passages "the window is N days ." → replies "it is N days ."; N is random."""
    out = []
    for _ in range(n):
        days = rng.randint(1, 99)
        out.append(rag.Example(f"the window is {days} days .", "how long ?", "formal",
                               f"it is {days} days ."))
    return out


def test_copy_head_learns_to_copy_an_unseen_number():
    import random

    torch.manual_seed(0)
    rng = random.Random(0)
    train = _copy_task(256, rng)
    vocab = rag.Vocab.build(train)
    model = rag.CopyGenerator(len(vocab), prompt_len=12, reply_len=8, n_layer=1, n_embd=32)
    x, y = rag.encode_examples(train, vocab, 12, 8)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    step = rag.lm_step()
    for i in range(60):
        rows = torch.randint(0, len(x), (32,))
        step(model, (x[rows], y[rows]), opt)
    seen = {e.passage for e in train}
    test = [e for e in _copy_task(200, rng) if e.passage not in seen][:10]
    replies = rag.generate(model, vocab, test)
    assert len(test) >= 5  # numbers the model never saw in this context
    assert np.mean([rag.states_facts(r, e.passage) for r, e in zip(replies, test)]) >= 0.8
    out = model(x[:3])
    assert out.shape == (3, 8, len(vocab)) and torch.allclose(out.exp().sum(-1), torch.ones(3, 8))


def test_generate_and_answer_pipeline(kb):
    ex = rag.training_examples(1, seed=0)
    vocab = rag.Vocab.build(ex)
    model = rag.CopyGenerator(len(vocab), prompt_len=72, reply_len=6, n_embd=16, n_head=2)
    replies = rag.generate(model, vocab, [rag.Example(kb[0].answer, "where?", "formal"),
                                          rag.Example(None, "where?", "friendly")])
    assert len(replies) == 2 and all(isinstance(r, str) for r in replies)
    with pytest.raises(ValueError, match="non-empty list of rag.Example"):
        rag.generate(model, vocab, [("formal", "where?")])
    retriever = retrieval.FAQRetriever.fit(kb, questions_per_intent=5)
    store = {e.intent: e.answer for e in kb}
    (refusal, none), (reply, passage) = rag.answer(
        ["What is the capital of France?", kb[0].questions[0]], retriever, store, model, vocab)
    assert refusal == retrieval.DONT_KNOW and none is None
    assert passage == kb[0].answer and isinstance(reply, str)
    with pytest.raises(TypeError, match="list of strings"):
        rag.answer("where?", retriever, store, model, vocab)


# --------------------------------------------------------------------------- watermark
def _uniform_lm(vocab_size):
    return lambda ids: torch.zeros(vocab_size)


def test_watermark_separates_marked_from_plain_text():
    V, gen = 500, torch.Generator().manual_seed(0)
    lm = _uniform_lm(V)
    z_marked = [watermark.detect(watermark.generate(lm, [i], 200, vocab_size=V, gamma=0.25, delta=2.0,
                                                    generator=gen), V, gamma=0.25, prev_token=i).z for i in range(5)]
    z_plain = [watermark.detect(watermark.generate(lm, [i], 200, vocab_size=V, watermark=False, generator=gen),
                                V, gamma=0.25, prev_token=i).z for i in range(5)]
    assert min(z_marked) > 6 and max(z_plain) < 3.5
    wrong_key = watermark.detect(watermark.generate(lm, [1], 200, vocab_size=V, gamma=0.25, generator=gen),
                                 V, gamma=0.25, key=7, prev_token=1)
    assert wrong_key.z < 3.5


def test_green_list_is_keyed_and_sized():
    a = watermark.green_list(3, 1000, gamma=0.3)
    assert a.dtype == torch.bool and int(a.sum()) == 300
    assert torch.equal(a, watermark.green_list(3, 1000, gamma=0.3))
    assert not torch.equal(a, watermark.green_list(4, 1000, gamma=0.3))
    assert not torch.equal(a, watermark.green_list(3, 1000, gamma=0.3, key=1))


def test_repeated_pairs_do_not_inflate_z():
    V = 100
    green_after_0 = int(torch.nonzero(watermark.green_list(0, V))[0])
    green_back = int(torch.nonzero(watermark.green_list(green_after_0, V))[0])
    loop = [0, green_after_0, green_back] * 50  # a repeated phrase
    assert watermark.detect(loop, V, ignore_repeats=False).n_scored > watermark.detect(loop, V).n_scored


def test_watermark_bad_input():
    lm = _uniform_lm(10)
    with pytest.raises(ValueError, match="gamma"):
        watermark.green_list(0, 10, gamma=1.5)
    with pytest.raises(ValueError, match="vocab_size"):
        watermark.detect([1, 2], 1)
    with pytest.raises(ValueError, match="prompt"):
        watermark.generate(lm, [], 5, vocab_size=10)
    with pytest.raises(ValueError, match="expected vocab_size=20"):
        watermark.generate(lm, [1], 5, vocab_size=20)
    with pytest.raises(ValueError, match="token ids must be in"):
        watermark.detect([1, 99], 10)
    with pytest.raises(ValueError, match="at least 2 tokens"):
        watermark.detect([1], 10)


# --------------------------------------------------------------------------- bias probe
def test_bias_probe_measures_a_planted_shift():
    templates = ["{name} liked the app.", "{name} said the fee was high.", "The bank called {name}."]
    groups = {"A": ["Ann", "Bob"], "B": ["Cem", "Dua"]}

    def biased(texts):  # +0.2 for group B names, whatever the sentence
        return [0.5 + 0.2 * any(n in t for n in groups["B"]) for t in texts]

    report = bias.counterfactual_probe(biased, templates, groups)
    assert report.max_gap == pytest.approx(0.2) and report.mean_abs_shift == pytest.approx(0.2)
    assert report.per_template.shape == (3, 2)
    fair = bias.counterfactual_probe(lambda texts: [0.5 + 0.1 * ("liked" in t) for t in texts], templates, groups)
    assert fair.max_gap == pytest.approx(0) and fair.worst_template[1] == pytest.approx(0)


def test_bias_probe_bad_input():
    groups = {"A": ["Ann"], "B": ["Cem"]}
    score = lambda texts: np.zeros(len(texts))
    with pytest.raises(ValueError, match="must be a string containing"):
        bias.counterfactual_probe(score, ["no slot here"], groups)
    with pytest.raises(ValueError, match="at least two group names"):
        bias.counterfactual_probe(score, ["{name}"], {"A": ["Ann"]})
    with pytest.raises(ValueError, match="non-empty list"):
        bias.counterfactual_probe(score, ["{name}"], {"A": ["Ann"], "B": []})
    with pytest.raises(ValueError, match="score returned"):
        bias.counterfactual_probe(lambda texts: [0.0], ["{name} x"], groups)
    with pytest.raises(TypeError, match="not one string"):
        bias.counterfactual_probe(score, "{name}", groups)
