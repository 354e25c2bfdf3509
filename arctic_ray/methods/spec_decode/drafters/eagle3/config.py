from typing import Literal, cast

import torch
from pydantic import Field
from transformers import LlamaConfig

from arctic_ray.methods.spec_decode.drafters.config import SpeculatorConfig
from arctic_ray.methods.spec_decode.drafters.draft_vocab import choose_draft_vocab
from arctic_ray.methods.spec_decode.drafters.eagle3.export import save_eagle3
from arctic_ray.methods.spec_decode.drafters.eagle3.init import init_from_target
from arctic_ray.methods.spec_decode.drafters.eagle3.model import Eagle3Drafter
from arctic_ray.methods.spec_decode.frozen_base import default_aux_layers


class Eagle3Config(SpeculatorConfig):
    type: Literal["eagle3"] = "eagle3"
    """Speculator architecture (registered name)."""

    draft_vocab_size: int = Field(default=8192, gt=0)
    """Output vocabulary of the drafter: the base tokens most frequent in the training data
    (capped at the base vocabulary; equal to it means no `d2t` map)."""

    aux_layers: tuple[int, int, int] | None = None
    """Base layers whose hidden states the drafter reads (HF `hidden_states` indices); None:
    vLLM's default (2, L/2, L-3), or three spread layers for a shallow base."""

    intermediate_size: int | None = Field(default=None, gt=0)
    """MLP width of the drafter's decoder layer; None: the base's."""

    ttt_steps: int | None = Field(default=None, gt=0)
    """Training-time-test depth: draft steps trained on the drafter's own states; None: n_predict."""

    step_weight: float = Field(default=0.8, gt=0, le=1)
    """Loss weight of draft step j is step_weight ** j (early positions decide acceptance)."""

    loss: Literal["kl", "tv", "ce"] = "kl"
    """Per draft step, over the draft vocabulary: kl (forward KL to the target's distribution),
    ce (the emitted token), tv (total variation: 1 - acceptance under speculative sampling). See
    `drafters/eagle3/objective.py`. Measured on SmolLM2 with the default recipe: kl served 1.37x
    at batch 1 with vLLM acceptance length 1.75, ce 1.33x with 1.67; at 3 epochs (benchmark
    ablations, simulated tau) ce 1.511, kl 1.456, tv 1.367, where two runs of one setting differ
    by ~0.04."""

    init: Literal["target", "random"] = "target"
    """target: the decoder layer starts as the target's last layer, the LM head as its
    draft-vocabulary rows (`drafters/eagle3/init.py`); random: only the LM head is the target's."""

    vllm_method = "eagle3"
    uses_token_counts = True

    def target_layers(self, target_config) -> tuple[int, ...]:
        return tuple(self.aux_layers or default_aux_layers(target_config.num_hidden_layers))

    def build(self, base, seed, token_counts=None) -> Eagle3Drafter:
        bc = base.config
        vocab = bc.vocab_size
        head_dim = getattr(bc, "head_dim", None) or bc.hidden_size // bc.num_attention_heads
        cfg = LlamaConfig(
            hidden_size=bc.hidden_size,
            num_attention_heads=bc.num_attention_heads,
            num_key_value_heads=bc.num_key_value_heads,
            head_dim=head_dim,
            intermediate_size=self.intermediate_size or bc.intermediate_size,
            rms_norm_eps=bc.rms_norm_eps,
            vocab_size=vocab,
            max_position_embeddings=bc.max_position_embeddings,
            num_hidden_layers=1,
            rope_parameters=bc.rope_parameters,
            hidden_act=bc.hidden_act,
            tie_word_embeddings=False,
            bos_token_id=bc.bos_token_id,
            eos_token_id=bc.eos_token_id,
        )
        cfg.draft_vocab_size = min(self.draft_vocab_size, vocab)
        cfg.target_hidden_size = bc.hidden_size
        cfg.eagle_aux_hidden_state_layer_ids = list(self.target_layers(bc))
        cfg.norm_before_residual = False
        cfg.ttt_steps = self.ttt_steps or self.n_predict
        cfg.judged_steps = self.n_predict  # not `n_predict`: vLLM reads that key of a draft config
        cfg.step_weight = self.step_weight
        cfg.loss = self.loss
        torch.manual_seed(seed)
        drafter = Eagle3Drafter(cfg)
        counts = token_counts if token_counts is not None else torch.zeros(vocab, dtype=torch.long)
        eos = bc.eos_token_id if isinstance(bc.eos_token_id, list) else [bc.eos_token_id]
        drafter.set_draft_vocab(choose_draft_vocab(counts, cfg.draft_vocab_size, [t for t in eos if t is not None]))
        head = base.lm_head
        assert head is not None  # the whole head is held until the drafter is built
        with torch.no_grad():  # start from the base's own output layer, restricted to the draft vocabulary
            drafter.lm_head.weight.copy_(head.weight[drafter.draft_ids].to(drafter.lm_head.weight.dtype))
        if self.init == "target":
            init_from_target(drafter, base)
        return drafter

    def export(self, drafter, path, identity):
        return save_eagle3(cast(Eagle3Drafter, drafter), path, identity)  # the drafter `build` made
