"""EAGLE-3 drafter (Li et al., "EAGLE-3: Scaling up Inference Acceleration of Large Language
Models via Training-Time Test", 2025), laid out exactly as vLLM's `Eagle3LlamaForCausalLM` runs it.

One Llama decoder layer whose attention reads `cat(input_layernorm(embed(token)),
hidden_norm(h))` (2H wide). At the first draft step `h = fc(cat(three base layers' hidden
states))`; at later steps `h` is the layer's own pre-norm output from the step before. Logits
come from `lm_head(norm(h))` over a reduced draft vocabulary; `d2t[i]` maps draft index i to
target id `i + d2t[i]`. Token embeddings are the base model's (vLLM shares them).

Training-time test: `steps` draft steps run in parallel over a whole sequence. The query of step
j at index t (sequence position t + j) attends to the step-0 keys at indices <= t (what vLLM's
drafter KV cache holds for accepted tokens) and to its own earlier steps' keys at index t (the
drafts it made itself), so later steps learn on the drafter's own hidden states, as at inference."""

from __future__ import annotations

from typing import cast

import torch
from torch import nn
from torch.nn import functional as F
from transformers import LlamaConfig
from transformers.models.llama.modeling_llama import (
    LlamaMLP,
    LlamaRMSNorm,
    LlamaRotaryEmbedding,
    apply_rotary_pos_emb,
)

from arctic_ray.methods.spec_decode.drafters.drafter import Drafter, per_position


class Eagle3Attention(nn.Module):
    def __init__(self, config: LlamaConfig):
        super().__init__()
        h, self.n_heads = config.hidden_size, config.num_attention_heads
        # LlamaConfig's post-init fills these in when the config leaves them out
        self.n_kv = cast(int, config.num_key_value_heads)
        self.head_dim = cast(int, config.head_dim)
        self.q_proj = nn.Linear(2 * h, self.n_heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(2 * h, self.n_kv * self.head_dim, bias=False)
        self.v_proj = nn.Linear(2 * h, self.n_kv * self.head_dim, bias=False)
        self.o_proj = nn.Linear(self.n_heads * self.head_dim, h, bias=False)

    def project(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
        """Rotated queries and keys, and values: [B, heads, T, head_dim]."""
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.n_kv, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.n_kv, self.head_dim).transpose(1, 2)
        q, k = apply_rotary_pos_emb(q, k, cos, sin)
        return q, k, v

    def attend(self, q, keys, values, mask) -> torch.Tensor:
        out = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask, enable_gqa=self.n_kv != self.n_heads)
        b, _, t, _ = out.shape
        return self.o_proj(out.transpose(1, 2).reshape(b, t, -1))


def ttt_mask(seq_len: int, step: int, device) -> torch.Tensor:
    """[T, (step+1)*T] bool: causal over the step-0 block, diagonal over each later block."""
    idx = torch.arange(seq_len, device=device)
    blocks = [idx[None, :] <= idx[:, None]]
    blocks += [idx[None, :] == idx[:, None]] * step
    return torch.cat(blocks, dim=1)


class Eagle3Drafter(Drafter):
    """`config` is the drafter's own Llama config plus `draft_vocab_size`, `target_hidden_size`,
    `eagle_aux_hidden_state_layer_ids`, `norm_before_residual` (False), `ttt_steps` (the depth
    trained) and `judged_steps` (n_predict: the depth served and judged)."""

    d2t: torch.Tensor
    t2d: torch.Tensor

    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.config = config
        h, eps = config.hidden_size, config.rms_norm_eps
        n_aux = len(config.eagle_aux_hidden_state_layer_ids)
        self.fc = nn.Linear(n_aux * config.target_hidden_size, h, bias=False)
        self.input_layernorm = LlamaRMSNorm(h, eps=eps)
        self.hidden_norm = LlamaRMSNorm(h, eps=eps)
        self.self_attn = Eagle3Attention(config)
        self.post_attention_layernorm = LlamaRMSNorm(h, eps=eps)
        self.mlp = LlamaMLP(config)
        self.norm = LlamaRMSNorm(h, eps=eps)
        self.lm_head = nn.Linear(h, config.draft_vocab_size, bias=False)
        self.rotary = LlamaRotaryEmbedding(config)
        # draft index -> target id offset, and which target ids the draft vocabulary holds
        self.register_buffer("d2t", torch.zeros(config.draft_vocab_size, dtype=torch.long))
        self.register_buffer("t2d", torch.ones(config.vocab_size, dtype=torch.bool))

    @property
    def draft_ids(self) -> torch.Tensor:
        """Target token id of each draft index."""
        return torch.arange(self.config.draft_vocab_size, device=self.d2t.device) + self.d2t

    def set_draft_vocab(self, draft_ids: torch.Tensor) -> None:
        """`draft_ids`: sorted target ids, one per draft index."""
        draft_ids = draft_ids.to(self.d2t.device)
        self.d2t.copy_(draft_ids - torch.arange(len(draft_ids), device=draft_ids.device))
        self.t2d.zero_()
        self.t2d[draft_ids] = True

    def layer(self, h, embeds, positions, keys, values, step):
        """One decoder-layer pass of draft step `step`; extends `keys`/`values` in place."""
        x = torch.cat([self.input_layernorm(embeds), self.hidden_norm(h)], dim=-1)
        cos, sin = self.rotary(x, positions)
        q, k, v = self.self_attn.project(x, cos, sin)
        keys.append(k)
        values.append(v)
        mask = ttt_mask(h.shape[1], step, h.device)
        r = h + self.self_attn.attend(q, torch.cat(keys, dim=2), torch.cat(values, dim=2), mask)
        return r + self.mlp(self.post_attention_layernorm(r))

    def forward(self, aux: torch.Tensor, input_ids: torch.Tensor, embed: nn.Module, steps: int) -> list[torch.Tensor]:
        """Training-time test over whole sequences.

        aux: [B, T, 3*H_target], the base's hidden states after the aux layers at each position.
        input_ids: [B, T]. At index t, step j reads token t+1+j and predicts token t+2+j.
        Returns `steps` tensors [B, T, H]: the normed outputs, ready for `lm_head`."""
        b, t = input_ids.shape
        h = self.fc(aux)
        padded = F.pad(input_ids, (0, steps))
        positions = torch.arange(t, device=input_ids.device)[None].expand(b, t)
        keys, values, outputs = [], [], []
        for j in range(steps):
            embeds = embed(padded[:, 1 + j : 1 + j + t]).to(h.dtype)
            h = self.layer(h, embeds, positions + j, keys, values, j)
            outputs.append(self.norm(h))
        return outputs

    def to_target_ids(self, draft_index: torch.Tensor) -> torch.Tensor:
        return draft_index + self.d2t[draft_index]

    def draft_index(self, target_ids: torch.Tensor) -> torch.Tensor:
        """Draft index of each target id, -1 where the draft vocabulary lacks it."""
        index = torch.cumsum(self.t2d.long(), 0) - 1
        return torch.where(self.t2d[target_ids], index[target_ids], torch.full_like(target_ids, -1))

    def target_head_ids(self) -> torch.Tensor:
        return self.draft_ids

    def base_layers(self) -> tuple[int, ...]:
        return tuple(self.config.eagle_aux_hidden_state_layer_ids)

    def _outputs(self, base, features, batch, steps: int):
        aux, _ = base.split(features)
        return self(aux.to(self.fc.weight.dtype), batch["input_ids"], base.embed, steps)

    def loss(self, base, features, batch):
        from arctic_ray.methods.spec_decode.drafters.eagle3.objective import eagle3_loss

        _, hidden = base.split(features)
        outputs = self._outputs(base, features, batch, self.config.ttt_steps)
        target = base.logits(hidden, self.draft_ids).detach()  # the target is what is aimed at, not trained
        loss, per_step, acc = eagle3_loss(
            self,
            outputs,
            target,
            batch["input_ids"],
            batch["in_completion"],
            self.config.step_weight,
            getattr(self.config, "loss", "kl"),
        )
        return loss, {**per_position("loss", per_step), **per_position("acc", acc)}

    def step_hits(self, base, features, batch):
        from arctic_ray.methods.spec_decode.drafters.eagle3.objective import eagle3_step_hits

        # judged at the k it is served with, whatever depth it was trained to
        steps = getattr(self.config, "judged_steps", self.config.ttt_steps)
        return eagle3_step_hits(
            self, self._outputs(base, features, batch, steps), batch["input_ids"], batch["in_completion"]
        )
