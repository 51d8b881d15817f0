"""Attention (aigc_course.models.attention) and the mini-GPT (aigc_course.models.gpt)."""

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from aigc_course.models.attention import (
    MultiHeadAttention,
    causal_mask,
    padding_mask,
    scaled_dot_product_attention,
    sinusoidal_positions,
)
from aigc_course.models.gpt import (
    GPT,
    PRESETS,
    GPTConfig,
    KVCache,
    filter_logits,
    lm_loss,
    sample_next,
    to_hf,
)


@pytest.fixture(autouse=True)
def _one_thread():
    # These models are tiny: one thread is as fast, and immune to a busy machine's thread contention.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --------------------------------------------------------------------------- attention
def test_attention_matches_torch_sdpa_with_and_without_masks():
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 7, 8), torch.randn(2, 3, 7, 4)
    ours, w = scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(ours, F.scaled_dot_product_attention(q, k, v), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 3, 5))
    keep = padding_mask([7, 3]).unsqueeze(1)  # [2, 1, 1, 7]
    ours, w = scaled_dot_product_attention(q, k, v, keep)
    torch.testing.assert_close(ours, F.scaled_dot_product_attention(q, k, v, attn_mask=keep), atol=1e-5, rtol=1e-5)
    assert torch.all(w[1, :, :, 3:] == 0), "padded keys must get exactly zero weight"
    x = torch.randn(2, 6, 8)
    ours, _ = scaled_dot_product_attention(x, x, x, causal=True)
    torch.testing.assert_close(ours, F.scaled_dot_product_attention(x, x, x, is_causal=True), atol=1e-5, rtol=1e-5)


def test_causal_attention_with_fewer_queries_is_aligned_at_the_end():
    torch.manual_seed(1)
    x = torch.randn(1, 9, 8)
    full, _ = scaled_dot_product_attention(x, x, x, causal=True)
    last3, w = scaled_dot_product_attention(x[:, -3:], x, x, causal=True)
    torch.testing.assert_close(last3, full[:, -3:], atol=1e-6, rtol=1e-6)
    assert w[0, 0, 7:].sum() == 0 and w[0, 0, :7].sum() > 0.99


def test_masks():
    assert causal_mask(3).tolist() == [[True, False, False], [True, True, False], [True, True, True]]
    assert causal_mask(2, 4).tolist() == [[True, True, True, False], [True, True, True, True]]
    assert padding_mask([2, 3]).tolist() == [[[True, True, False]], [[True, True, True]]]
    assert padding_mask([1], max_len=3).shape == (1, 1, 3)


def test_fully_masked_query_gives_zeros_not_nan():
    q = k = v = torch.randn(1, 3, 4)
    mask = torch.tensor([[True, True, False], [False, False, False], [True, False, False]])
    out, w = scaled_dot_product_attention(q, k, v, mask)
    assert torch.isfinite(out).all() and torch.all(w[0, 1] == 0) and torch.all(out[0, 1] == 0)


def test_multihead_matches_torch_multiheadattention():
    torch.manual_seed(2)
    theirs = nn.MultiheadAttention(16, 4, batch_first=True).eval()
    ours = MultiHeadAttention.from_torch(theirs).eval()
    x, kv = torch.randn(2, 5, 16), torch.randn(2, 7, 16)
    with torch.no_grad():
        t_out, t_w = theirs(x, kv, kv, key_padding_mask=~padding_mask([7, 4])[:, 0], average_attn_weights=False)
        o_out, o_w = ours(x, kv, mask=padding_mask([7, 4]).unsqueeze(1))
        torch.testing.assert_close(o_out, t_out, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(o_w, t_w, atol=1e-5, rtol=1e-5)
        t_out, _ = theirs(x, x, x, attn_mask=~causal_mask(5))
        torch.testing.assert_close(ours(x, causal=True)[0], t_out, atol=1e-5, rtol=1e-5)


def test_causal_multihead_does_not_leak_the_future():
    torch.manual_seed(3)
    mha = MultiHeadAttention(16, 2).eval()
    x = torch.randn(1, 8, 16)
    y = x.clone()
    y[0, 5:] += 10 * torch.randn(3, 16)
    with torch.no_grad():
        a, b = mha(x, causal=True)[0], mha(y, causal=True)[0]
    assert torch.equal(a[0, :5], b[0, :5])
    assert not torch.allclose(a[0, 5:], b[0, 5:])


def test_sinusoidal_positions():
    pe = sinusoidal_positions(50, 16)
    assert pe.shape == (50, 16)
    torch.testing.assert_close(pe[0, 0::2], torch.zeros(8))
    torch.testing.assert_close(pe[0, 1::2], torch.ones(8))
    torch.testing.assert_close(pe[7, 0], torch.tensor(math.sin(7.0)))
    sim = pe @ pe.T  # depends on the offset only
    torch.testing.assert_close(sim[3, 9], sim[20, 26], atol=1e-4, rtol=1e-4)


def test_attention_bad_inputs():
    x = torch.randn(2, 4, 8)
    with pytest.raises(TypeError, match="floating-point"):
        scaled_dot_product_attention(x.long(), x, x)
    with pytest.raises(TypeError, match="torch.Tensor"):
        scaled_dot_product_attention([[1.0]], x, x)
    with pytest.raises(ValueError, match="same last dimension"):
        scaled_dot_product_attention(x, torch.randn(2, 4, 6), x)
    with pytest.raises(ValueError, match="same number of positions"):
        scaled_dot_product_attention(x, x, torch.randn(2, 5, 8))
    with pytest.raises(TypeError, match="boolean"):
        scaled_dot_product_attention(x, x, x, torch.ones(4, 4))
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(10, 3)
    with pytest.raises(ValueError, match="d_model=8"):
        MultiHeadAttention(8, 2)(torch.randn(1, 3, 6))
    with pytest.raises(ValueError, match="n_q <= n_k"):
        causal_mask(5, 3)
    with pytest.raises(ValueError, match="lie in"):
        padding_mask([2, 9], max_len=4)
    with pytest.raises(ValueError, match="even"):
        sinusoidal_positions(10, 7)
    with pytest.raises(TypeError, match="MultiheadAttention"):
        MultiHeadAttention.from_torch(nn.Linear(2, 2))


# --------------------------------------------------------------------------- GPT
@pytest.fixture
def tiny():
    torch.manual_seed(0)
    return GPT(GPTConfig.preset("tiny", vocab_size=40)).eval()


def test_gpt_shapes_presets_and_weight_tying(tiny):
    assert tiny(torch.randint(0, 40, (3, 10))).shape == (3, 10, 40)
    assert tiny.head.weight is tiny.tok_emb.weight
    assert set(PRESETS) >= {"tiny", "mini", "small", "gpt2"}
    assert GPTConfig.preset("mini", vocab_size=10, n_ctx=16).n_ctx == 16


def test_gpt_no_future_leakage(tiny):
    x = torch.randint(0, 40, (2, 20))
    y = x.clone()
    y[:, 12:] = (y[:, 12:] + 7) % 40
    with torch.no_grad():
        a, b = tiny(x), tiny(y)
    assert torch.equal(a[:, :12], b[:, :12])
    assert not torch.allclose(a[:, 12:], b[:, 12:])


def test_kv_cache_gives_the_same_logits_and_generations(tiny):
    x = torch.randint(0, 40, (2, 16))
    with torch.no_grad():
        full = tiny(x)
        cache = KVCache(tiny.cfg.n_layer)
        parts = [tiny(x[:, :9], cache), tiny(x[:, 9:10], cache), tiny(x[:, 10:], cache)]
    assert len(cache) == 16
    torch.testing.assert_close(torch.cat(parts, 1), full, atol=1e-5, rtol=1e-5)
    prompt = x[:, :4]
    greedy = [tiny.generate(prompt, 20, temperature=0, use_cache=c) for c in (True, False)]
    assert torch.equal(*greedy) and greedy[0].shape == (2, 24)
    sampled = [tiny.generate(prompt, 20, top_k=10, top_p=0.9, use_cache=c,
                             generator=torch.Generator().manual_seed(5)) for c in (True, False)]
    assert torch.equal(*sampled)
    assert torch.equal(sampled[0][:, :4], prompt)


def test_sampling_filters():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    assert torch.isinf(filter_logits(logits, top_k=2)).tolist() == [[False, False, True, True]]
    assert torch.isinf(filter_logits(logits, top_p=0.7)).tolist() == [[False, False, True, True]]
    assert torch.isinf(filter_logits(logits, top_p=0.85)).tolist() == [[False, False, False, True]]
    assert torch.isinf(filter_logits(logits, top_p=1.0)).sum() == 0
    shuffled = logits[:, [2, 0, 3, 1]]  # the nucleus follows the values, not the positions
    assert torch.isinf(filter_logits(shuffled, top_p=0.7)).tolist() == [[True, False, True, False]]
    assert sample_next(logits, temperature=0).item() == 0
    draws = torch.cat([sample_next(logits, top_k=1) for _ in range(20)])
    assert torch.all(draws == 0)
    g = torch.Generator().manual_seed(0)
    many = sample_next(logits.expand(4000, 4), generator=g).flatten()
    assert abs((many == 1).float().mean().item() - 0.3) < 0.03


def test_gpt_learns_a_pattern_quickly():
    torch.manual_seed(0)
    model = GPT(GPTConfig.preset("tiny", vocab_size=8))
    seq = torch.arange(17).remainder(8).repeat(4, 1)
    opt = torch.optim.Adam(model.parameters(), lr=2e-2)
    first = None
    for _ in range(30):
        loss = lm_loss(model(seq[:, :-1]), seq[:, 1:])
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert first > 1.5 and loss.item() < 0.1


def test_gpt_bad_inputs(tiny):
    with pytest.raises(ValueError, match="longer than the context"):
        tiny(torch.zeros(1, 33, dtype=torch.long))
    with pytest.raises(TypeError, match="token ids"):
        tiny(torch.zeros(1, 5))
    with pytest.raises(ValueError, match=r"shape \[batch, time\]"):
        tiny(torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"must be in \[0, 39\]"):
        tiny(torch.tensor([[1, 40]]))
    with pytest.raises(ValueError, match="longer than the context"):
        tiny.generate(torch.zeros(1, 30, dtype=torch.long), 5)
    with pytest.raises(ValueError, match="max_new_tokens"):
        tiny.generate(torch.zeros(1, 3, dtype=torch.long), -1)
    with pytest.raises(ValueError, match="temperature"):
        tiny.generate(torch.zeros(1, 3, dtype=torch.long), 2, temperature=-1.0)
    with pytest.raises(ValueError, match="top_k"):
        filter_logits(torch.zeros(1, 4), top_k=0)
    with pytest.raises(ValueError, match="top_p"):
        filter_logits(torch.zeros(1, 4), top_p=1.5)
    with pytest.raises(ValueError, match="divisible"):
        GPTConfig(vocab_size=10, n_embd=30, n_head=4)
    with pytest.raises(ValueError, match="GPTConfig.vocab_size must be an int >= 1, got 0"):
        GPTConfig(vocab_size=0)
    with pytest.raises(ValueError, match="unknown preset"):
        GPTConfig.preset("huge", vocab_size=10)
    with pytest.raises(TypeError, match="GPTConfig"):
        GPT({"vocab_size": 10})


# --------------------------------------------------------------------------- Hugging Face
def test_hf_conversion_save_reload_and_pipeline(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from transformers import GPT2LMHeadModel, PreTrainedTokenizerFast, pipeline

    from aigc_course.text import train_bpe

    text = "def add(a, b):\n    return a + b\n" * 50 + "the quick brown fox jumps over the lazy dog\n" * 50
    tok = train_bpe(text, 300)
    model = GPT(GPTConfig.preset("tiny", vocab_size=tok.get_vocab_size())).eval()
    eos = tok.token_to_id("<|endoftext|>")
    hf = to_hf(model, eos_token_id=eos, bos_token_id=eos)
    x = torch.randint(0, tok.get_vocab_size(), (2, 12))
    with torch.no_grad():
        torch.testing.assert_close(hf(x).logits, model(x), atol=1e-5, rtol=1e-5)
    folder = tmp_path / "gpt"
    hf.save_pretrained(folder)
    PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>").save_pretrained(folder)
    reloaded = GPT2LMHeadModel.from_pretrained(folder).eval()
    with torch.no_grad():
        torch.testing.assert_close(reloaded(x).logits, model(x), atol=1e-5, rtol=1e-5)
    prompt = torch.tensor([tok.encode("def add").ids])
    ours = model.generate(prompt, 6, temperature=0)
    theirs = reloaded.generate(prompt, max_new_tokens=6, do_sample=False, min_new_tokens=6)
    assert torch.equal(ours, theirs)
    generator = pipeline("text-generation", model=str(folder))
    out = generator("def add", max_new_tokens=5, do_sample=False)[0]["generated_text"]
    assert out.startswith("def add") and out == tok.decode(ours[0, :prompt.shape[1] + 5].tolist())


def test_to_hf_rejects_other_models():
    with pytest.raises(TypeError, match="expected a GPT"):
        to_hf(nn.Linear(2, 2))
