"""Tiny random checkpoints in the published folder layout, for offline tests and smoke runs.

The folder goes through exactly the same loader as the real checkpoint; only the sizes differ.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torchvision.models.optical_flow import raft_large

from .configs import PUBLISHED_SCHEDULER_CONFIG, TINY_UNET_CONFIG, build_scheduler, build_tiny_models

TINY_TEXT_CONFIG: dict[str, Any] = {
    "hidden_size": int(TINY_UNET_CONFIG["cross_attention_dim"]),
    "intermediate_size": 37,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "vocab_size": 1000,
    "max_position_embeddings": 77,
    "bos_token_id": 0,
    "eos_token_id": 2,
    "pad_token_id": 1,
}
MODEL_INDEX = {
    "_class_name": "StreamDiffVSRPipeline",
    "_diffusers_version": "0.21.0.dev0",
    "controlnet": ["diffusers", "ControlNetModel"],
    "unet": ["diffusers", "UNet2DConditionModel"],
    "vae": [None, "TemporalAutoencoderTiny"],
    "scheduler": ["diffusers", "DDIMScheduler"],
    "text_encoder": ["transformers", "CLIPTextModel"],
    "tokenizer": ["transformers", "CLIPTokenizer"],
    "safety_checker": [None, None],
    "feature_extractor": [None, None],
}


def write_tiny_checkpoint(folder: Path, seed: int = 0) -> Path:
    """Write a random tiny model in the published layout into ``folder`` and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    models: Any = build_tiny_models()  # diffusers' save_pretrained is opaque to type checkers
    models.unet.save_pretrained(folder / "unet")
    models.controlnet.save_pretrained(folder / "controlnet")
    models.vae.save_pretrained(folder / "vae")
    scheduler: Any = build_scheduler(PUBLISHED_SCHEDULER_CONFIG)
    scheduler.save_pretrained(folder / "scheduler")
    _write_tiny_text_encoder(folder / "text_encoder")
    write_tiny_tokenizer(folder / "tokenizer")
    (folder / "model_index.json").write_text(json.dumps(MODEL_INDEX, indent=2))
    return folder


def write_random_raft_weights(path: Path, seed: int = 0) -> Path:
    """A RAFT-large state dict with random weights (no download), for the file-path loader."""
    torch.manual_seed(seed)
    torch.save(raft_large(weights=None, progress=False).state_dict(), path)
    return path


def _write_tiny_text_encoder(folder: Path) -> None:
    from transformers import CLIPTextConfig, CLIPTextModel

    CLIPTextModel(CLIPTextConfig(**TINY_TEXT_CONFIG)).save_pretrained(folder)


def write_tiny_tokenizer(folder: Path) -> None:
    """Vocabulary and merges files like the published tokenizer folder (pad token "!", id 0)."""
    folder.mkdir(parents=True, exist_ok=True)
    vocab = {"!": 0, "<|startoftext|>": 1, "<|endoftext|>": 2}
    for i, letter in enumerate("abcdefghijklmnopqrstuvwxyz"):
        vocab[letter] = 3 + i
        vocab[f"{letter}</w>"] = 29 + i
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    special = {
        "bos_token": "<|startoftext|>",
        "eos_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>",
        "pad_token": "!",
    }
    (folder / "special_tokens_map.json").write_text(json.dumps(special))
    config = {**special, "model_max_length": 77, "tokenizer_class": "CLIPTokenizer"}
    (folder / "tokenizer_config.json").write_text(json.dumps(config))


def motion_flow(current: Tensor, previous: Tensor) -> Tensor:
    """Cheap deterministic stand-in for RAFT that depends on both frames (any size works)."""
    difference = (current - previous).mean(dim=1, keepdim=True)
    return torch.cat([3.0 * difference, -2.0 * difference], dim=1)


def random_frames(count: int, height: int = 12, width: int = 20, seed: int = 0) -> list[Tensor]:
    """Random low-resolution frames (1, 3, height, width) in [-1, 1]."""
    generator = torch.Generator().manual_seed(seed)
    return [torch.rand((1, 3, height, width), generator=generator) * 2 - 1 for _ in range(count)]
