"""A small decoder-only Transformer (GPT) with sampling and a KV cache.

The architecture is GPT-2's (Radford et al., 2019): token + learned position
embeddings, ``n_layer`` pre-LayerNorm blocks of causal multi-head self-attention
and a 4×-wide GELU MLP, a final LayerNorm and an output layer tied to the token
embedding. Because the layout is the same, :func:`to_hf` copies the weights into a
Hugging Face ``GPT2LMHeadModel`` that computes the same logits.

>>> cfg = GPTConfig.preset("tiny", vocab_size=100)
>>> model = GPT(cfg)
>>> logits = model(torch.zeros(2, 8, dtype=torch.long))    # [B, T] → [B, T, vocab]
>>> out = model.generate(torch.zeros(1, 1, dtype=torch.long), 5, top_k=10)   # [1, 6]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ..validation import check_bool, check_int, check_number, check_tensor
from .attention import causal_mask
from .sampling import multinomial

#: Named sizes. ``tiny``: unit tests; ``mini``: the fast profile on a CPU (≈ 0.5 M parameters
#: plus the embedding); ``small``: the full profile; ``gpt2``: GPT-2 small (124 M), for reference.
PRESETS = {
    "tiny": {"n_layer": 1, "n_head": 2, "n_embd": 32, "n_ctx": 32},
    "mini": {"n_layer": 2, "n_head": 4, "n_embd": 128, "n_ctx": 64},
    "small": {"n_layer": 4, "n_head": 8, "n_embd": 256, "n_ctx": 128},
    "gpt2": {"n_layer": 12, "n_head": 12, "n_embd": 768, "n_ctx": 1024},
}


@dataclass(frozen=True)
class GPTConfig:
    """Sizes of a :class:`GPT`. ``n_ctx`` is the context length (maximum tokens seen at once)."""

    vocab_size: int
    n_ctx: int = 64
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0

    def __post_init__(self):
        for name in ("vocab_size", "n_ctx", "n_layer", "n_head", "n_embd"):
            check_int(f"GPTConfig.{name}", getattr(self, name))
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd={self.n_embd} must be divisible by n_head={self.n_head}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")

    @classmethod
    def preset(cls, name: str, vocab_size: int, **overrides) -> GPTConfig:
        """A named size from :data:`PRESETS`; ``overrides`` change single fields."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
        return cls(vocab_size=vocab_size, **{**PRESETS[name], **overrides})


class KVCache:
    """Keys and values of the tokens seen so far, per layer ``[B, n_head, T, d_head]``: a new token
    computes only its own query, key and value and attends to the cached ones."""

    def __init__(self, n_layer: int):
        self.layers: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * n_layer

    def __len__(self) -> int:
        return 0 if self.layers[0] is None else self.layers[0][0].shape[2]

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor):
        if self.layers[layer] is not None:  # append the new positions to the cached ones
            k, v = (torch.cat([old, new], dim=2) for old, new in zip(self.layers[layer], (k, v)))
        self.layers[layer] = (k, v)
        return k, v


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where token ``t`` sees tokens ``≤ t`` (chapter 05)."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.n_head, self.dropout = cfg.n_head, cfg.dropout
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)  # W_Q, W_K, W_V in one matrix
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)     # W_O

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
                   for t in self.qkv(x).split(C, dim=2))
        if cache is not None:
            k, v = cache.append(layer, k, v)
        n_k = k.shape[2]
        # PyTorch's fused kernel = chapter 05's formula (checked there), faster. T == n_k: causal;
        # T == 1: the newest token sees every cached one; otherwise a shifted triangle.
        mask = None if T in (1, n_k) else causal_mask(T, n_k, x.device)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=T == n_k > 1,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


class Block(nn.Module):
    """Pre-LayerNorm Transformer block: ``x + attn(ln(x))``, then ``x + mlp(ln(x))``."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(cfg.n_embd), nn.LayerNorm(cfg.n_embd)
        self.attn = CausalSelfAttention(cfg)
        self.mlp = nn.Sequential(nn.Linear(cfg.n_embd, 4 * cfg.n_embd), nn.GELU(approximate="tanh"),
                                 nn.Linear(4 * cfg.n_embd, cfg.n_embd), nn.Dropout(cfg.dropout))
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x, cache=None, layer=0):
        x = x + self.drop(self.attn(self.ln_1(x), cache, layer))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """Decoder-only Transformer language model: token ids ``[B, T]`` → next-token logits ``[B, T, V]``."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        if not isinstance(cfg, GPTConfig):
            raise TypeError(f"cfg must be a GPTConfig, got {type(cfg).__name__}")
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.pos_emb = nn.Embedding(cfg.n_ctx, cfg.n_embd)  # learned positions, as in GPT-2
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.head.weight = self.tok_emb.weight  # weight tying: one matrix reads and writes tokens
        for name, p in self.named_parameters():  # GPT-2's init: N(0, 0.02), residual branches / √(2L)
            if name.endswith("bias") and "ln" not in name:
                nn.init.zeros_(p)
            elif p.dim() == 2:
                residual = name.endswith(("attn.proj.weight", "mlp.2.weight"))
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * cfg.n_layer) if residual else 0.02)

    def forward(self, idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Logits for every position. With a ``cache`` the ids continue the cached prefix."""
        if not isinstance(idx, torch.Tensor) or idx.dtype not in (torch.long, torch.int32):
            raise TypeError(f"idx must be a tensor of token ids (torch.long), got "
                            f"{getattr(idx, 'dtype', type(idx).__name__)}")
        if idx.dim() != 2 or idx.shape[1] == 0:
            raise ValueError(f"idx must have shape [batch, time] with time >= 1, got {tuple(idx.shape)}")
        start = 0 if cache is None else len(cache)
        if start + idx.shape[1] > self.cfg.n_ctx:
            raise ValueError(f"sequence of {start + idx.shape[1]} tokens is longer than the context "
                             f"n_ctx={self.cfg.n_ctx}; crop it to the last {self.cfg.n_ctx} tokens")
        if idx.device.type == "cpu":  # free here; on a GPU it would wait (generate checks)
            check_token_ids("idx", idx, self.cfg.vocab_size)
        pos = torch.arange(start, start + idx.shape[1], device=idx.device)
        x = self.drop(self.tok_emb(idx) + self.pos_emb(pos))
        for i, block in enumerate(self.blocks):
            x = block(x, cache, i)
        return self.head(self.ln_f(x))

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int, *, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None, use_cache: bool = True,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Continue ``idx [B, T]`` by ``max_new_tokens`` sampled tokens; returns ``[B, T + new]``.

        ``temperature=0`` is greedy decoding. ``use_cache=False`` recomputes the whole
        prefix at every step (same result, slower). The total length must fit ``n_ctx``.
        The prompt may be on any device (the result is on the model's); a ``generator`` on
        another device than the model drives the draws there (see :mod:`.sampling`).
        """
        check_int("max_new_tokens", max_new_tokens, low=0)
        check_bool("use_cache", use_cache)
        if isinstance(idx, torch.Tensor) and idx.dim() == 2 and idx.shape[1] + max_new_tokens > self.cfg.n_ctx:
            raise ValueError(f"prompt ({idx.shape[1]}) + max_new_tokens ({max_new_tokens}) is longer "
                             f"than the context n_ctx={self.cfg.n_ctx}")
        idx = check_token_ids("idx", idx, self.cfg.vocab_size).to(self.tok_emb.weight.device)
        was_training = self.training
        self.eval()
        cache, new = (KVCache(self.cfg.n_layer) if use_cache else None), idx
        for _ in range(max_new_tokens):  # with a cache, only the newest token is fed in
            logits = self(new if use_cache else idx, cache)[:, -1]
            new = sample_next(logits, temperature=temperature, top_k=top_k, top_p=top_p, generator=generator)
            idx = torch.cat([idx, new], dim=1)
        self.train(was_training)
        return idx


def filter_logits(logits: torch.Tensor, top_k: int | None = None, top_p: float | None = None) -> torch.Tensor:
    """Set to ``-inf`` every logit outside the ``top_k`` largest and outside the nucleus: the
    smallest set of most likely tokens whose probabilities add up to at least ``top_p``."""
    if top_k is not None:
        check_int("top_k", top_k)
        kth = torch.topk(logits, min(top_k, logits.shape[-1]), dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None:
        check_number("top_p", top_p, 0.0, 1.0, low_open=True)
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        probs = sorted_logits.softmax(-1)
        drop_sorted = probs.cumsum(-1) - probs >= top_p  # mass before this token already ≥ top_p
        logits = logits.masked_fill(drop_sorted.scatter(-1, order, drop_sorted), float("-inf"))
    return logits


def sample_next(logits: torch.Tensor, *, temperature: float = 1.0, top_k: int | None = None,
                top_p: float | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """One token id per row of ``logits [B, V]`` → ``[B, 1]``: greedy if ``temperature == 0``."""
    if check_number("temperature", temperature, low=0.0) == 0:
        return logits.argmax(-1, keepdim=True)
    probs = filter_logits(logits / temperature, top_k, top_p).softmax(-1)
    return multinomial(probs, generator)


def check_token_ids(name: str, ids, vocab_size: int) -> torch.Tensor:
    """``ids`` must be an integer tensor with every value in ``[0, vocab_size)``; returns it.

    Reads the values (a GPU waits for them): call it where data comes in, not in ``forward``.
    """
    check_tensor(name, ids, floating=False)
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise ValueError(f"{name}: token ids must be in [0, {vocab_size - 1}] (vocab_size="
                         f"{vocab_size}), got min {int(ids.min())}, max {int(ids.max())}")
    return ids


def lm_loss(logits: torch.Tensor, targets: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
    """Mean next-token cross-entropy in nats: logits ``[B, T, V]``, targets ``[B, T]``.

    Targets equal to ``ignore_index`` (e.g. the padding id of replies of different lengths)
    are left out of the mean. Checks dtypes only (free); the ids' values are checked where the
    data is made.
    """
    check_tensor("logits", logits, floating=True)
    check_tensor("targets", targets, floating=False)
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=ignore_index)


def to_hf(model: GPT, **config_kwargs):
    """The same network as a Hugging Face ``GPT2LMHeadModel`` (weights copied, logits equal).

    ``config_kwargs`` go to ``GPT2Config`` (e.g. ``eos_token_id``; by default there is none).
    """
    from transformers import GPT2Config, GPT2LMHeadModel

    if not isinstance(model, GPT):
        raise TypeError(f"expected a GPT, got {type(model).__name__}")
    c = model.cfg
    hf = GPT2LMHeadModel(GPT2Config(
        vocab_size=c.vocab_size, n_positions=c.n_ctx, n_embd=c.n_embd, n_layer=c.n_layer, n_head=c.n_head,
        activation_function="gelu_new", resid_pdrop=c.dropout, embd_pdrop=c.dropout, attn_pdrop=c.dropout,
        **{"bos_token_id": None, "eos_token_id": None, **config_kwargs}))
    names = {"ln_1": "ln_1", "ln_2": "ln_2", "attn.qkv": "attn.c_attn", "attn.proj": "attn.c_proj",
             "mlp.0": "mlp.c_fc", "mlp.2": "mlp.c_proj"}  # ours → GPT-2's module names
    sd = {"transformer.wte.weight": model.tok_emb.weight, "transformer.wpe.weight": model.pos_emb.weight,
          "transformer.ln_f.weight": model.ln_f.weight, "transformer.ln_f.bias": model.ln_f.bias,
          "lm_head.weight": model.head.weight}
    for i, block in enumerate(model.blocks):
        for ours, theirs in names.items():
            module = block.get_submodule(ours)
            linear = isinstance(module, nn.Linear)  # GPT-2's Conv1D stores weights as [in, out]
            sd[f"transformer.h.{i}.{theirs}.weight"] = module.weight.T if linear else module.weight
            sd[f"transformer.h.{i}.{theirs}.bias"] = module.bias
    hf.load_state_dict({k: v.detach().clone().contiguous() for k, v in sd.items()}, strict=True)
    return hf.eval()

