"""Attention, written out so that every line maps onto a formula of chapter 05.

.. math::

    \\mathrm{Attention}(Q, K, V) = \\mathrm{softmax}\\Big(\\frac{Q K^\\top}{\\sqrt{d_k}} + M\\Big) V

Shapes follow PyTorch's conventions: queries ``[..., n_q, d_k]``, keys
``[..., n_k, d_k]``, values ``[..., n_k, d_v]``; the leading dimensions
(batch, heads) are free. A boolean ``mask`` broadcastable to ``[..., n_q, n_k]``
says which key each query **may** look at (``True`` = attend), the same
convention as :func:`torch.nn.functional.scaled_dot_product_attention`.

- :func:`scaled_dot_product_attention` – the formula, returning outputs and weights;
- :func:`causal_mask`, :func:`padding_mask` – the two masks a Transformer needs;
- :class:`MultiHeadAttention` – ``h`` heads in parallel, then an output projection;
- :func:`sinusoidal_positions` – the fixed position code of Vaswani et al. (2017).
"""

from __future__ import annotations

import math

import torch
from torch import nn


def _check_tensor(name: str, x, ndim_at_least: int) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if x.dim() < ndim_at_least:
        raise ValueError(f"{name} must have at least {ndim_at_least} dimensions [..., n, d], "
                         f"got shape {tuple(x.shape)}")


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                                 mask: torch.Tensor | None = None, *, causal: bool = False,
                                 scale: float | None = None, dropout: float = 0.0
                                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """``softmax(q kᵀ / √d_k + masking) v``.

    Args:
        q, k, v: ``[..., n_q, d_k]``, ``[..., n_k, d_k]``, ``[..., n_k, d_v]``.
        mask: boolean, broadcastable to ``[..., n_q, n_k]``; ``False`` entries are excluded.
        causal: also exclude the future (query ``i`` sees keys ``j ≤ i``, aligned at the end
            when ``n_q < n_k``, as in cached decoding).
        scale: multiplies the scores (default ``1/√d_k``).
        dropout: dropout probability on the weights (pass 0 at evaluation time).

    Returns:
        ``(output [..., n_q, d_v], weights [..., n_q, n_k])``; every row of the weights sums to 1.
    """
    for name, x in (("q", q), ("k", k), ("v", v)):
        _check_tensor(name, x, 2)
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must have the same last dimension d_k, got {q.shape[-1]} and {k.shape[-1]}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"k and v must have the same number of positions, got {k.shape[-2]} and {v.shape[-2]}")
    n_q, n_k = q.shape[-2], k.shape[-2]
    scores = q @ k.transpose(-2, -1) * (scale if scale is not None else 1.0 / math.sqrt(q.shape[-1]))
    if causal:
        mask = causal_mask(n_q, n_k, device=q.device) if mask is None else mask & causal_mask(n_q, n_k, q.device)
    if mask is not None:
        if mask.dtype != torch.bool:
            raise TypeError(f"mask must be a boolean tensor (True = may attend), got dtype {mask.dtype}")
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:  # a query with no visible key (a fully padded row) gets zeros, not NaN
        weights = weights.nan_to_num(0.0)
    if dropout > 0.0:
        weights = nn.functional.dropout(weights, dropout)
    return weights @ v, weights


def causal_mask(n_q: int, n_k: int | None = None, device=None) -> torch.Tensor:
    """Boolean ``[n_q, n_k]`` mask, ``True`` where query ``i`` may see key ``j``.

    With ``n_q == n_k`` it is the lower triangle (``j ≤ i``). With fewer queries than keys
    (the queries are the *last* ``n_q`` positions, as when decoding with a KV cache) the
    triangle is aligned at the bottom-right: ``j ≤ i + (n_k − n_q)``.
    """
    n_k = n_q if n_k is None else n_k
    if not (isinstance(n_q, int) and isinstance(n_k, int)) or n_q < 1 or n_k < n_q:
        raise ValueError(f"causal_mask needs 1 <= n_q <= n_k, got n_q={n_q!r}, n_k={n_k!r}")
    return torch.ones(n_q, n_k, dtype=torch.bool, device=device).tril(diagonal=n_k - n_q)


def padding_mask(lengths, max_len: int | None = None) -> torch.Tensor:
    """Boolean key mask ``[B, 1, max_len]``: ``True`` for real tokens, ``False`` for padding.

    ``lengths`` holds the true length of each sequence in a padded batch. The middle
    dimension broadcasts over the queries (and the result broadcasts over heads after
    ``.unsqueeze(1)``).
    """
    lengths = torch.as_tensor(lengths)
    if lengths.dim() != 1 or lengths.is_floating_point() or len(lengths) == 0:
        raise ValueError(f"lengths must be a non-empty 1-D sequence of ints, got {lengths!r}")
    max_len = int(lengths.max()) if max_len is None else max_len
    if int(lengths.min()) < 0 or int(lengths.max()) > max_len:
        raise ValueError(f"lengths must lie in [0, {max_len}], got {lengths.tolist()}")
    return (torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None])[:, None, :]


class MultiHeadAttention(nn.Module):
    """``h`` attention heads of size ``d_model / h`` side by side, then an output projection.

    ``MultiHead(Q, K, V) = Concat(head_1, …, head_h) W_O`` with
    ``head_i = Attention(Q W_Q^i, K W_K^i, V W_V^i)``. Inputs are batch-first
    ``[B, n, d_model]``. ``forward`` returns ``(output [B, n_q, d_model],
    weights [B, h, n_q, n_k])``.
    """

    def __init__(self, d_model: int, n_heads: int, *, bias: bool = True, dropout: float = 0.0):
        super().__init__()
        if not isinstance(d_model, int) or not isinstance(n_heads, int) or d_model < 1 or n_heads < 1:
            raise ValueError(f"d_model and n_heads must be positive ints, got {d_model!r}, {n_heads!r}")
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}")
        self.d_model, self.n_heads, self.d_head, self.dropout = d_model, n_heads, d_model // n_heads, dropout
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, n, d_model]`` → ``[B, h, n, d_head]``."""
        return x.view(x.shape[0], x.shape[1], self.n_heads, self.d_head).transpose(1, 2)

    def forward(self, query, key=None, value=None, mask=None, *, causal: bool = False):
        """Self-attention when ``key``/``value`` are omitted; ``mask`` broadcasts to
        ``[B, h, n_q, n_k]`` (e.g. ``padding_mask(lengths).unsqueeze(1)``)."""
        _check_tensor("query", query, 3)
        key = query if key is None else key
        value = key if value is None else value
        if query.shape[-1] != self.d_model or key.shape[-1] != self.d_model:
            raise ValueError(f"inputs must end in d_model={self.d_model}, got {tuple(query.shape)} "
                             f"and {tuple(key.shape)}")
        q, k, v = (self.split_heads(p(x)) for p, x in ((self.q_proj, query), (self.k_proj, key),
                                                        (self.v_proj, value)))
        out, weights = scaled_dot_product_attention(q, k, v, mask, causal=causal,
                                                    dropout=self.dropout if self.training else 0.0)
        out = out.transpose(1, 2).reshape(query.shape[0], query.shape[1], self.d_model)  # concat heads
        return self.out_proj(out), weights

    @classmethod
    def from_torch(cls, mha: nn.MultiheadAttention) -> MultiHeadAttention:
        """Copy the weights of a ``torch.nn.MultiheadAttention`` (``batch_first`` or not)."""
        if not isinstance(mha, nn.MultiheadAttention) or not mha._qkv_same_embed_dim:
            raise TypeError("expected a torch.nn.MultiheadAttention with equal q/k/v sizes")
        ours = cls(mha.embed_dim, mha.num_heads, bias=mha.in_proj_bias is not None)
        with torch.no_grad():
            for i, proj in enumerate((ours.q_proj, ours.k_proj, ours.v_proj)):
                d = mha.embed_dim
                proj.weight.copy_(mha.in_proj_weight[i * d:(i + 1) * d])
                if mha.in_proj_bias is not None:
                    proj.bias.copy_(mha.in_proj_bias[i * d:(i + 1) * d])
            ours.out_proj.load_state_dict(mha.out_proj.state_dict())
        return ours


def sinusoidal_positions(n_positions: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """The fixed position code ``[n_positions, d_model]`` of the original Transformer.

    ``PE[p, 2i] = sin(p / base^(2i/d))`` and ``PE[p, 2i+1] = cos(p / base^(2i/d))``:
    each pair of columns is a clock turning at its own speed, from one turn every 2π
    positions down to one every ``2π·base`` positions.
    """
    if not isinstance(n_positions, int) or not isinstance(d_model, int) or n_positions < 1 or d_model < 2:
        raise ValueError(f"need n_positions >= 1 and d_model >= 2, got {n_positions!r}, {d_model!r}")
    if d_model % 2:
        raise ValueError(f"d_model must be even (sin/cos pairs), got {d_model}")
    position = torch.arange(n_positions, dtype=torch.float32)[:, None]
    frequency = base ** (-torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)
    pe = torch.zeros(n_positions, d_model)
    pe[:, 0::2] = torch.sin(position * frequency)
    pe[:, 1::2] = torch.cos(position * frequency)
    return pe
