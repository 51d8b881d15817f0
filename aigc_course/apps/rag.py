"""Retrieval-augmented generation at toy scale: a small Transformer that reads the passage.

The retriever (:mod:`.retrieval`) picks a passage from the document store; the generator
(:class:`CopyGenerator`: a small :class:`aigc_course.models.gpt.GPT` with a copy head) reads the
passage *text* and the question and writes the reply, one word at a time::

    <bos> [passage] <q> [question] <formal>   [reply] <eos>
    └─ the prompt, left-padded to a fixed length ─┘ └ loss only here ┘

It is trained on many *random shops* (:func:`~aigc_course.data.customer_service.
random_policy`): the same documents with other numbers in them (a return window of 17 days, a
fee of $6.95...). No number can be memorised, so the model learns to copy the facts from the
passage it is given — and an edited document changes the replies without retraining.
Without a passage (the ``<none>`` token) it must guess: that is the ungrounded baseline.

Words are tokens, and so are numbers and prices: the model can copy a number only if it is in
its vocabulary (0–199, usual prices); a production system's subword tokens copy anything.

Shapes: token ids ``[B, T]`` (``torch.long``, padding id 0); log-probabilities ``[B, T, V]``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..models.gpt import GPT, GPTConfig, KVCache
from ..validation import check_int, check_number, check_tensor

PAD, UNK, BOS, EOS, QUESTION, NO_PASSAGE = "<pad>", "<unk>", "<bos>", "<eos>", "<q>", "<none>"
SPECIALS = (PAD, UNK, BOS, EOS, QUESTION, NO_PASSAGE)

# Openers and closers in two tones (a third party could add more: the tones are just tokens).
TONES: dict[str, tuple[list[str], list[str]]] = {
    "formal": (
        ["Thank you for contacting us.", "We appreciate your message.",
         "Thank you for your enquiry.", "We are glad to assist you."],
        ["Kind regards, the support team.", "Please do not hesitate to contact us again.",
         "We remain at your disposal.", "Sincerely, customer care."],
    ),
    "friendly": (
        ["Hey there, happy to help!", "Great question!", "Thanks so much for asking!",
         "Hi! No worries at all."],
        ["Have an awesome day!", "Cheers, and enjoy your shopping!",
         "Hope that helps, take care!", "Ping us anytime!"],
    ),
}

_WORD = re.compile(r"<[^>\s]+>|\$?\d+(?:\.\d+)?|\w+(?:[-']\w+)*|[^\w\s]")
_FACT = re.compile(r"\$?\d+(?:\.\d+)?")


def tokenize(text: str) -> list[str]:
    """Words, numbers (``$4.95`` is one token), punctuation and ``<codes>`` as separate tokens."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    return _WORD.findall(text)


def detokenize(tokens: Sequence[str]) -> str:
    """Join tokens back into readable text (no space before punctuation, ``9:00`` kept whole)."""
    text = " ".join(tokens)
    text = re.sub(r" ([.,!?;:%)])", r"\1", text)
    text = re.sub(r"(\d): (\d\d)\b", r"\1:\2", text)
    return re.sub(r"([($]) ", r"\1", text).replace(" ' ", "'")


def facts(text: str) -> list[str]:
    """The facts a customer acts on: the numbers and prices in ``text`` (``["30", "$4.95"]``)."""
    return _FACT.findall(text)


def states_facts(reply: str, passage: str) -> bool:
    """``True`` when every fact of ``passage`` appears in ``reply`` (fact accuracy)."""
    return set(facts(passage)) <= set(facts(reply))


def faithful(reply: str, passage: str) -> bool:
    """``True`` when every fact in ``reply`` appears in ``passage`` (nothing made up)."""
    return set(facts(reply)) <= set(facts(passage))


def states_new_facts(reply: str, old_passage: str, new_passage: str) -> bool:
    """After an edit of a document: ``reply`` states the new facts and none of the replaced ones.

    >>> states_new_facts("Returns within 45 days.", "within 30 days", "within 45 days")
    True
    """
    old, new, said = set(facts(old_passage)), set(facts(new_passage)), set(facts(reply))
    if old == new:
        raise ValueError("the two passages state the same facts: nothing was changed")
    return new - old <= said and not (old - new) & said


@dataclass(frozen=True)
class Example:
    """One training or test case; ``passage`` is ``None`` for an ungrounded request."""

    passage: str | None
    question: str
    tone: str
    reply: str = ""


def training_examples(n_shops: int, seed: int = 0, ungrounded_share: float = 0.2) -> list[Example]:
    """One example per intent of ``n_shops`` random shops (25 × ``n_shops`` examples).

    Each shop is :func:`~aigc_course.data.faq_knowledge_base` with a :func:`random_policy`;
    the reply is an opener in a random tone + the passage + a closer. ``ungrounded_share`` of
    the examples get no passage, so the same model can also answer without retrieval. The
    shops' questions come from the same templates as the test shop's (with other products and
    greetings): it is the retriever, not the generator, that is tested on unseen paraphrases.
    """
    from ..data.customer_service import faq_knowledge_base, random_policy

    check_int("n_shops", n_shops)
    check_number("ungrounded_share", ungrounded_share, 0.0, 1.0)
    rng = random.Random(f"rag-{seed}")
    out = []
    for _ in range(n_shops):
        kb = faq_knowledge_base(rng.randrange(10**6), policy=random_policy(rng))
        for e in kb:
            tone = rng.choice(sorted(TONES))
            openers, closers = TONES[tone]
            reply = f"{rng.choice(openers)} {e.answer} {rng.choice(closers)}"
            passage = None if rng.random() < ungrounded_share else e.answer
            question = rng.choice(e.questions)
            out.append(Example(passage, question, tone, reply))
    return out


class Vocab:
    """Token ↔ id maps; id 0 is padding, unknown words map to ``<unk>`` (id 1)."""

    def __init__(self, tokens: Sequence[str]):
        self.itos = list(SPECIALS) + [t for t in dict.fromkeys(tokens) if t not in SPECIALS]
        self.stoi = {t: i for i, t in enumerate(self.itos)}

    @classmethod
    def build(cls, examples: Sequence[Example]) -> Vocab:
        """Every token of the examples, the tone tokens, the numbers 0–199 and prices."""
        words = {t for ex in examples
                 for text in (ex.passage or "", ex.question, ex.reply) for t in tokenize(text)}
        numbers = {str(i) for i in range(200)}
        prices = {f"${d}.{c}" for d in range(1, 30) for c in ("00", "49", "50", "95", "99")}
        prices |= {f"${d}" for d in range(5, 505, 5)}
        tones = {f"<{t}>" for t in TONES}
        return cls(sorted(words | numbers | prices | tones))

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens: Sequence[str]) -> list[int]:
        return [self.stoi.get(t, 1) for t in tokens]

    def decode(self, ids: Sequence[int]) -> list[str]:
        return [self.itos[i] for i in ids]


def prompt_tokens(ex: Example) -> list[str]:
    """``<bos> passage <q> question <tone>`` (``<none>`` stands for a missing passage)."""
    if ex.tone not in TONES:
        raise ValueError(f"tone must be one of {sorted(TONES)}, got {ex.tone!r}")
    passage = tokenize(ex.passage) if ex.passage is not None else [NO_PASSAGE]
    return [BOS, *passage, QUESTION, *tokenize(ex.question), f"<{ex.tone}>"]


def encode_examples(examples: Sequence[Example], vocab: Vocab, prompt_len: int,
                    reply_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)`` of shape ``[N, prompt_len + reply_len - 1]``: inputs and next-token targets.

    Prompts are left-padded to ``prompt_len`` (so every reply starts at the same position,
    in training and in :func:`generate`); targets are 0 (ignored) except on reply tokens.
    """
    n = prompt_len + reply_len
    ids = torch.zeros(len(examples), n, dtype=torch.long)
    keep = torch.zeros(len(examples), n, dtype=torch.bool)
    for i, ex in enumerate(examples):
        prompt = vocab.encode(prompt_tokens(ex))
        reply = vocab.encode([*tokenize(ex.reply), EOS])
        if len(prompt) > prompt_len or len(reply) > reply_len:
            raise ValueError(f"example {i} is too long: prompt {len(prompt)} > {prompt_len} or "
                             f"reply {len(reply)} > {reply_len}")
        ids[i, prompt_len - len(prompt):prompt_len] = torch.tensor(prompt)
        ids[i, prompt_len:prompt_len + len(reply)] = torch.tensor(reply)
        keep[i, prompt_len:prompt_len + len(reply)] = True
    y = torch.where(keep, ids, 0)
    return ids[:, :-1].contiguous(), y[:, 1:].contiguous()


class CopyGenerator(nn.Module):
    """A small :class:`GPT` with a *copy head* (a pointer over the prompt).

    At each reply position the model mixes two distributions over the vocabulary: the GPT's
    usual next-token softmax, and a copy distribution that attends over the prompt and copies
    the token *after* the prompt position whose context matches the current one (the
    induction-head pattern, built in). A learned gate ``g`` weighs them::

        p(w) = g · softmax(head(h_t))[w] + (1 − g) · Σ_j a_tj [prompt_j = w]

    ``forward(x [B, prompt_len + reply_len - 1]) -> log-probabilities [B, reply_len, V]`` of
    the reply tokens (positions ``prompt_len - 1`` onwards).
    """

    def __init__(self, vocab_size: int, prompt_len: int = 72, reply_len: int = 64,
                 n_layer: int = 2, n_head: int = 4, n_embd: int = 64):
        super().__init__()
        self.prompt_len = check_int("prompt_len", prompt_len, low=2)
        self.reply_len = check_int("reply_len", reply_len)
        self.gpt = GPT(GPTConfig(vocab_size, n_ctx=prompt_len + reply_len, n_layer=n_layer,
                                 n_head=n_head, n_embd=n_embd))
        self.query, self.key = nn.Linear(n_embd, n_embd), nn.Linear(n_embd, n_embd)
        self.gate = nn.Linear(n_embd, 1)

    def hidden(self, idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """The GPT's last hidden states ``[B, T, C]`` (its forward pass without the head)."""
        g, start = self.gpt, 0 if cache is None else len(cache)
        pos = torch.arange(start, start + idx.shape[1], device=idx.device)
        x = g.tok_emb(idx) + g.pos_emb(pos)
        for i, block in enumerate(g.blocks):
            x = block(x, cache, i)
        return g.ln_f(x)

    def mix(self, h: torch.Tensor, h_prompt: torch.Tensor, prompt: torch.Tensor) -> torch.Tensor:
        """Log-probabilities ``[B, T, V]`` for queries ``h [B, T, C]``.

        ``h_prompt [B, P, C]`` and ``prompt [B, P]``: position ``j`` of the prompt offers to copy
        ``prompt[:, j + 1]``, keyed by its context ``h_prompt[:, j]``.
        """
        keys, values = self.key(h_prompt[:, :-1]), prompt[:, 1:]
        scores = self.query(h) @ keys.transpose(1, 2) / keys.shape[-1] ** 0.5  # [B, T, P - 1]
        special = (values < len(SPECIALS))[:, None]  # never copy padding, <bos>, <q>, <none>...
        scores = scores.masked_fill(special, float("-inf"))
        attn = torch.softmax(scores, -1)
        copy = torch.zeros(*h.shape[:2], self.gpt.cfg.vocab_size, device=h.device, dtype=h.dtype)
        copy.scatter_add_(2, values[:, None].expand_as(attn), attn)
        g = torch.sigmoid(self.gate(h))
        return torch.log(g * torch.softmax(self.gpt.head(h), -1) + (1 - g) * copy + 1e-9)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor("x", x, dim=2, floating=False)
        h = self.hidden(x)
        p = self.prompt_len
        return self.mix(h[:, p - 1:], h[:, :p], x[:, :p])


def lm_step(grad_clip: float | None = 1.0):
    """A :func:`aigc_course.train.fit` step for ``(x, y)`` batches (loss on the replies only)."""
    from ..train import clip_and_step

    def step(model, batch, optimizer):
        x, y = batch
        loss = F.nll_loss(model(x).flatten(0, 1), y[:, model.prompt_len - 1:].flatten(),
                          ignore_index=0)
        clip_and_step(loss, optimizer, model.parameters(), grad_clip)
        return {"loss": loss.detach()}

    return step


@torch.no_grad()
def generate(model: CopyGenerator, vocab: Vocab, requests: Sequence[Example]) -> list[str]:
    """Greedy replies to ``requests`` (their ``reply`` is ignored), all in one batch."""
    requests = list(requests)
    if not requests or not all(isinstance(r, Example) for r in requests):
        raise ValueError("requests must be a non-empty list of rag.Example")
    was_training = model.training
    model.eval()
    p, device = model.prompt_len, next(model.parameters()).device
    ids = torch.zeros(len(requests), p, dtype=torch.long)
    for i, ex in enumerate(requests):
        prompt = vocab.encode(prompt_tokens(ex))[-p:]  # an over-long prompt loses its start
        ids[i, p - len(prompt):] = torch.tensor(prompt)
    ids = ids.to(device)
    cache = KVCache(model.gpt.cfg.n_layer)
    h_prompt = model.hidden(ids, cache)
    h, out, eos = h_prompt[:, -1:], [], vocab.stoi[EOS]
    done = torch.zeros(len(requests), 1, dtype=torch.bool, device=device)
    for _ in range(model.reply_len - 1):
        token = model.mix(h, h_prompt, ids)[:, -1].argmax(-1, keepdim=True)
        out.append(token)
        done |= token == eos
        if done.all():
            break
        h = model.hidden(token, cache)
    rows = torch.cat(out, 1).tolist()
    model.train(was_training)
    return [detokenize(vocab.decode(r[: r.index(eos)] if eos in r else r)) for r in rows]


def answer(questions: Sequence[str], retriever, store: dict[str, str], model: CopyGenerator,
           vocab: Vocab, tone: str = "formal") -> list[tuple[str, str | None]]:
    """The whole pipeline, one ``(reply, passage)`` per question (generated in one batch).

    Retrieve the best document id, look its text up in ``store`` (id → passage; edit it to
    change what the assistant says) and generate from it; below the retriever's threshold,
    reply with its fixed refusal and no passage.
    """
    if isinstance(questions, str):
        raise TypeError("questions must be a list of strings, not one string")
    hits = [retriever.answer(q) for q in questions]
    passages = [None if h.intent is None else store[h.intent] for h in hits]
    todo = [i for i, p in enumerate(passages) if p is not None]
    replies = [h.text for h in hits]
    if todo:
        made = generate(model, vocab, [Example(passages[i], questions[i], tone) for i in todo])
        for i, reply in zip(todo, made):
            replies[i] = reply
    return list(zip(replies, passages))
