"""Replies written by a small language model, steered by control codes.

A word-level GRU language model learns agent replies under two *control codes*, a tone and an
intent, whose embeddings are fed to the GRU at every step next to the word embedding::

    (tone="friendly", intent="refund_status")  →  "Great question! Refunds are issued within ..."

At answer time the retriever supplies the intent code (that is what grounds the reply in the
knowledge base: the model has learnt which facts go with which intent) and the application
chooses the tone. With the intent code "none" the same model must guess, and it writes a fluent
answer to some other question: the notebook measures both.

Shapes: token ids ``[B, T]`` (``torch.long``, padding id 0); codes ``[B]``; logits ``[B, T, V]``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

import torch
from torch import nn

from ..models.gpt import lm_loss
from ..validation import check_int, check_number

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"

# Openers and closers in two tones (a third party could add more: the codes are just tokens).
TONES: dict[str, tuple[list[str], list[str]]] = {
    "formal": (
        ["Thank you for contacting us.", "We appreciate your message.", "Thank you for your enquiry.",
         "We are glad to assist you."],
        ["Kind regards, the support team.", "Please do not hesitate to contact us again.",
         "We remain at your disposal.", "Sincerely, customer care."],
    ),
    "friendly": (
        ["Hey there, happy to help!", "Great question!", "Thanks so much for asking!",
         "Hi! No worries at all."],
        ["Have an awesome day!", "Cheers, and enjoy your shopping!", "Hope that helps, take care!",
         "Ping us anytime!"],
    ),
}

_WORD = re.compile(r"<[^>\s]+>|\$?\d+(?:\.\d+)?|\w+(?:[-']\w+)*|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Words, numbers (``$4.95`` is one token), punctuation and ``<codes>`` as separate tokens."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    return _WORD.findall(text)


def detokenize(tokens: Sequence[str]) -> str:
    """Join tokens back into readable text (no space before punctuation)."""
    text = " ".join(tokens)
    text = re.sub(r" ([.,!?;:%)])", r"\1", text)
    return re.sub(r"([($]) ", r"\1", text).replace(" ' ", "'")


def reply_corpus(entries: Sequence, n_per_intent: int = 16, seed: int = 0,
                 no_intent_share: float = 0.0) -> list[tuple[str, str | None, str]]:
    """Training replies ``(tone, intent, text)``: an opener in the tone + the entry's answer + a closer.

    ``no_intent_share`` of the examples get the intent ``None`` (the model then also learns to
    reply without being told the intent, which is what an ungrounded model has to do).
    """
    check_int("n_per_intent", n_per_intent)
    check_number("no_intent_share", no_intent_share, 0.0, 1.0)
    rng = random.Random(seed)
    out = []
    for e in entries:
        for _ in range(n_per_intent):
            tone = rng.choice(sorted(TONES))
            openers, closers = TONES[tone]
            text = f"{rng.choice(openers)} {e.answer} {rng.choice(closers)}"
            intent = None if rng.random() < no_intent_share else e.intent
            out.append((tone, intent, text))
    return out


class Vocab:
    """Token ↔ id maps (id 0 is padding, unknown words map to ``<unk>``) and the code ↔ id maps.

    Intent id 0 means "no intent given".
    """

    def __init__(self, tokens: Sequence[str], intents: Sequence[str], tones: Sequence[str] = tuple(TONES)):
        specials = (PAD, UNK, BOS, EOS)
        self.itos = list(specials) + [t for t in dict.fromkeys(tokens) if t not in specials]
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        self.intents = [None] + [i for i in dict.fromkeys(intents) if i is not None]
        self.tones = list(tones)

    @classmethod
    def build(cls, corpus: Sequence[tuple[str, str | None, str]]) -> Vocab:
        words = sorted({t for _, _, text in corpus for t in tokenize(text)})
        return cls(words, sorted({i for _, i, _ in corpus if i is not None}))

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens: Sequence[str]) -> list[int]:
        return [self.stoi.get(t, 1) for t in tokens]

    def decode(self, ids: Sequence[int]) -> list[str]:
        return [self.itos[i] for i in ids]

    def code_ids(self, tone: str, intent: str | None) -> tuple[int, int]:
        """``(tone_id, intent_id)``; raises ``ValueError`` for codes the model never saw."""
        if tone not in self.tones:
            raise ValueError(f"tone must be one of {self.tones}, got {tone!r}")
        if intent not in self.intents:
            raise ValueError(f"unknown intent {intent!r}: the model was trained with {self.intents[1:]}")
        return self.tones.index(tone), self.intents.index(intent)


def encode_corpus(corpus, vocab: Vocab) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(x, tone, intent, y)``: inputs ``[N, T]``, codes ``[N]``, next-token targets ``[N, T]`` (pad 0)."""
    seqs = [vocab.encode([BOS] + tokenize(text) + [EOS]) for _, _, text in corpus]
    length = max(map(len, seqs))
    ids = torch.zeros(len(seqs), length, dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
    code = torch.tensor([vocab.code_ids(tone, intent) for tone, intent, _ in corpus], dtype=torch.long)
    return ids[:, :-1].contiguous(), code[:, 0], code[:, 1], ids[:, 1:].contiguous()


class ReplyLM(nn.Module):
    """[word embedding; tone embedding; intent embedding] → GRU → linear.

    ``forward(x [B, T], tone [B], intent [B]) -> logits [B, T, V]``.
    """

    def __init__(self, vocab_size: int, n_intents: int, n_tones: int = len(TONES),
                 embed_dim: int = 64, code_dim: int = 16, hidden_size: int = 128):
        super().__init__()
        check_int("vocab_size", vocab_size, low=5)  # 4 special tokens and at least one word
        check_int("n_intents", n_intents)
        check_int("n_tones", n_tones)
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.tone = nn.Embedding(n_tones, code_dim)
        self.intent = nn.Embedding(n_intents, code_dim)
        self.gru = nn.GRU(embed_dim + 2 * code_dim, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, x: torch.Tensor, tone: torch.Tensor, intent: torch.Tensor,
                h: torch.Tensor | None = None, return_state: bool = False):
        if x.dim() != 2 or tone.shape != x.shape[:1] or intent.shape != x.shape[:1]:
            raise ValueError(f"expected x [B, T], tone [B], intent [B]; got {tuple(x.shape)}, "
                             f"{tuple(tone.shape)}, {tuple(intent.shape)}")
        steps = x.shape[1]
        c = torch.cat([self.tone(tone), self.intent(intent)], -1)[:, None].expand(-1, steps, -1)
        out, h = self.gru(torch.cat([self.embed(x), c], -1), h)
        logits = self.head(out)
        return (logits, h) if return_state else logits


def lm_step(grad_clip: float | None = 1.0):
    """A :func:`aigc_course.train.fit` step for ``(x, tone, intent, y)`` batches."""
    from ..train import clip_and_step

    def step(model, batch, optimizer):
        x, tone, intent, y = batch
        loss = lm_loss(model(x, tone, intent), y, ignore_index=0)  # id 0 pads the replies
        clip_and_step(loss, optimizer, model.parameters(), grad_clip)
        return {"loss": loss.detach()}

    return step


@torch.no_grad()
def generate_replies(model: ReplyLM, vocab: Vocab, requests: Sequence[tuple[str, str | None]], *,
                     max_tokens: int = 80, temperature: float = 0.5,
                     generator: torch.Generator | None = None) -> list[str]:
    """Sample one reply per ``(tone, intent)`` request, all in one batch, until ``<eos>``."""
    check_int("max_tokens", max_tokens)
    check_number("temperature", temperature, 0.0, low_open=True)
    if isinstance(requests, tuple) and len(requests) == 2 and isinstance(requests[0], str):
        raise TypeError("requests must be a list of (tone, intent) pairs, e.g. [('formal', 'refund_status')]")
    requests = list(requests)
    if not requests:
        raise ValueError("requests is empty")
    code = torch.tensor([vocab.code_ids(tone, intent) for tone, intent in requests], dtype=torch.long)
    model.eval()
    device = next(model.parameters()).device
    tone, intent = code[:, 0].to(device), code[:, 1].to(device)
    x = torch.full((len(requests), 1), vocab.stoi[BOS], dtype=torch.long, device=device)
    h, out = None, []
    done = torch.zeros(len(requests), dtype=torch.bool)
    eos = vocab.stoi[EOS]
    for _ in range(max_tokens):
        logits, h = model(x, tone, intent, h, return_state=True)
        probs = torch.softmax(logits[:, -1].float().cpu() / temperature, -1)
        probs[:, :2] = 0  # never sample padding or <unk>
        token = torch.multinomial(probs, 1, generator=generator)[:, 0]
        token[done] = eos
        out.append(token)
        done |= token == eos
        if done.all():
            break
        x = token[:, None].to(device)
    ids = torch.stack(out, 1).tolist()
    replies = []
    for row in ids:
        row = row[: row.index(eos)] if eos in row else row
        replies.append(detokenize(vocab.decode(row)))
    return replies
