"""Strict loading of a model folder in the published layout (or a hub id, when online).

Layout: ``model_index.json`` (vae entry ``[null, "TemporalAutoencoderTiny"]``), ``unet/``,
``controlnet/``, ``vae/``, ``scheduler/``, ``text_encoder/``, ``tokenizer/``.
Every network is built from its ``config.json`` and its weights are checked tensor by tensor
before loading: a missing, unexpected or mis-shaped tensor is a :class:`CheckpointError`
naming it. diffusers' own ``from_pretrained`` is not used for that reason (its strictness
varies across versions) and because the VAE class has no library entry.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from diffusers import ControlNetModel, DDIMScheduler, UNet2DConditionModel
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from .autoencoder import TemporalAutoencoderTiny
from .errors import CheckpointError

SUBFOLDERS = ("unet", "controlnet", "vae", "scheduler", "text_encoder", "tokenizer")
EXPECTED_INDEX: dict[str, list[str | None]] = {
    "unet": ["diffusers", "UNet2DConditionModel"],
    "controlnet": ["diffusers", "ControlNetModel"],
    "vae": [None, "TemporalAutoencoderTiny"],
    "scheduler": ["diffusers", "DDIMScheduler"],
    "text_encoder": ["transformers", "CLIPTextModel"],
    "tokenizer": ["transformers", "CLIPTokenizer"],
}
WEIGHTS_NAME = "diffusion_pytorch_model.safetensors"
WEIGHTS_INDEX_NAME = "diffusion_pytorch_model.safetensors.index.json"
EMBEDDING_FILE_PREFIX = "empty_prompt_embedding-"
_HUB_PATTERNS = [f"{name}/*" for name in SUBFOLDERS] + ["model_index.json"]


@dataclass(frozen=True)
class LoadedComponents:
    unet: UNet2DConditionModel
    controlnet: ControlNetModel
    vae: TemporalAutoencoderTiny
    scheduler: DDIMScheduler
    prompt_embeds: Tensor
    """Embedding of the empty prompt, (1, 77, cross_attention_dim), float32."""


def resolve_model_dir(model: str | Path, *, revision: str | None = None) -> Path:
    """A local folder as-is; otherwise a hub id downloaded (or found in the hub cache)."""
    path = Path(model)
    if path.is_dir():
        return path
    if path.exists() or str(model).count("/") != 1:
        raise CheckpointError(f"model folder not found and not a hub id: {model}")
    try:
        from huggingface_hub import snapshot_download

        local = snapshot_download(str(model), revision=revision, allow_patterns=_HUB_PATTERNS)
    except Exception as exc:  # offline, unknown repo, auth: all mean "cannot get the weights"
        raise CheckpointError(f"cannot fetch {model!r} from the hub: {exc}") from exc
    return Path(local)


def check_model_index(model_dir: Path) -> None:
    index_path = model_dir / "model_index.json"
    if not index_path.is_file():
        raise CheckpointError(f"{index_path} is missing")
    index = json.loads(index_path.read_text())
    for name, expected in EXPECTED_INDEX.items():
        if index.get(name) != expected:
            raise CheckpointError(
                f"model_index.json entry {name!r} is {index.get(name)!r}, expected {expected!r}"
            )
        if not (model_dir / name).is_dir():
            raise CheckpointError(f"subfolder {name}/ is missing in {model_dir}")


def load_model_strict(model_class: Any, folder: Path) -> Any:
    """Build ``model_class`` from ``folder/config.json`` and load its safetensors weights strictly."""
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise CheckpointError(f"{config_path} is missing")
    config = model_class.load_config(folder)
    with torch.device("meta"):
        model = model_class.from_config(config)
    files = _weight_files(folder)
    check_tensor_shapes(_expected_shapes(model), _stored_shapes(files), folder.name)
    state: dict[str, Tensor] = {}
    for file in files:
        state.update(load_file(str(file)))
    model.load_state_dict(state, strict=True, assign=True)
    _refuse_meta_tensors(model, folder.name)
    return model.eval().requires_grad_(False)


def check_tensor_shapes(
    expected: dict[str, tuple[int, ...]], stored: dict[str, tuple[int, ...]], where: str
) -> None:
    missing = sorted(set(expected) - set(stored))
    unexpected = sorted(set(stored) - set(expected))
    misshaped = sorted(k for k in set(expected) & set(stored) if expected[k] != stored[k])
    problems = [f"missing tensor {k} (shape {expected[k]})" for k in missing]
    problems += [f"tensor {k} has shape {stored[k]}, expected {expected[k]}" for k in misshaped]
    problems += [f"unexpected tensor {k}" for k in unexpected]
    if problems:
        raise CheckpointError(f"{where}: " + "; ".join(problems[:20]))


def _expected_shapes(model: nn.Module) -> dict[str, tuple[int, ...]]:
    return {name: tuple(t.shape) for name, t in model.state_dict().items()}


def _stored_shapes(files: list[Path]) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    for file in files:
        with safe_open(str(file), framework="pt") as handle:
            for key in handle.keys():
                shapes[key] = tuple(handle.get_slice(key).get_shape())
    return shapes


def _weight_files(folder: Path) -> list[Path]:
    if (folder / WEIGHTS_NAME).is_file():
        return [folder / WEIGHTS_NAME]
    index = folder / WEIGHTS_INDEX_NAME
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        return [folder / shard for shard in shards]
    raise CheckpointError(f"no {WEIGHTS_NAME} (or sharded index) in {folder}")


def _refuse_meta_tensors(model: nn.Module, where: str) -> None:
    leftovers = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if leftovers:
        raise CheckpointError(f"{where}: tensors not initialised by the checkpoint: {leftovers[:10]}")


def load_scheduler(model_dir: Path) -> DDIMScheduler:
    config: dict[str, Any] = DDIMScheduler.load_config(model_dir / "scheduler")
    return DDIMScheduler.from_config(config)


def load_prompt_embedding(model_dir: Path, cache_dir: Path | None = None) -> Tensor:
    """Empty-prompt embedding from the checkpoint's own text encoder and tokenizer, cached.

    The cache file name carries a fingerprint of the text encoder and tokenizer files, so a
    different checkpoint never reuses a stale embedding. With a valid cache the 1.4 GB text
    encoder is not loaded at all.
    """
    cache_dir = cache_dir if cache_dir is not None else model_dir / ".stream_diffvsr_cache"
    cache_file = cache_dir / f"{EMBEDDING_FILE_PREFIX}{_text_fingerprint(model_dir)}.safetensors"
    if cache_file.is_file():
        return load_file(str(cache_file))["prompt_embeds"]
    embedding = compute_prompt_embedding(model_dir)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        save_file({"prompt_embeds": embedding.contiguous()}, str(cache_file))
    except OSError:
        pass  # read-only model folder: recompute next time rather than fail
    return embedding


def compute_prompt_embedding(model_dir: Path, prompt: str = "") -> Tensor:
    from transformers import CLIPTextModel, CLIPTokenizer

    tokenizer = CLIPTokenizer.from_pretrained(model_dir / "tokenizer")
    loaded: Any = CLIPTextModel.from_pretrained(
        model_dir / "text_encoder", output_loading_info=True, torch_dtype=torch.float32
    )
    encoder, info = loaded
    problems = list(info.get("missing_keys", [])) + [str(m) for m in info.get("mismatched_keys", [])]
    if problems:
        raise CheckpointError(f"text_encoder: missing or mis-shaped tensors: {problems[:20]}")
    ids = tokenizer(
        prompt,
        padding="max_length",
        max_length=tokenizer.model_max_length,
        truncation=True,
        return_tensors="pt",
    ).input_ids
    with torch.no_grad():
        return encoder.eval()(ids)[0].float()


def _text_fingerprint(model_dir: Path) -> str:
    """Hash of the small text files plus names and sizes of the text encoder weights."""
    digest = hashlib.sha256()
    for sub in ("text_encoder", "tokenizer"):
        for file in sorted((model_dir / sub).iterdir()):
            digest.update(f"{sub}/{file.name}".encode())
            if file.suffix in {".json", ".txt"}:
                digest.update(file.read_bytes())
            else:
                digest.update(str(file.stat().st_size).encode())
    return digest.hexdigest()[:16]


def load_components(
    model: str | Path,
    *,
    embedding_cache_dir: Path | None = None,
    revision: str | None = None,
) -> LoadedComponents:
    """Load every component of a checkpoint (float32, CPU) strictly."""
    model_dir = resolve_model_dir(model, revision=revision)
    check_model_index(model_dir)
    return LoadedComponents(
        unet=load_model_strict(UNet2DConditionModel, model_dir / "unet"),
        controlnet=load_model_strict(ControlNetModel, model_dir / "controlnet"),
        vae=load_model_strict(TemporalAutoencoderTiny, model_dir / "vae"),
        scheduler=load_scheduler(model_dir),
        prompt_embeds=load_prompt_embedding(model_dir, embedding_cache_dir),
    )
