from __future__ import annotations

import pytest

from video_enhancer.media.sizing import output_size, plan_sizes


@pytest.mark.parametrize(
    ("source", "max_height", "expected"),
    [
        ((320, 180), 1080, (1280, 720)),  # 4x fits under the maximum
        ((640, 360), 1080, (1920, 1080)),  # 4x would be 1440: capped at the maximum
        ((640, 360), 720, (1280, 720)),
        ((1920, 1080), 720, (1280, 720)),  # larger than the plan allows: scaled down
        ((95, 63), 1080, (380, 252)),  # odd input, even output
        ((360, 640), 1080, (1080, 1920)),  # portrait: the limit is on the short side (1080p = 1080 wide)
        ((1080, 1920), 720, (720, 1280)),  # a portrait phone video on the FREE plan
        ((101, 57), 1080, (404, 228)),
    ],
)
def test_output_size_policy(source: tuple[int, int], max_height: int, expected: tuple[int, int]) -> None:
    assert output_size(source, max_height) == expected


def test_output_size_keeps_aspect_and_even_sides() -> None:
    for width in range(33, 400, 7):
        for height in range(17, 300, 11):
            out_w, out_h = output_size((width, height), 1080)
            assert out_w % 2 == 0 and out_h % 2 == 0
            assert abs(out_w / out_h - width / height) < 2.5 / out_h + 2 / out_w


def test_classical_enhancer_goes_straight_to_the_output_size() -> None:
    plan = plan_sizes((640, 360), 1080, native_scale=None)
    assert plan.enhancer_input == (640, 360)
    assert plan.enhancer_output == plan.output == (1920, 1080)
    assert not plan.resizes_input and not plan.resizes_output


def test_model_input_is_resized_so_its_4x_lands_on_the_maximum() -> None:
    plan = plan_sizes((640, 360), 1080, native_scale=4)
    assert plan.enhancer_input == (480, 272)  # 1920/4 and 1080/4 = 270, rounded to multiples of 4
    assert plan.enhancer_output == (1920, 1088)
    assert plan.output == (1920, 1080)  # exact final resize of the last few pixels


def test_model_sees_the_original_pixels_when_4x_fits() -> None:
    plan = plan_sizes((320, 180), 1080, native_scale=4)
    assert plan.enhancer_input == (320, 180)
    assert plan.enhancer_output == plan.output == (1280, 720)
    assert not plan.resizes_input


def test_model_input_has_a_minimum_side() -> None:
    plan = plan_sizes((64, 20), 1080, native_scale=4)
    assert min(plan.enhancer_input) >= 32
    assert all(side % 4 == 0 for side in plan.enhancer_input)


def test_scale_option_caps_the_upscaling() -> None:
    assert output_size((320, 180), 1080, scale=2) == (640, 360)


def test_invalid_sizes_are_refused() -> None:
    with pytest.raises(ValueError):
        output_size((0, 10), 1080)
