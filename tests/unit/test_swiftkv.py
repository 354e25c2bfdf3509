"""SwiftKV: the student against the original (exact with every layer a KV layer), the prefill
cache against the projection computed by hand, cached generation against the full forward, the
prefill's skipped work counted on the modules, the export against Arctic Inference's own config
class and weight-name mapping, recipe fields refused by name, and a real distillation run
(Ray Train + DeepSpeed ZeRO-2) that lowers the held-out KL."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest
import torch

from arctic_ray.core.recipe import RecipeError
from arctic_ray.job_table import load_recipe, validate_recipe
from arctic_ray.methods.swiftkv.counting import flops, layer_tokens
from arctic_ray.methods.swiftkv.export import export_swiftkv
from arctic_ray.methods.swiftkv.inference import CachedDecoder, KVCache
from arctic_ray.methods.swiftkv.load import SwiftKVExportError, load_swiftkv
from arctic_ray.methods.swiftkv.model import SwiftKVModel
from arctic_ray.methods.swiftkv.ops import heads, rotate
from arctic_ray.methods.swiftkv.recipe import SwiftKVModelConfig, SwiftKVRecipe, check_base, check_trainable
from arctic_ray.methods.swiftkv.trainer import build_swiftkv
from arctic_ray.train.packed import packed_causal_mask
from tests.support.files import ROOT


def _base(path: str):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(path, attn_implementation="sdpa").eval()


def _trained_like(model: SwiftKVModel, seed: int = 0) -> SwiftKVModel:
    """Move the SwiftKV modules off their teacher copies, as training does, so no check passes
    because the student still equals the teacher."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "swiftkv" in name:
                p.add_(0.05 * torch.randn(p.shape, generator=g))
    return model


def _ids(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(3, 500, (1, n), generator=torch.Generator().manual_seed(seed))


def test_every_layer_a_kv_layer_reproduces_the_teacher_exactly(tiny_model):
    base = _base(tiny_model)
    segments = torch.tensor([[1] * 11 + [2] * 9 + [0] * 4])  # two packed examples and padding
    ids, positions = _ids(24), torch.tensor([list(range(11)) + list(range(9)) + [0] * 4])
    mask = packed_causal_mask(segments, torch.float32)
    with torch.no_grad():
        reference = base(input_ids=ids, position_ids=positions, attention_mask=mask).logits
        model = SwiftKVModel(base, base.config.num_hidden_layers)
        model.init_from_teacher()
        out = model(ids, positions, mask, teacher=True)
    assert torch.equal(model.logits(out.student), reference)
    assert torch.equal(model.logits(out.teacher), reference)


def test_student_starts_from_the_teacher_and_only_swiftkv_trains(tiny_model):
    model, counts = build_swiftkv(
        tiny_model, SwiftKVModelConfig(name_or_path=tiny_model, num_key_value_layers=2, key_value_group_size=2)
    )
    layers = model.layers
    assert torch.equal(layers[3].self_attn.q_proj_swiftkv.weight, layers[3].self_attn.q_proj.weight)
    averaged = (layers[2].self_attn.k_proj.weight + layers[3].self_attn.k_proj.weight) / 2
    torch.testing.assert_close(layers[2].self_attn.k_proj_swiftkv.weight, averaged)
    assert not hasattr(layers[3].self_attn, "k_proj_swiftkv")  # AcrossKV: layer 3 uses layer 2's
    assert torch.equal(model.base.model.norm_swiftkv.weight, layers[2].input_layernorm.weight)
    trained = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trained and all("swiftkv" in n for n in trained)
    hidden, q_out, kv_out = (
        model.base.config.hidden_size,
        layers[2].self_attn.q_proj.out_features,
        layers[2].self_attn.k_proj.out_features,
    )
    assert counts["trainable"] == 2 * hidden * q_out + 2 * hidden * kv_out + hidden  # 2 q, 1 group's k and v, the norm
    assert counts["frozen"] + counts["trainable"] == counts["total"] == sum(p.numel() for p in model.parameters())


def test_prefill_kv_of_later_layers_is_the_swiftkv_projection(tiny_model):
    model = _trained_like(SwiftKVModel(_base(tiny_model), 2))
    ids = _ids(17)
    cache = KVCache()
    CachedDecoder(model).forward(ids, cache)
    with torch.no_grad():  # by hand, from the HF model's own hidden states and cache
        hf = model.base(input_ids=ids, output_hidden_states=True, use_cache=True)
        after_kv_layers = hf.hidden_states[2]  # the output of layers 0 and 1
        normed = model.base.model.norm_swiftkv(after_kv_layers)
        cos, sin = model.base.model.rotary_emb(normed, torch.arange(17)[None])
        for i in (2, 3):
            attn = model.layers[i].self_attn
            k = rotate(heads(attn.k_proj_swiftkv(normed), attn.head_dim), cos, sin)
            v = heads(attn.v_proj_swiftkv(normed), attn.head_dim)
            torch.testing.assert_close(cache.layers[i][0], k, rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(cache.layers[i][1], v, rtol=1e-5, atol=1e-5)
        for i in (0, 1):  # the KV layers cache what the original model caches
            torch.testing.assert_close(cache.layers[i][0], hf.past_key_values.layers[i].keys, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kv_layers, group", [(2, 1), (2, 2), (1, 3)])
def test_cached_generation_equals_the_full_forward(tiny_model, kv_layers, group):
    model = _trained_like(SwiftKVModel(_base(tiny_model), kv_layers, group), seed=kv_layers + group)
    prompt = _ids(13, seed=3)[0].tolist()
    generated = CachedDecoder(model).generate(prompt, max_new_tokens=16)
    sequence, expected = list(prompt), []
    with torch.no_grad():
        for _ in range(16):
            x = torch.tensor([sequence])
            token = int(model.logits(model(x, torch.arange(len(sequence))[None], None).student)[0, -1].argmax())
            expected.append(token)
            sequence.append(token)
    assert generated == expected


def test_prefill_runs_the_later_layers_for_one_position(tiny_model):
    model = SwiftKVModel(_base(tiny_model), 2, 2)
    original = SwiftKVModel(_base(tiny_model), 4)
    ids = _ids(40)
    with layer_tokens(model) as seen:
        cache = KVCache()
        CachedDecoder(model).forward(ids, cache)
    assert [seen[i] for i in range(4)] == [40, 40, 1, 1]
    with layer_tokens(model) as seen:
        CachedDecoder(model).forward(ids[:, :1], cache)  # a decode step runs every layer
    assert [seen[i] for i in range(4)] == [1, 1, 1, 1]
    swift_cache, full_cache = KVCache(), KVCache()
    swift_flops = flops(lambda: CachedDecoder(model).forward(ids, swift_cache))
    full_flops = flops(lambda: CachedDecoder(original, swiftkv=False).forward(ids, full_cache))
    assert swift_flops < 0.75 * full_flops  # half the layers, plus the k/v projections
    assert sorted(swift_cache.layers) == [0, 1, 2] and sorted(full_cache.layers) == [
        0,
        1,
        2,
        3,
    ]  # AcrossKV: one slot for layers 2-3
    assert swift_cache.nbytes * 4 == full_cache.nbytes * 3


def _arctic_loader_mapping() -> tuple[list[tuple], set[str]]:
    """Arctic Inference's own weight-name mapping (`stacked_params_mapping` in its
    `LlamaSwiftKVModel.load_weights`) and the attributes its SwiftKV modules define, read from
    its installed source: its vLLM model module is written against vLLM 0.26 and fails to import
    on vLLM 0.32 (its model runner imports `FusedMoE`, which moved), so it is parsed, not imported."""
    spec = importlib.util.find_spec("arctic_inference")
    source = Path(spec.submodule_search_locations[0]) / "vllm" / "swiftkv" / "llama_swiftkv.py"
    tree = ast.parse(source.read_text())
    mapping, attributes = None, set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id == "stacked_params_mapping":
                    mapping = ast.literal_eval(node.value)
                if (
                    isinstance(target, ast.Attribute)
                    and isinstance(target.value, ast.Name)
                    and target.value.id == "self"
                ):
                    attributes.add(target.attr)
    assert mapping, f"no stacked_params_mapping in {source}"
    return mapping, attributes


def test_export_is_what_arctic_inference_loads_and_reloads(tiny_model, tmp_path):
    from arctic_inference.common.swiftkv import LlamaSwiftKVConfig
    from safetensors import safe_open

    model = _trained_like(SwiftKVModel(_base(tiny_model), 2))
    out = export_swiftkv(model, tiny_model, tmp_path / "export")
    config = LlamaSwiftKVConfig.from_pretrained(str(out))
    assert (config.model_type, config.num_key_value_layers, config.num_hidden_layers) == ("llama_swiftkv", 2, 4)
    assert (
        "{% for message in messages %}" in (out / "tokenizer_config.json").read_text()
        or (out / "chat_template.jinja").is_file()
    )

    mapping, attributes = _arctic_loader_mapping()
    assert {"q_proj_swiftkv", "kv_proj_swiftkv", "norm_swiftkv"} <= attributes
    with safe_open(str(out / "model.safetensors"), "pt") as fh:
        names = list(fh.keys())
    loaded: dict[str, set] = {}
    for name in names:  # what Arctic Inference's load_weights does with each name
        for param, shard, shard_id in mapping:
            if shard in name:
                loaded.setdefault(name.replace(shard, param), set()).add(shard_id)
                break
        else:
            loaded.setdefault(name, set()).add(None)
    for i in (0, 1):
        assert loaded[f"model.layers.{i}.self_attn.qkv_proj.weight"] == {"q", "k", "v"}
    for i in (2, 3):
        assert loaded[f"model.layers.{i}.self_attn.kv_proj_swiftkv.weight"] == {"k", "v"}
        assert loaded[f"model.layers.{i}.self_attn.q_proj_swiftkv.weight"] == {None}
        assert f"model.layers.{i}.self_attn.qkv_proj.weight" not in loaded  # the teacher's, not shipped
        assert loaded[f"model.layers.{i}.mlp.gate_up_proj.weight"] == {0, 1}
    assert "model.norm_swiftkv.weight" in loaded

    reloaded = load_swiftkv(out)
    ids = _ids(19)
    positions = torch.arange(19)[None]
    with torch.no_grad():
        assert torch.equal(reloaded(ids, positions, None).student, model(ids, positions, None).student)
    with layer_tokens(reloaded) as seen:
        CachedDecoder(reloaded).forward(ids, KVCache())
    assert [seen[i] for i in range(4)] == [19, 19, 1, 1]
    assert CachedDecoder(reloaded).generate(ids[0].tolist(), 8) == CachedDecoder(model).generate(ids[0].tolist(), 8)


def test_acrosskv_export_reloads_its_groups(tiny_model, tmp_path):
    model = _trained_like(SwiftKVModel(_base(tiny_model), 2, 2))
    out = export_swiftkv(model, tiny_model, tmp_path / "export")
    reloaded = load_swiftkv(out)
    assert reloaded.group_size == 2 and not hasattr(reloaded.layers[3].self_attn, "k_proj_swiftkv")
    ids = _ids(9)
    with torch.no_grad():
        assert torch.equal(
            reloaded(ids, torch.arange(9)[None], None).student, model(ids, torch.arange(9)[None], None).student
        )
    from safetensors.torch import load_file, save_file

    weights = load_file(str(out / "model.safetensors"))
    weights["model.layers.3.self_attn.k_proj_swiftkv.weight"] += 1.0  # no longer one group
    save_file(weights, str(out / "model.safetensors"))
    with pytest.raises(SwiftKVExportError, match="layer 3's k_proj_swiftkv differs"):
        load_swiftkv(out)


def test_bad_recipe_fields_are_named(tiny_model, session_cache):
    from transformers import AutoConfig

    from arctic_ray.models.tiny_moe import tiny_moe_path

    config = AutoConfig.from_pretrained(tiny_model)
    with pytest.raises(RecipeError, match="model.num_key_value_layers"):
        validate_recipe({"type": "swiftkv", "model": {"num_key_value_layers": 0}})
    with pytest.raises(RecipeError, match="model.num_key_value_layers: 5 is above the base model's 4 layers"):
        check_base(SwiftKVModelConfig(num_key_value_layers=5), config)
    with pytest.raises(RecipeError, match="model.key_value_group_size: 3 does not divide the 2 layers"):
        check_base(SwiftKVModelConfig(num_key_value_layers=2, key_value_group_size=3), config)
    with pytest.raises(RecipeError, match="model.num_key_value_layers: 4 is every layer"):
        check_trainable(SwiftKVModelConfig(num_key_value_layers=4), config)
    with pytest.raises(RecipeError, match="model.name_or_path: SwiftKV needs a Llama-family base"):
        check_base(SwiftKVModelConfig(name_or_path="tiny-moe"), AutoConfig.from_pretrained(str(tiny_moe_path())))
    with pytest.raises(RecipeError, match="distill.temprature: unknown field"):
        validate_recipe({"type": "swiftkv", "distill": {"temprature": 2.0}})
    check_base(SwiftKVModelConfig(num_key_value_layers=2, key_value_group_size=2), config)  # a good one passes


@pytest.mark.parametrize(
    "name, kv_layers", [("swiftkv_tiny.yaml", 2), ("swiftkv_smollm2.yaml", 15), ("swiftkv_gpu.yaml", 16)]
)
def test_shipped_recipes_validate(name, kv_layers):
    recipe = load_recipe(ROOT / "examples" / name)
    assert isinstance(recipe, SwiftKVRecipe) and recipe.model.num_key_value_layers == kv_layers
    assert recipe.workers.zero_stage == 2
