"""The write-it-yourself checks of chapters 06 and 07: sampling with a temperature, one LSTM cell."""

import pytest
import torch
from torch import nn

import aigc_course as ac
from aigc_course.check import CheckFailed
from aigc_course.models.rnn import sample


# --------------------------------------------------------------------------- 06: sampling
def sample_next_char_solution(logits, temperature, generator):
    """The notebook's solution."""
    probs = torch.softmax(logits / temperature, dim=-1)
    return torch.multinomial(probs, 1, generator=generator)[:, 0]


def sample_multiplied(logits, temperature, generator):
    probs = torch.softmax(logits * temperature, dim=-1)
    return torch.multinomial(probs, 1, generator=generator)[:, 0]


def sample_wrong_dim(logits, temperature, generator):
    probs = torch.softmax(logits / temperature, dim=0)
    return torch.multinomial(probs, 1, generator=generator)[:, 0]


def sample_global_rng(logits, temperature, generator):
    probs = torch.softmax(logits / temperature, dim=-1)
    return torch.multinomial(probs, 1)[:, 0]


def sample_fresh_generator(logits, temperature, generator):
    fresh = torch.Generator().manual_seed(2026)   # the same seed, but restarted at every call
    probs = torch.softmax(logits / temperature, dim=-1)
    return torch.multinomial(probs, 1, generator=fresh)[:, 0]


def sample_no_temperature(logits, temperature, generator):
    return torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator)[:, 0]


def sample_keeps_column(logits, temperature, generator):
    return torch.multinomial(torch.softmax(logits / temperature, dim=-1), 1, generator=generator)


def sample_stub(logits, temperature, generator):
    raise NotImplementedError


def test_sample_solution_passes(capsys):
    ac.check.sample_next_char(sample_next_char_solution)
    assert "✅ sample_next_char" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", [sample_multiplied, sample_wrong_dim, sample_global_rng,
                                   sample_fresh_generator, sample_no_temperature])
def test_sample_wrong_draws_fail(wrong):
    with pytest.raises(CheckFailed, match=r"the result\['temperature [0-9.]+, draw \d'\]: \d of 4 values differ"):
        ac.check.sample_next_char(wrong)


def test_sample_messages_point_at_the_mistake():
    with pytest.raises(CheckFailed, match="divide the logits by the temperature") as info:
        ac.check.sample_next_char(sample_multiplied)
    assert "temperature 0.5" in str(info.value)   # not at T = 1, where × and ÷ agree
    with pytest.raises(CheckFailed, match=r"expected shape \(4,\), got shape \(4, 1\)"):
        ac.check.sample_next_char(sample_keeps_column)


def test_sample_stub_only_reminds(capsys):
    ac.check.sample_next_char(sample_stub)
    assert "not written yet" in capsys.readouterr().out


class FixedLogits(nn.Module):
    """A stand-in language model that always predicts the same logits."""

    def __init__(self, logits):
        super().__init__()
        self.vocab_size = len(logits)
        self.logits = nn.Parameter(logits.clone())

    def forward(self, x, state=None):
        return self.logits.expand(x.shape[0], x.shape[1], -1), state


def test_the_reference_is_how_the_char_lstm_samples():
    logits = 2.0 * torch.randn(12, generator=torch.Generator().manual_seed(1))
    for t in (0.5, 1.0, 2.0):
        out = sample(FixedLogits(logits), torch.tensor([0]), 5, temperature=t,
                     generator=torch.Generator().manual_seed(3))
        gen = torch.Generator().manual_seed(3)
        mine = [int(sample_next_char_solution(logits[None], t, gen)) for _ in range(5)]
        assert out[1:].tolist() == mine


# --------------------------------------------------------------------------- 07: the LSTM cell
def lstm_cell_solution(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh, *, order=(0, 1, 2, 3),
                       forget=torch.sigmoid, mix=False, old_c=False):
    """The notebook's solution (with switches for the usual mistakes)."""
    gates = x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh
    chunks = gates.chunk(4, dim=1)
    i, f, g, o = (chunks[k] for k in order)
    i, f, g, o = torch.sigmoid(i), forget(f), torch.tanh(g), torch.sigmoid(o)
    c_new = f * (h if mix else c) + i * g
    h_new = o * torch.tanh(c if old_c else c_new)
    return h_new, c_new


def test_lstm_cell_solution_passes(capsys):
    ac.check.lstm_cell(lstm_cell_solution)
    assert "✅ lstm_cell" in capsys.readouterr().out


@pytest.mark.parametrize("what, kwargs", [
    ("gates i, f, o, g", {"order": (0, 1, 3, 2)}),
    ("gates f, i, g, o", {"order": (1, 0, 2, 3)}),
    ("tanh on the forget gate", {"forget": torch.tanh}),
    ("c' from the old h", {"mix": True}),
])
def test_lstm_cell_wrong_c_fails(what, kwargs):
    with pytest.raises(CheckFailed, match=r"the result\['new c'\]: \d+ of 12 values differ.*\n.*OLD CELL state"):
        ac.check.lstm_cell(lambda *args: lstm_cell_solution(*args, **kwargs))


def test_lstm_cell_wrong_h_fails():
    with pytest.raises(CheckFailed, match=r"the result\['new h'\]: \d+ of 12 values differ.*\n.*NEW c'"):
        ac.check.lstm_cell(lambda *args: lstm_cell_solution(*args, old_c=True))


def test_lstm_cell_wrong_return_fails():
    with pytest.raises(CheckFailed, match=r"expected the pair \(h', c'\).*got a Tensor of shape \(3, 4\)"):
        ac.check.lstm_cell(lambda *args: lstm_cell_solution(*args)[0])
    with pytest.raises(CheckFailed, match="in the order"):
        ac.check.lstm_cell(lambda *args: lstm_cell_solution(*args)[::-1])


def test_lstm_cell_stub_only_reminds(capsys):
    def stub(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
        raise NotImplementedError
    ac.check.lstm_cell(stub)
    assert "not written yet" in capsys.readouterr().out


def test_the_cell_is_one_step_of_nn_lstm():
    """The reference cell is what ``nn.LSTM`` (used by the package's models) runs at each step."""
    torch.manual_seed(0)
    lstm = nn.LSTM(5, 4, batch_first=True)
    x = torch.randn(2, 3, 5)
    with torch.no_grad():
        _, (h_last, c_last) = lstm(x)
        h = c = torch.zeros(2, 4)
        for t in range(3):
            h, c = lstm_cell_solution(x[:, t], h, c, lstm.weight_ih_l0, lstm.weight_hh_l0,
                                      lstm.bias_ih_l0, lstm.bias_hh_l0)
    torch.testing.assert_close(h, h_last[0])
    torch.testing.assert_close(c, c_last[0])
