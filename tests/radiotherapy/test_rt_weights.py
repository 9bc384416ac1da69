"""The weights text of the paper, and every way it can be wrong."""

import math

import pytest

from tg_radiotherapy.weights import (
    MAX_WEIGHT,
    MIN_WEIGHT,
    WeightsError,
    as_weights,
    format_weights,
    parse_weights,
)

PAPER = (
    "weight for PTV: 100, weight for bladder: 100, weight for rectum: 100, "
    "weight for femoral heads: 100, weight for body: 100"
)


def test_the_papers_text_parses_and_formats_back():
    weights = parse_weights(PAPER)
    assert weights == {"PTV": 100.0, "bladder": 100.0, "rectum": 100.0, "femoral heads": 100.0, "body": 100.0}
    assert format_weights(weights) == PAPER


def test_prose_around_the_weights_case_and_number_forms_are_accepted():
    text = (
        "New weights:\nWeight for ptv = 1e3; weight for Bladder: 50.5\nweight for rectum: 0, "
        "weight for femoral head: 20, weight for body: 7."
    )
    assert parse_weights(text) == {"PTV": 1000.0, "bladder": 50.5, "rectum": 0.0, "femoral heads": 20.0, "body": 7.0}


def test_a_dict_is_checked_the_same_way():
    weights = {"ptv": 2, "bladder": 1, "rectum": 1, "femoral_heads": 1, "body": 1}
    assert as_weights(weights)["PTV"] == 2.0
    assert list(as_weights(weights)) == ["PTV", "bladder", "rectum", "femoral heads", "body"]


@pytest.mark.parametrize(
    "text,message",
    [
        ("", "no weights found"),
        ("make the rectum weight higher", "no weights found"),
        (PAPER.replace("PTV: 100", "PTV: high"), "weight for PTV is not a number: 'high'"),
        (PAPER.replace("rectum: 100", "rectum: -5"), "rectum must not be negative"),
        (PAPER.replace("body: 100", "body: nan"), "body must be a finite number"),
        (PAPER.replace("bladder: 100", "bladder: inf"), "bladder must be a finite number"),
        (PAPER.replace(", weight for body: 100", ""), "missing: body"),
        (PAPER + ", weight for prostate: 3", "unknown: prostate"),
        (PAPER + ", weight for PTV: 3", "given twice"),
        (PAPER.replace("PTV: 100", "PTV: 1e9"), "above the limit"),
        ("weight for PTV: 0, weight for bladder: 0, weight for rectum: 0, weight for femoral heads: 0, weight for body: 0", "all weights are zero"),
    ],
)
def test_bad_weights_text_gives_a_message_naming_the_problem(text, message):
    with pytest.raises(WeightsError, match=message):
        parse_weights(text)


@pytest.mark.parametrize(
    "weights,message",
    [
        ({"PTV": True, "bladder": 1, "rectum": 1, "femoral heads": 1, "body": 1}, "must be a number"),
        ({"PTV": "100", "bladder": 1, "rectum": 1, "femoral heads": 1, "body": 1}, "must be a number"),
        ({"PTV": math.nan, "bladder": 1, "rectum": 1, "femoral heads": 1, "body": 1}, "finite"),
        ({"PTV": MAX_WEIGHT * 2, "bladder": 1, "rectum": 1, "femoral heads": 1, "body": 1}, "above the limit"),
        ({"PTV": 1, "bladder": 1}, "missing: rectum, femoral heads, body"),
        (["PTV", 1], "text or a dict"),
    ],
)
def test_bad_weight_dicts_are_rejected(weights, message):
    with pytest.raises(WeightsError, match=message):
        as_weights(weights)


def test_a_limit_weight_is_still_accepted():
    assert parse_weights(PAPER.replace("PTV: 100", f"PTV: {MAX_WEIGHT:g}"))["PTV"] == MAX_WEIGHT


@pytest.mark.parametrize("tiny", ["1e-320", "5e-7"])
def test_positive_weights_below_the_minimum_are_rejected(tiny):
    with pytest.raises(WeightsError, match=f"rectum is {float(tiny)!r}, below the minimum of {MIN_WEIGHT:g}.*use 0"):
        parse_weights(PAPER.replace("rectum: 100", f"rectum: {tiny}"))
    assert parse_weights(PAPER.replace("rectum: 100", f"rectum: {MIN_WEIGHT:g}"))["rectum"] == MIN_WEIGHT


@pytest.mark.parametrize(
    "text",
    [
        "**weight for PTV**: 100, **weight for bladder**: 100, **weight for rectum**: 100, "
        "**weight for femoral heads**: 100, **weight for body**: 100",
        "- **weight for PTV:** 100\n- *weight for bladder:* 100\n- `weight for rectum: 100`\n"
        "- __weight for femoral heads__: 100\n- weight for body: **100**",
    ],
)
def test_markdown_emphasis_as_models_write_it_is_read(text):
    assert parse_weights(text) == parse_weights(PAPER)
    assert parse_weights(text.replace("femoral heads", "femoral_heads"))["femoral heads"] == 100.0
