"""MLP speculator (Wertheimer et al., "Accelerating Production LLMs with Combined
Token/Embedding Speculators", 2024): `n_predict` small heads that run after the base model.
Head i takes the running state (at first the base model's last hidden state) and the embedding
of the token just before the one it guesses, and proposes the next token. Saved as
`config.json` + `model.safetensors` so the project can load it again."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from arctic_ray.registry import registered

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


@dataclass
class MLPSpeculatorSpec:
    emb_dim: int
    """Base model hidden size (the state the first head starts from)."""
    inner_dim: int
    vocab_size: int
    n_predict: int
    tie_weights: bool = True
    architecture: str = "MLPSpeculator"


class MLPSpeculator(nn.Module):
    def __init__(self, spec: MLPSpeculatorSpec):
        super().__init__()
        self.spec = spec
        n, d, v = spec.n_predict, spec.inner_dim, spec.vocab_size
        self.emb = nn.ModuleList(nn.Embedding(v, d) for _ in range(n))
        self.proj = nn.ModuleList(nn.Linear(spec.emb_dim if i == 0 else d, d, bias=False) for i in range(n))
        self.ln = nn.ModuleList(nn.LayerNorm(d) for _ in range(n))
        self.head = nn.ModuleList(nn.Linear(d, v, bias=False) for _ in range(n))
        # Keep the state and the token embedding at comparable scale as heads are chained.
        self.state_weight = 0.5 ** (0.5 / n)
        self.emb_weight = math.sqrt((1 - self.state_weight**2) * (d / 2))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        d = self.spec.inner_dim
        for emb in self.emb:
            nn.init.normal_(emb.weight, std=1 / math.sqrt(d))
        for lin in [*self.proj, *self.head]:
            nn.init.normal_(lin.weight, std=1 / math.sqrt(lin.in_features))
        for ln in self.ln:
            nn.init.ones_(ln.weight)
            nn.init.zeros_(ln.bias)

    def tie_to_base(self, base: nn.Module) -> None:
        """Copy the base model's input embedding and LM head into every head, frozen."""
        if self.spec.inner_dim != self.spec.emb_dim:
            raise ValueError("tie_weights needs inner_dim equal to the base hidden size")
        embed = base.get_input_embeddings().weight.detach()
        lm_head = base.get_output_embeddings().weight.detach()
        for i in range(self.spec.n_predict):
            self.emb[i].weight.data.copy_(embed)
            self.head[i].weight.data.copy_(lm_head)
            self.emb[i].weight.requires_grad_(False)
            self.head[i].weight.requires_grad_(False)

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

    def save(self, path: str | Path) -> Path:
        from safetensors.torch import save_file

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / CONFIG_FILE).write_text(json.dumps(asdict(self.spec), indent=2))
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        save_file(state, str(path / WEIGHTS_FILE), metadata={"format": "pt"})
        return path

    @classmethod
    def load(cls, path: str | Path) -> "MLPSpeculator":
        from safetensors.torch import load_file

        path = Path(path)
        spec = MLPSpeculatorSpec(**json.loads((path / CONFIG_FILE).read_text()))
        model = cls(spec)
        model.load_state_dict(load_file(str(path / WEIGHTS_FILE)))
        return model


@registered("speculator", "mlp")
def build_mlp_speculator(base: nn.Module, n_predict: int, inner_dim: int | None, tie_weights: bool, seed: int) -> MLPSpeculator:
    cfg = base.config
    torch.manual_seed(seed)
    spec = MLPSpeculatorSpec(
        emb_dim=cfg.hidden_size,
        inner_dim=inner_dim or cfg.hidden_size,
        vocab_size=cfg.vocab_size,
        n_predict=n_predict,
        tie_weights=tie_weights,
    )
    model = MLPSpeculator(spec)
    if tie_weights:
        model.tie_to_base(base)
    return model
