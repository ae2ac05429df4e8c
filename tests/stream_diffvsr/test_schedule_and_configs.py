"""DDIM trailing v-prediction schedule and the published configs' parameter counts."""

from __future__ import annotations

import math

import pytest
import torch

from stream_diffvsr.configs import (
    DOCUMENTED_PARAMETER_COUNTS,
    PUBLISHED_SCHEDULER_CONFIG,
    build_published_models,
    build_scheduler,
    check_published_parameter_counts,
    parameter_counts,
)


@pytest.mark.parametrize(
    ("steps", "expected"),
    [(1, [999]), (2, [999, 499]), (3, [999, 666, 332]), (4, [999, 749, 499, 249])],
)
def test_trailing_timesteps(steps: int, expected: list[int]) -> None:
    scheduler = build_scheduler(PUBLISHED_SCHEDULER_CONFIG)
    scheduler.set_timesteps(steps)
    assert scheduler.timesteps.tolist() == expected


def test_alphas_and_the_last_step_target_alpha_zero_not_one() -> None:
    scheduler = build_scheduler(PUBLISHED_SCHEDULER_CONFIG)
    scheduler.set_timesteps(4)
    alphas = scheduler.alphas_cumprod
    assert [round(float(alphas[t]), 6) for t in (999, 749, 499, 249)] == [
        0.000733,
        0.038606,
        0.333188,
        0.821521,
    ]
    assert float(scheduler.final_alpha_cumprod) == pytest.approx(0.9999, abs=1e-6)


def test_last_ddim_step_is_the_v_prediction_formula_with_alpha_bar_zero() -> None:
    scheduler = build_scheduler(PUBLISHED_SCHEDULER_CONFIG)
    scheduler.set_timesteps(4)
    sample, velocity = torch.randn(1, 4, 3, 5), torch.randn(1, 4, 3, 5)
    a_t, a_prev = float(scheduler.alphas_cumprod[249]), 0.9999
    x0 = math.sqrt(a_t) * sample - math.sqrt(1 - a_t) * velocity
    eps = math.sqrt(a_t) * velocity + math.sqrt(1 - a_t) * sample
    expected = math.sqrt(a_prev) * x0 + math.sqrt(1 - a_prev) * eps
    result = scheduler.step(velocity, 249, sample, eta=0.0).prev_sample
    assert torch.allclose(result, expected, atol=1e-5)


def test_published_configs_have_the_documented_parameter_counts() -> None:
    assert check_published_parameter_counts() == DOCUMENTED_PARAMETER_COUNTS


def test_parameter_counts_are_exact_on_real_tensors_too() -> None:
    # The meta-device build allocates nothing; the autoencoder is cheap enough to build for real.
    meta = parameter_counts(build_published_models(device="meta"))
    from stream_diffvsr.autoencoder import TemporalAutoencoderTiny
    from stream_diffvsr.configs import PUBLISHED_VAE_CONFIG

    real_vae = TemporalAutoencoderTiny.from_config(PUBLISHED_VAE_CONFIG)
    assert meta["vae"] == sum(p.numel() for p in real_vae.parameters()) == 2_052_501
