"""Tiny random checkpoints in the published layout, loaded through the real loader."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from stream_diffvsr.loading import LoadedComponents, load_components
from stream_diffvsr.pipeline import StreamDiffVSRPipeline
from stream_diffvsr.testing import motion_flow, write_random_raft_weights, write_tiny_checkpoint


@pytest.fixture(scope="package", autouse=True)
def one_cpu_thread() -> Iterator[None]:
    """Tiny models gain nothing from threads, and OpenMP spinning on a shared CPU costs 10-50x."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "Stream-DiffVSR")


@pytest.fixture(scope="session")
def raft_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_random_raft_weights(tmp_path_factory.mktemp("raft") / "raft_large_random.pth")


@pytest.fixture
def components(tiny_checkpoint: Path) -> LoadedComponents:
    return load_components(tiny_checkpoint)


@pytest.fixture
def pipeline(components: LoadedComponents) -> StreamDiffVSRPipeline:
    return StreamDiffVSRPipeline(
        components.unet,
        components.controlnet,
        components.vae,
        components.scheduler,
        components.prompt_embeds,
        motion_flow,
    )
