"""Load shapes: user counts over time, and the end of the run."""

from __future__ import annotations

import importlib
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "loadtests"))
shapes = importlib.import_module("shapes")

P = shapes.ShapeParams(users=100, spawn_rate=10, duration=100)


def test_steady_holds_the_peak_until_the_duration():
    assert shapes.steady(0, P) == (100, 10)
    assert shapes.steady(99.9, P) == (100, 10)
    assert shapes.steady(100, P) is None


def test_ramp_climbs_in_steps_and_ends_at_the_peak():
    counts = [shapes.ramp(t, P)[0] for t in range(0, 100, 5)]
    assert counts == sorted(counts)
    assert counts[0] == 10
    assert counts[-1] == 100
    assert shapes.ramp(100, P) is None


def test_spike_jumps_from_a_quarter_to_the_peak_and_back():
    assert shapes.spike(10, P)[0] == 25
    users, rate = shapes.spike(50, P)
    assert users == 100
    assert rate >= (100 - 25) / 5
    assert shapes.spike(70, P)[0] == 25
    assert shapes.spike(100, P) is None


def test_every_shape_ends_at_its_duration():
    for name, shape in shapes.SHAPES.items():
        assert shape(P.duration, P) is None, name
        assert shape(0, P) is not None, name


def test_params_default_per_shape_and_respect_the_options():
    soak = shapes.shape_params("soak", 50, None, None)
    assert soak.duration == 3600
    assert soak.spawn_rate == 5
    given = shapes.shape_params("spike", 10, 2, 60)
    assert (given.users, given.spawn_rate, given.duration) == (10, 2, 60)
    assert shapes.shape_params("steady", 10, 1, None, headless=False).duration == math.inf


def test_unknown_shape_is_refused():
    with pytest.raises(ValueError, match="unknown shape"):
        shapes.shape_params("sawtooth", 10, 1, 10)


def test_shape_name_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("LOCUST_SHAPE", raising=False)
    monkeypatch.setenv("SHAPE", "ramp")
    assert shapes.default_shape_name() == "ramp"
    monkeypatch.setenv("LOCUST_SHAPE", "spike")
    assert shapes.default_shape_name() == "spike"
