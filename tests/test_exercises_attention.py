"""The write-it-yourself checks of notebooks 05 (attention) and 11 (top-k sampling)."""

import math

import pytest
import torch

from aigc_course import check
from aigc_course.check import CheckFailed

# --- notebook 05: scaled dot-product attention with a causal mask ---------------------------

def attention_solution(q, k, v, causal=False):
    """The notebook's solution."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        T = q.shape[-2]
        allowed = torch.ones(T, T, dtype=torch.bool).tril()
        scores = scores.masked_fill(~allowed, float("-inf"))
    weights = scores.softmax(dim=-1)
    return weights @ v, weights


def attention_upper_triangle(q, k, v, causal=False):
    """The mask on the wrong side: every query sees the future instead of the past."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        T = q.shape[-2]
        scores = scores.masked_fill(torch.ones(T, T, dtype=torch.bool).tril(-1), float("-inf"))
    weights = scores.softmax(dim=-1)
    return weights @ v, weights


def attention_no_scale(q, k, v, causal=False):
    scores = q @ k.transpose(-2, -1)
    if causal:
        T = q.shape[-2]
        scores = scores.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
    weights = scores.softmax(dim=-1)
    return weights @ v, weights


def attention_softmax_over_queries(q, k, v, causal=False):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        T = q.shape[-2]
        scores = scores.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
    weights = scores.softmax(dim=-2)
    return weights @ v, weights


def attention_causal_mask_ignored(q, k, v, causal=False):
    return attention_solution(q, k, v, causal=False)


def attention_only_output(q, k, v, causal=False):
    return attention_solution(q, k, v, causal)[0]


def test_attention_solution_passes(capsys):
    check.attention(attention_solution)
    assert "✅ attention: your function gives the same result as the reference" in capsys.readouterr().out


def test_attention_mask_on_the_wrong_side_fails_on_the_causal_weights():
    with pytest.raises(CheckFailed) as err:
        check.attention(attention_upper_triangle)
    message = str(err.value)
    assert "with causal=True some weights above the diagonal are not 0" in message
    assert "tril" in message   # the hint names the fix


def test_attention_ignoring_causal_is_told_it_sees_the_future():
    with pytest.raises(CheckFailed, match="a key j > i, in its future"):
        check.attention(attention_causal_mask_ignored)


def test_attention_without_the_scale_fails_already_without_the_mask():
    with pytest.raises(CheckFailed) as err:
        check.attention(attention_no_scale)
    assert "['causal=False']['weights']" in str(err.value)
    assert "√d_k" in str(err.value)


def test_attention_softmax_over_the_wrong_axis_fails():
    with pytest.raises(CheckFailed) as err:
        check.attention(attention_softmax_over_queries)
    assert "do not sum to 1 over the keys" in str(err.value) and "dim=-1" in str(err.value)


def test_attention_returning_only_the_output_is_told_to_return_a_pair():
    with pytest.raises(CheckFailed, match=r"expected a pair \(output, weights\), got a Tensor of shape"):
        check.attention(attention_only_output)


def test_attention_stub_only_reminds(capsys):
    def my_attention(q, k, v, causal=False):
        raise NotImplementedError

    check.attention(my_attention)
    assert "✏️ attention: not written yet" in capsys.readouterr().out


# --- notebook 11: the sampling step with temperature and top-k ------------------------------

def top_k_sample_solution(logits, temperature, k):
    """The notebook's solution."""
    scaled = logits / temperature
    kth = torch.topk(scaled, k, dim=-1).values[..., -1:]
    probs = scaled.masked_fill(scaled < kth, float("-inf")).softmax(dim=-1)
    return torch.multinomial(probs, 1), probs


def top_k_sample_keeps_k_plus_one(logits, temperature, k):
    scaled = logits / temperature
    kth = torch.topk(scaled, k + 1, dim=-1).values[..., -1:]
    probs = scaled.masked_fill(scaled < kth, float("-inf")).softmax(dim=-1)
    return torch.multinomial(probs, 1), probs


def top_k_sample_multiplies_temperature(logits, temperature, k):
    scaled = logits * temperature
    kth = torch.topk(scaled, k, dim=-1).values[..., -1:]
    probs = scaled.masked_fill(scaled < kth, float("-inf")).softmax(dim=-1)
    return torch.multinomial(probs, 1), probs


def top_k_sample_not_renormalised(logits, temperature, k):
    probs = (logits / temperature).softmax(dim=-1)
    kth = torch.topk(probs, k, dim=-1).values[..., -1:]
    probs = probs.masked_fill(probs < kth, 0.0)
    return torch.multinomial(probs, 1), probs


def test_top_k_sample_solution_passes(capsys):
    check.top_k_sample(top_k_sample_solution)
    assert "✅ top_k_sample: your function gives the same result" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", [top_k_sample_keeps_k_plus_one, top_k_sample_multiplies_temperature,
                                   top_k_sample_not_renormalised])
def test_top_k_sample_mistakes_fail_on_the_probabilities(wrong):
    with pytest.raises(CheckFailed) as err:
        check.top_k_sample(wrong)
    message = str(err.value)
    assert "top_k_sample: the result['probs']" in message and "values differ" in message
    assert "dividing" in message   # the hint lists the usual mistakes


def test_top_k_sample_returning_only_ids_is_told_to_return_a_pair():
    with pytest.raises(CheckFailed, match=r"expected a pair \(next_ids, probs\)"):
        check.top_k_sample(lambda logits, temperature, k: top_k_sample_solution(logits, temperature, k)[0])


def test_top_k_sample_stub_only_reminds(capsys):
    def my_top_k_sample(logits, temperature, k):
        raise NotImplementedError

    check.top_k_sample(my_top_k_sample)
    assert "✏️ top_k_sample: not written yet" in capsys.readouterr().out
