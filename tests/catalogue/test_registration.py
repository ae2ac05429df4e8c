"""A registered enhancer is named everywhere a list of names is kept (docs/enhancers.md, "Adding an
enhancer"): forgetting one place would hide it from the API, the settings or the plans."""

from __future__ import annotations

from typing import get_args

from video_enhancer.catalogue.service import PLANS_BY_ENHANCER
from video_enhancer.config import EnhancerSetting, Settings
from video_enhancer.enhancers import ENHANCERS
from video_enhancer.jobs.schemas import EnhancerName


def test_every_registered_enhancer_is_in_every_list_of_names() -> None:
    registered = set(ENHANCERS)
    assert {name.value for name in EnhancerName} == registered  # what the API accepts and shows
    assert set(PLANS_BY_ENHANCER) == registered  # which plans may use it
    assert set(get_args(Settings.model_fields["enhancer"].annotation)) == registered | {"auto"}
    assert set(get_args(EnhancerSetting)) == registered | {"auto"}  # VE_ENHANCERS


def test_the_catalogue_knows_each_enhancer_without_importing_it() -> None:
    for name, spec in ENHANCERS.items():
        assert spec.name == name and spec.title and spec.description
        assert spec.module.startswith("video_enhancer.enhancers.")
