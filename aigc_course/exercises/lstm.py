"""Checks for the LSTM exercises: sampling with a temperature (06) and one LSTM cell step (07).

>>> import aigc_course as ac
>>> ac.check.sample_next_char(my_sample)   # doctest: +SKIP
>>> ac.check.lstm_cell(my_lstm_cell)       # doctest: +SKIP
"""

from __future__ import annotations

import torch

from ..check import CheckFailed, _describe, function

__all__ = ["lstm_cell", "sample_next_char"]

_SAMPLE_HINT = (
    "divide the logits by the temperature (do not multiply), take the softmax over the last "
    "dimension (the vocabulary, one distribution per row), then draw ONE index per row with "
    "torch.multinomial(probs, 1, generator=generator) — the generator you were given, once per "
    "call — and return it as a LongTensor of shape [B] (multinomial gives [B, 1]: take [:, 0])"
)

_CELL_HINT = (
    "gates = x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh, split into 4 chunks of H "
    "in PyTorch's order i, f, g, o; i, f and o go through a sigmoid, g through tanh; "
    "c' = f * c + i * g uses the OLD CELL state c (not h); h' = o * tanh(c') uses the NEW c'; "
    "return them in the order (h', c')"
)


def _reference_sample(logits: torch.Tensor, temperature: float, generator: torch.Generator) -> torch.Tensor:
    """The package's sampler (the one the char-LSTM's ``sample`` and GPT's ``generate`` use)."""
    from ..models.gpt import sample_next

    return sample_next(logits, temperature=temperature, generator=generator)[:, 0]


def sample_next_char(mine) -> None:
    """Check ``mine(logits [B, V], temperature, generator) -> ids [B]`` (chapter 06).

    It must divide the logits by the temperature, take a softmax over the vocabulary and draw
    one index per row with ``torch.multinomial(..., generator=generator)``, exactly as
    :func:`aigc_course.models.gpt.sample_next` does (the char-LSTM's
    :func:`aigc_course.models.rnn.sample` draws the same way). Three temperatures (0.5, 1, 2),
    three draws each from one generator, a batch of 4 rows over 12 symbols: every draw must
    be the same index as the package's.
    """
    temperatures, draws = (0.5, 1.0, 2.0), 3

    def make_inputs():
        g = torch.Generator().manual_seed(6)
        logits = 2.0 * torch.randn(4, 12, generator=g)
        return (logits, [(t, torch.Generator().manual_seed(2026)) for t in temperatures])

    def every_draw(fn):
        def run(logits, cases):
            out = {}
            for t, gen in cases:
                for k in range(draws):
                    out[f"temperature {t:g}, draw {k + 1}"] = fn(logits.clone(), t, gen)
            return out
        return run

    function("sample_next_char", every_draw(mine), every_draw(_reference_sample), make_inputs,
             hint=_SAMPLE_HINT)


def _reference_cell(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    """One step of ``torch.nn.LSTMCell`` with the given weights → ``(h', c')``.

    The package's models use ``nn.LSTM``, which runs this same cell at every time step.
    """
    cell = torch.nn.LSTMCell(weight_ih.shape[1], weight_hh.shape[1])
    with torch.no_grad():
        for name, value in (("weight_ih", weight_ih), ("weight_hh", weight_hh),
                            ("bias_ih", bias_ih), ("bias_hh", bias_hh)):
            getattr(cell, name).copy_(value)
        return cell(x, (h, c))


def lstm_cell(mine) -> None:
    """Check ``mine(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh) -> (h', c')`` (chapter 07).

    Shapes: ``x [B, X]``, ``h, c [B, H]``, ``weight_ih [4H, X]``, ``weight_hh [4H, H]``,
    ``bias_ih, bias_hh [4H]``; the gates are stacked in PyTorch's order i, f, g, o. The result
    is compared with ``torch.nn.LSTMCell`` holding the same weights (new c first, then new h).
    """
    def make_inputs():
        g = torch.Generator().manual_seed(7)
        batch, x_size, hidden = 3, 5, 4
        return (torch.randn(batch, x_size, generator=g), torch.randn(batch, hidden, generator=g),
                torch.randn(batch, hidden, generator=g),
                0.7 * torch.randn(4 * hidden, x_size, generator=g),
                0.7 * torch.randn(4 * hidden, hidden, generator=g),
                0.5 * torch.randn(4 * hidden, generator=g), 0.5 * torch.randn(4 * hidden, generator=g))

    def named(fn):
        def run(*args):
            out = fn(*args)
            if not (isinstance(out, (tuple, list)) and len(out) == 2):
                text = (f"❌ lstm_cell: expected the pair (h', c') (a tuple of two tensors), "
                        f"got a {_describe(out)}\n   Hint: end with `return h_new, c_new`")
                print(text)
                raise CheckFailed(text)
            return {"new c": out[1], "new h": out[0]}   # c first: h' is computed from c'
        return run

    function("lstm_cell", named(mine), named(_reference_cell), make_inputs, hint=_CELL_HINT)
