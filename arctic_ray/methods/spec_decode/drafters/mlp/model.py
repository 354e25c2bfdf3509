"""MLP speculator (Wertheimer et al., "Accelerating Production LLMs with Combined
Token/Embedding Speculators", 2024), with the exact forward of Arctic Inference's
`ArcticMLPSpeculator`: `n_predict` small heads that run after the base model. Head i takes the
running state (at first the base model's last hidden state) and the embedding of the token just
before the one it guesses: `state = gelu(ln_i(proj_i(state) + emb_i(token) * emb_weight /
state_weight))`, where ln is Arctic's RMS norm with a weight and a bias."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import torch
from torch import nn
from torch.nn import functional as F

from arctic_ray.methods.spec_decode.drafters.drafter import Drafter, per_position


@dataclass
class MLPSpeculatorSpec:
    emb_dim: int
    """Base model hidden size (the state the first head starts from)."""
    inner_dim: int
    vocab_size: int
    n_predict: int
    tie_weights: bool = True
    """Heads start from the base's embeddings and LM head and keep them frozen."""


class ArcticLayerNorm(nn.Module):
    """Arctic Inference's MLPSpeculatorLayerNorm: RMS normalisation, then weight and bias."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x + self.bias


class MLPSpeculator(nn.Module):
    def __init__(self, spec: MLPSpeculatorSpec):
        super().__init__()
        self.spec = spec
        n, d, v = spec.n_predict, spec.inner_dim, spec.vocab_size
        self.emb = nn.ModuleList(nn.Embedding(v, d) for _ in range(n))
        self.proj = nn.ModuleList(nn.Linear(spec.emb_dim if i == 0 else d, d, bias=False) for i in range(n))
        self.ln = nn.ModuleList(ArcticLayerNorm(d) for _ in range(n))
        self.head = nn.ModuleList(nn.Linear(d, v, bias=False) for _ in range(n))
        # Keep the state and the token embedding at comparable scale as heads are chained.
        self.state_weight = 0.5 ** (0.5 / n)
        self.emb_weight = math.sqrt((1 - self.state_weight**2) * (d / 2))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        d = self.spec.inner_dim
        for emb in self.emb:
            nn.init.normal_(cast(nn.Embedding, emb).weight, std=1 / math.sqrt(d))
        for lin in cast(list[nn.Linear], [*self.proj, *self.head]):
            nn.init.normal_(lin.weight, std=1 / math.sqrt(lin.in_features))

    def tie_to_base(self, embed: torch.Tensor, lm_head: torch.Tensor) -> None:
        """Copy the base model's input embedding and LM head into every head, frozen."""
        if self.spec.inner_dim != self.spec.emb_dim:
            raise ValueError("tie_weights needs inner_dim equal to the base hidden size")
        for i in range(self.spec.n_predict):
            emb, head = cast(nn.Embedding, self.emb[i]), cast(nn.Linear, self.head[i])
            emb.weight.data.copy_(embed)
            head.weight.data.copy_(lm_head)
            emb.weight.requires_grad_(False)
            head.weight.requires_grad_(False)

    def advance(self, i: int, state: torch.Tensor, prev_tokens: torch.Tensor) -> torch.Tensor:
        """Head i's new running state from the current one and the previous token ids."""
        z = self.emb[i](prev_tokens)
        return F.gelu(self.ln[i](self.proj[i](state) + z * (self.emb_weight / self.state_weight)))

    def step(self, i: int, state: torch.Tensor, prev_tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Head i on its own: new state and logits."""
        state = self.advance(i, state, prev_tokens)
        return state, self.head[i](state)

    def states(self, hidden: torch.Tensor, input_ids: torch.Tensor) -> list[torch.Tensor]:
        """Teacher-forced running state of every head, before its output projection.

        hidden: [B, T, H], the base model's last hidden state at each position.
        input_ids: [B, T], the tokens. At position t head i is fed token t+1+i and guesses token
        t+2+i. Returns n_predict tensors [B, T-n_predict-1, D] for positions t = 0 .. T-n_predict-2
        (the last ones whose every target exists)."""
        n = self.spec.n_predict
        t_out = input_ids.shape[1] - n - 1
        state, out = hidden[:, :t_out], []
        for i in range(n):
            state = self.advance(i, state, input_ids[:, 1 + i : 1 + i + t_out])
            out.append(state)
        return out

    def forward(self, hidden: torch.Tensor, input_ids: torch.Tensor, valid: torch.Tensor | None = None):
        """Teacher-forced logits [n_predict, B, T-n_predict-1, V] (see `states`). With `valid`
        ([n_predict, B, T-n_predict-1] bool), a list of [N_i, V] logits at the valid positions
        only: the vocabulary projection dominates the cost, so prompt and padding skip it."""
        states = self.states(hidden, input_ids)
        if valid is None:
            return torch.stack([self.head[i](s) for i, s in enumerate(states)])
        return [self.head[i](s[valid[i]]) for i, s in enumerate(states)]

    @torch.no_grad()
    def propose(self, hidden: torch.Tensor, next_token: torch.Tensor) -> torch.Tensor:
        """Greedy proposals as at inference: each head is fed the previous head's guess.

        hidden: [N, H] states at the last accepted position; next_token: [N] the token the base
        model chose there. Returns [N, n_predict] proposed tokens."""
        state, prev, out = hidden, next_token, []
        for i in range(self.spec.n_predict):
            state, logits = self.step(i, state, prev)
            prev = logits.argmax(-1)
            out.append(prev)
        return torch.stack(out, dim=-1)

    @property
    def weight_dtype(self) -> torch.dtype:
        """The heads' parameter dtype, which the base's hidden states are cast to."""
        return cast(nn.Linear, self.proj[0]).weight.dtype


class MLPDrafter(MLPSpeculator, Drafter):
    """The MLP speculator as a drafter: trained on the base's final hidden state, exported in
    Arctic Inference's format (vLLM 0.32 itself no longer serves MLP speculators)."""

    def loss(self, base, features, batch):
        from arctic_ray.methods.spec_decode.drafters.mlp.objective import head_accuracy, head_targets, speculator_loss

        _, hidden = base.split(features)
        targets, valid = head_targets(batch["input_ids"], batch["in_completion"], self.spec.n_predict)
        logits = self(hidden.to(self.weight_dtype), batch["input_ids"], valid)
        loss, per_head = speculator_loss(logits, targets, valid)
        return loss, {
            **per_position("loss", per_head.detach()),
            **per_position("acc", head_accuracy(logits, targets, valid)),
        }

    def step_hits(self, base, features, batch):
        from arctic_ray.methods.spec_decode.drafters.mlp.objective import mlp_step_hits

        _, hidden = base.split(features)
        return mlp_step_hits(self, hidden.to(self.weight_dtype), batch["input_ids"], batch["in_completion"])
