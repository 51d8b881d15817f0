"""Acoustic models for text-to-speech: phoneme ids → log-mel spectrogram frames.

Two families, the two ideas behind most neural TTS systems:

* :class:`FastSpeech` (Ren et al., 2019; 2021): *non-autoregressive*. An encoder reads the
  phonemes, a duration predictor says how many frames each phoneme lasts, a length regulator
  repeats each phoneme's vector that many times, and a decoder turns the frames into mel bands,
  all frames at once. Training needs the durations (here: eSpeak NG's own timings).
* :class:`Tacotron2` (Shen et al., 2018): *autoregressive with attention*. The decoder produces
  one frame at a time and, at every step, attends over the phonemes to decide where it is in the
  sentence. It needs no durations, but must *learn* the alignment, which takes thousands of steps.

Shapes: phonemes ``[B, N]`` (0 = padding), durations ``[B, N]`` (frames), mels ``[B, T, 80]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .attention import sinusoidal_positions


def length_regulate(h: torch.Tensor, durations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Repeat phoneme vector ``i`` ``durations[:, i]`` times.

    ``h``: ``[B, N, D]``; ``durations``: ``[B, N]`` non-negative ints.
    Returns frames ``[B, T, D]`` with ``T = max total duration`` (zero padded) and ``n_frames [B]``.
    """
    if h.dim() != 3 or durations.shape != h.shape[:2]:
        raise ValueError(f"expected h [B, N, D] and durations [B, N], got {tuple(h.shape)} and "
                         f"{tuple(durations.shape)}")
    if durations.is_floating_point() or (durations < 0).any():
        raise ValueError("durations must be non-negative integers (frames per phoneme)")
    ends = durations.cumsum(dim=1)                       # [B, N] frame where each phoneme ends
    n_frames = ends[:, -1]
    t = torch.arange(max(int(n_frames.max()), 1), device=h.device)
    index = torch.searchsorted(ends, t.expand(len(h), -1).contiguous(), right=True)  # [B, T]
    index = index.clamp(max=h.shape[1] - 1)
    frames = torch.gather(h, 1, index[..., None].expand(-1, -1, h.shape[2]))
    return frames * (t[None, :] < n_frames[:, None])[..., None], n_frames


class FFTBlock(nn.Module):
    """FastSpeech's feed-forward Transformer block: self-attention, then a 1-D conv feed-forward."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, kernel: int, dropout: float):
        super().__init__()
        self.attn = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.conv1 = nn.Conv1d(d_model, d_ff, kernel, padding=kernel // 2)
        self.conv2 = nn.Conv1d(d_ff, d_model, 1)
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, pad_mask):  # x [B, L, D]; pad_mask [B, L], True at padding
        a, _ = self.attn(x, x, x, key_padding_mask=pad_mask, need_weights=False)
        x = self.norm1(x + self.dropout(a))
        f = self.conv2(F.relu(self.conv1(x.transpose(1, 2)))).transpose(1, 2)
        x = self.norm2(x + self.dropout(f))
        return x.masked_fill(pad_mask[..., None], 0.0)


class DurationPredictor(nn.Module):
    """Two conv layers → one number per phoneme: the predicted ``log(1 + frames)``."""

    def __init__(self, d_model: int, kernel: int = 3, dropout: float = 0.1):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv1d(d_model, d_model, kernel, padding=kernel // 2)
                                    for _ in range(2)])
        self.norms = nn.ModuleList([nn.LayerNorm(d_model) for _ in range(2)])
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(d_model, 1)

    def forward(self, x, pad_mask):
        for conv, norm in zip(self.convs, self.norms):
            x = self.dropout(norm(F.relu(conv(x.transpose(1, 2)).transpose(1, 2))))
        return self.out(x).squeeze(-1).masked_fill(pad_mask, 0.0)


@dataclass
class TTSOutput:
    """``mel [B, T, 80]``, ``log_durations [B, N]`` (predicted), ``durations [B, N]`` (used),
    ``n_frames [B]``."""

    mel: torch.Tensor
    log_durations: torch.Tensor
    durations: torch.Tensor
    n_frames: torch.Tensor


class FastSpeech(nn.Module):
    """phoneme embedding → encoder → duration predictor → length regulator → decoder → mel.

    Args:
        n_phonemes: vocabulary size (id 0 is padding).
        mel_mean: optional ``[n_mels]`` average frame; the output layer starts from it, so the
            untrained model already predicts the mean-spectrogram baseline.
    """

    def __init__(self, n_phonemes: int, n_mels: int = 80, d_model: int = 128, n_heads: int = 2,
                 d_ff: int = 256, kernel: int = 3, n_encoder: int = 2, n_decoder: int = 2,
                 dropout: float = 0.1, mel_mean: torch.Tensor | None = None):
        super().__init__()
        if n_phonemes < 2:
            raise ValueError(f"n_phonemes must be at least 2 (padding + one phoneme), got {n_phonemes}")
        self.config = {"n_phonemes": n_phonemes, "n_mels": n_mels, "d_model": d_model,
                       "n_heads": n_heads, "d_ff": d_ff, "kernel": kernel, "n_encoder": n_encoder,
                       "n_decoder": n_decoder, "dropout": dropout}
        self.embed = nn.Embedding(n_phonemes, d_model, padding_idx=0)
        self.encoder = nn.ModuleList([FFTBlock(d_model, n_heads, d_ff, kernel, dropout)
                                      for _ in range(n_encoder)])
        self.duration_predictor = DurationPredictor(d_model, kernel, dropout)
        self.decoder = nn.ModuleList([FFTBlock(d_model, n_heads, d_ff, kernel, dropout)
                                      for _ in range(n_decoder)])
        self.to_mel = nn.Linear(d_model, n_mels)
        if mel_mean is not None:
            with torch.no_grad():
                self.to_mel.bias.copy_(torch.as_tensor(mel_mean, dtype=torch.float32))

    def forward(self, phonemes: torch.Tensor, durations: torch.Tensor | None = None,
                pace: float = 1.0) -> TTSOutput:
        """Teacher-forced with ``durations`` (training); else uses the predicted durations / ``pace``."""
        if phonemes.dim() != 2:
            raise ValueError(f"phonemes must be [batch, length] ids, got shape {tuple(phonemes.shape)}")
        pad = phonemes == 0
        positions = sinusoidal_positions(phonemes.shape[1], self.embed.embedding_dim)
        x = self.embed(phonemes) + positions.to(phonemes.device)
        for block in self.encoder:
            x = block(x, pad)
        log_dur = self.duration_predictor(x, pad)
        if durations is None:
            durations = torch.clamp(torch.round((torch.exp(log_dur) - 1) / pace), min=0).long()
            durations = durations.masked_fill(pad, 0)
        frames, n_frames = length_regulate(x, durations)
        frame_pad = torch.arange(frames.shape[1], device=frames.device)[None] >= n_frames[:, None]
        y = frames + sinusoidal_positions(frames.shape[1], frames.shape[2]).to(frames.device)
        for block in self.decoder:
            y = block(y, frame_pad)
        return TTSOutput(self.to_mel(y), log_dur, durations, n_frames)


def fastspeech_step(model, batch, optimizer, grad_clip: float = 1.0) -> dict:
    """A training step for :func:`aigc_course.train.fit`: batches from ``SpeechCorpus.loader``."""
    from ..train import clip_and_step

    phonemes, durations, mel, n_phonemes, n_frames = batch
    out = model(phonemes, durations)
    frame_mask = torch.arange(mel.shape[1], device=mel.device)[None] < n_frames[:, None]
    ph_mask = torch.arange(phonemes.shape[1], device=mel.device)[None] < n_phonemes[:, None]
    mel_l1 = (out.mel - mel).abs().mean(-1)[frame_mask].mean()
    dur_mse = (out.log_durations - torch.log1p(durations.float()))[ph_mask].pow(2).mean()
    loss = mel_l1 + dur_mse
    clip_and_step(loss, optimizer, model.parameters(), grad_clip)
    return {"loss": loss.detach(), "mel_l1": mel_l1.detach(), "duration_mse": dur_mse.detach()}


@torch.no_grad()
def evaluate_fastspeech(model: nn.Module, batches) -> dict:
    """Held-out ``mel_l1`` (with the true durations, so frames line up) and ``duration_mae``
    (frames per phoneme, from the duration predictor). Means over all frames × bands / phonemes."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    l1_sum, n_values, dur_err, n_ph = 0.0, 0, 0.0, 0
    for phonemes, durations, mel, n_phonemes, n_frames in batches:
        phonemes, durations, mel = phonemes.to(device), durations.to(device), mel.to(device)
        n_phonemes, n_frames = n_phonemes.to(device), n_frames.to(device)
        out = model(phonemes, durations)
        frame_mask = torch.arange(mel.shape[1], device=device)[None] < n_frames[:, None]
        ph_mask = torch.arange(phonemes.shape[1], device=device)[None] < n_phonemes[:, None]
        l1_sum += float((out.mel - mel).abs()[frame_mask].sum())
        n_values += int(frame_mask.sum()) * mel.shape[2]
        predicted = torch.clamp(torch.round(torch.exp(out.log_durations) - 1), min=0)
        dur_err += float((predicted - durations)[ph_mask].abs().sum())
        n_ph += int(ph_mask.sum())
    model.train(was_training)
    if n_values == 0:
        raise ValueError("evaluation data is empty")
    return {"mel_l1": l1_sum / n_values, "duration_mae": dur_err / n_ph}


# --------------------------------------------------------------------------- Tacotron 2
class LocationSensitiveAttention(nn.Module):
    """Tacotron 2's attention: content (query vs. encoder memory) plus *location* features,
    a convolution over the cumulative attention so far, which nudges it to move forward."""

    def __init__(self, query_dim: int, memory_dim: int, attn_dim: int = 128,
                 n_filters: int = 32, kernel: int = 31):
        super().__init__()
        self.query = nn.Linear(query_dim, attn_dim, bias=False)
        self.memory = nn.Linear(memory_dim, attn_dim, bias=False)
        self.location_conv = nn.Conv1d(2, n_filters, kernel, padding=kernel // 2, bias=False)
        self.location = nn.Linear(n_filters, attn_dim, bias=False)
        self.score = nn.Linear(attn_dim, 1, bias=True)

    def forward(self, query, memory, processed_memory, weights, cumulative, pad_mask):
        """query ``[B, Q]``; memory ``[B, N, M]``; weights, cumulative ``[B, N]`` → (context ``[B, M]``,
        new weights ``[B, N]``)."""
        loc = self.location(self.location_conv(torch.stack([weights, cumulative], 1)).transpose(1, 2))
        energy = self.score(torch.tanh(self.query(query)[:, None] + processed_memory + loc)).squeeze(-1)
        new_weights = torch.softmax(energy.masked_fill(pad_mask, -1e9), dim=1)
        return torch.bmm(new_weights[:, None], memory).squeeze(1), new_weights


class Tacotron2(nn.Module):
    """A small Tacotron 2: conv + BiLSTM encoder, location-sensitive attention, an autoregressive
    two-LSTM decoder with a pre-net, a stop-token head and a convolutional post-net.

    ``forward`` (teacher forcing) returns ``mel_before [B, T, 80]``, ``mel_after [B, T, 80]``,
    ``stop_logits [B, T]`` and the attention ``alignments [B, T // r, N]``; ``T`` must be a multiple
    of the reduction factor ``r`` (frames produced per decoder step).
    """

    def __init__(self, n_phonemes: int, n_mels: int = 80, d_model: int = 128, rnn_dim: int = 256,
                 prenet_dim: int = 128, reduction: int = 2, postnet_dim: int = 128):
        super().__init__()
        if n_phonemes < 2:
            raise ValueError(f"n_phonemes must be at least 2 (padding + one phoneme), got {n_phonemes}")
        self.n_mels, self.r, self.rnn_dim = n_mels, reduction, rnn_dim
        self.embed = nn.Embedding(n_phonemes, d_model, padding_idx=0)
        self.convs = nn.Sequential(*[nn.Sequential(nn.Conv1d(d_model, d_model, 5, padding=2),
                                                   nn.BatchNorm1d(d_model), nn.ReLU(), nn.Dropout(0.5))
                                     for _ in range(3)])
        self.blstm = nn.LSTM(d_model, d_model // 2, batch_first=True, bidirectional=True)
        self.prenet = nn.ModuleList([nn.Linear(n_mels, prenet_dim), nn.Linear(prenet_dim, prenet_dim)])
        self.attention_rnn = nn.LSTMCell(prenet_dim + d_model, rnn_dim)
        self.attention = LocationSensitiveAttention(rnn_dim, d_model)
        self.decoder_rnn = nn.LSTMCell(rnn_dim + d_model, rnn_dim)
        self.frame_out = nn.Linear(rnn_dim + d_model, n_mels * reduction)
        self.stop_out = nn.Linear(rnn_dim + d_model, reduction)
        layers, ch = [], n_mels
        for i in range(5):
            out_ch = n_mels if i == 4 else postnet_dim
            layers += [nn.Conv1d(ch, out_ch, 5, padding=2), nn.BatchNorm1d(out_ch)]
            layers += [nn.Tanh(), nn.Dropout(0.5)] if i < 4 else [nn.Dropout(0.5)]
            ch = out_ch
        self.postnet = nn.Sequential(*layers)

    def encode(self, phonemes):
        x = self.convs(self.embed(phonemes).transpose(1, 2)).transpose(1, 2)
        return self.blstm(x)[0]  # [B, N, d_model]

    def _prenet(self, frame):  # dropout stays on at inference too, as in the paper
        for layer in self.prenet:
            frame = F.dropout(F.relu(layer(frame)), 0.5, training=True)
        return frame

    def _decode_step(self, frame, state, memory, processed, pad_mask):
        (ah, ac_), (dh, dc), context, weights, cumulative = state
        ah, ac_ = self.attention_rnn(torch.cat([self._prenet(frame), context], -1), (ah, ac_))
        context, weights = self.attention(ah, memory, processed, weights, cumulative, pad_mask)
        dh, dc = self.decoder_rnn(torch.cat([ah, context], -1), (dh, dc))
        out = torch.cat([dh, context], -1)
        state = ((ah, ac_), (dh, dc), context, weights, cumulative + weights)
        return self.frame_out(out), self.stop_out(out), state

    def _initial_state(self, memory):
        b, n, m = memory.shape
        z = memory.new_zeros(b, self.rnn_dim)
        return (z, z), (z, z), memory.new_zeros(b, m), memory.new_zeros(b, n), memory.new_zeros(b, n)

    def forward(self, phonemes: torch.Tensor, mels: torch.Tensor):
        if mels.dim() != 3 or mels.shape[2] != self.n_mels or mels.shape[1] % self.r:
            raise ValueError(f"mels must be [B, T, {self.n_mels}] with T a multiple of {self.r}, "
                             f"got {tuple(mels.shape)}")
        memory, pad_mask = self.encode(phonemes), phonemes == 0
        processed = self.attention.memory(memory)
        b, t, _ = mels.shape
        previous = torch.cat([mels.new_zeros(b, 1, self.n_mels), mels[:, self.r - 1:-1:self.r]], 1)
        state, frames, stops, aligns = self._initial_state(memory), [], [], []
        for i in range(t // self.r):  # teacher forcing: feed the true previous frame
            frame, stop, state = self._decode_step(previous[:, i], state, memory, processed, pad_mask)
            frames.append(frame)
            stops.append(stop)
            aligns.append(state[3])
        mel_before = torch.stack(frames, 1).reshape(b, t, self.n_mels)
        mel_after = mel_before + self.postnet(mel_before.transpose(1, 2)).transpose(1, 2)
        return mel_before, mel_after, torch.stack(stops, 1).reshape(b, t), torch.stack(aligns, 1)

    @torch.no_grad()
    def infer(self, phonemes: torch.Tensor, max_frames: int = 1000, threshold: float = 0.5):
        """Greedy autoregressive synthesis of one utterance ``phonemes [1, N]`` → ``(mel [1, T, 80],
        alignments [1, T // r, N])``; stops when the stop token fires or at ``max_frames``."""
        if phonemes.dim() != 2 or phonemes.shape[0] != 1:
            raise ValueError(f"infer takes one utterance [1, N], got {tuple(phonemes.shape)}")
        memory, pad_mask = self.encode(phonemes), phonemes == 0
        processed = self.attention.memory(memory)
        state, frame = self._initial_state(memory), memory.new_zeros(1, self.n_mels)
        frames, aligns = [], []
        for _ in range(max_frames // self.r):
            out, stop, state = self._decode_step(frame, state, memory, processed, pad_mask)
            frames.append(out.view(1, self.r, self.n_mels))
            aligns.append(state[3])
            frame = frames[-1][:, -1]
            if torch.sigmoid(stop[0, -1]) > threshold:
                break
        mel = torch.cat(frames, 1)
        return mel + self.postnet(mel.transpose(1, 2)).transpose(1, 2), torch.stack(aligns, 1)


def pad_to_multiple(mel: torch.Tensor, r: int, floor: float = math.log(1e-5)) -> torch.Tensor:
    """Pad ``mel [B, T, 80]`` with silence (log-mel ``floor``): ``T`` becomes a multiple of ``r``."""
    extra = (-mel.shape[1]) % r
    return F.pad(mel, (0, 0, 0, extra), value=floor) if extra else mel


def tacotron_step(model, batch, optimizer, grad_clip: float = 1.0) -> dict:
    """A :func:`aigc_course.train.fit` step for :class:`Tacotron2` on ``SpeechCorpus.loader`` batches:
    L1 of the mel before and after the post-net, plus the stop-token cross-entropy."""
    from ..train import clip_and_step

    phonemes, _durations, mel, _n_phonemes, n_frames = batch
    mel = pad_to_multiple(mel, model.r)
    before, after, stop_logits, _ = model(phonemes, mel)
    mask = torch.arange(mel.shape[1], device=mel.device)[None] < n_frames[:, None]
    stop_target = (torch.arange(mel.shape[1], device=mel.device)[None] >= n_frames[:, None] - 1).float()
    mel_l1 = ((before - mel).abs() + (after - mel).abs()).mean(-1)[mask].mean() / 2
    stop = F.binary_cross_entropy_with_logits(stop_logits, stop_target)
    loss = mel_l1 + stop
    clip_and_step(loss, optimizer, model.parameters(), grad_clip)
    return {"loss": loss.detach(), "mel_l1": mel_l1.detach(), "stop_bce": stop.detach()}


@torch.no_grad()
def tacotron_alignments(model: Tacotron2, phonemes: torch.Tensor,
                        mels: torch.Tensor) -> torch.Tensor:
    """The teacher-forced attention ``[B, T // r, N]`` of ``model`` (in eval mode), on the CPU.

    ``phonemes [B, N]`` and ``mels [B, T, 80]`` (``T`` a multiple of ``model.r``) may live on any
    device: they are moved to the model's, so this works after :func:`~aigc_course.train.fit` has
    put the model on a GPU."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    alignments = model(phonemes.to(device), mels.to(device))[3]
    model.train(was_training)
    return alignments.cpu()
