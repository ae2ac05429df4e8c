"""Strict loading of a checkpoint folder in the published layout."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from stream_diffvsr import loading
from stream_diffvsr.autoencoder import TemporalAutoencoderTiny
from stream_diffvsr.errors import CheckpointError
from stream_diffvsr.loading import load_components, load_prompt_embedding

VAE_WEIGHTS = Path("vae") / "diffusion_pytorch_model.safetensors"


@pytest.fixture
def checkpoint_copy(tiny_checkpoint: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_checkpoint, tmp_path / "copy"))


def test_loads_every_component_with_the_saved_weights(tiny_checkpoint: Path) -> None:
    parts = load_components(tiny_checkpoint)
    assert isinstance(parts.vae, TemporalAutoencoderTiny)
    saved = load_file(str(tiny_checkpoint / VAE_WEIGHTS))
    assert all(torch.equal(parts.vae.state_dict()[k], v) for k, v in saved.items())
    assert parts.unet.config.in_channels == 7 and parts.unet.config.num_class_embeds is None
    assert list(parts.controlnet.config.conditioning_embedding_out_channels) == [8, 16, 32]
    assert parts.scheduler.config.timestep_spacing == "trailing"
    assert parts.prompt_embeds.shape == (1, 77, 32)
    assert not any(p.is_meta for p in parts.unet.parameters())


def test_missing_tensor_is_named(checkpoint_copy: Path) -> None:
    weights = load_file(str(checkpoint_copy / VAE_WEIGHTS))
    del weights["decoder.layers.8.alpha"]
    save_file(weights, str(checkpoint_copy / VAE_WEIGHTS))
    with pytest.raises(CheckpointError, match=r"missing tensor decoder\.layers\.8\.alpha"):
        load_components(checkpoint_copy)


def test_misshaped_tensor_is_named(checkpoint_copy: Path) -> None:
    weights = load_file(str(checkpoint_copy / VAE_WEIGHTS))
    weights["encoder.layers.6.weight"] = torch.zeros(5, 8, 3, 3)
    save_file(weights, str(checkpoint_copy / VAE_WEIGHTS))
    with pytest.raises(CheckpointError, match=r"encoder\.layers\.6\.weight has shape \(5, 8, 3, 3\)"):
        load_components(checkpoint_copy)


def test_unexpected_tensor_is_refused(checkpoint_copy: Path) -> None:
    weights = load_file(str(checkpoint_copy / VAE_WEIGHTS))
    weights["decoder.layers.99.weight"] = torch.zeros(1)
    save_file(weights, str(checkpoint_copy / VAE_WEIGHTS))
    with pytest.raises(CheckpointError, match=r"unexpected tensor decoder\.layers\.99\.weight"):
        load_components(checkpoint_copy)


def test_vae_entry_must_be_the_custom_class(checkpoint_copy: Path) -> None:
    index_path = checkpoint_copy / "model_index.json"
    index = json.loads(index_path.read_text())
    index["vae"] = ["diffusers", "AutoencoderTiny"]
    index_path.write_text(json.dumps(index))
    with pytest.raises(CheckpointError, match="'vae'"):
        load_components(checkpoint_copy)


def test_missing_weights_file_and_folder_are_errors(checkpoint_copy: Path, tmp_path: Path) -> None:
    (checkpoint_copy / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="unet"):
        load_components(checkpoint_copy)
    with pytest.raises(CheckpointError, match="not found"):
        load_components(tmp_path / "no" / "such" / "folder")


def test_empty_prompt_embedding_uses_the_checkpoints_tokenizer_and_is_cached(
    checkpoint_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import CLIPTextModel

    cache = tmp_path / "cache"
    first = load_prompt_embedding(checkpoint_copy, cache)
    # Pad token "!" (id 0) after <|startoftext|> <|endoftext|>: ids 1, 2, 0, 0, ...
    ids = torch.tensor([[1, 2] + [0] * 75])
    encoder = CLIPTextModel.from_pretrained(checkpoint_copy / "text_encoder")
    assert torch.allclose(first, encoder(ids)[0], atol=1e-6)
    assert len(list(cache.glob("empty_prompt_embedding-*.safetensors"))) == 1

    def must_not_run(model_dir: Path, prompt: str = "") -> torch.Tensor:
        raise AssertionError("the cached embedding should have been used")

    monkeypatch.setattr(loading, "compute_prompt_embedding", must_not_run)
    assert torch.equal(load_prompt_embedding(checkpoint_copy, cache), first)


def test_changed_text_encoder_invalidates_the_cache(checkpoint_copy: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    load_prompt_embedding(checkpoint_copy, cache)
    config_path = checkpoint_copy / "tokenizer" / "special_tokens_map.json"
    config_path.write_text(config_path.read_text() + "\n")
    load_prompt_embedding(checkpoint_copy, cache)
    assert len(list(cache.glob("empty_prompt_embedding-*.safetensors"))) == 2
