"""The seed products a run creates on an empty catalog."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "loadtests"))
testdata = importlib.import_module("testdata")


def test_seed_products_are_deterministic_so_reruns_create_nothing_twice():
    assert testdata.seed_product(12) == testdata.seed_product(12)
    assert testdata.seed_product(12)["sku"] != testdata.seed_product(13)["sku"]


def test_seed_products_follow_the_contract():
    for index in range(1, 200):
        product = testdata.seed_product(index)
        assert re.fullmatch(r"\d+\.\d{2}", product["price"])
        assert re.fullmatch(r"[A-Za-z0-9._-]{1,64}", product["sku"])
        assert re.fullmatch(r"[A-Z]{3}", product["currency"])
        assert product["category"] in testdata.CATEGORIES
        assert product["stock"] >= 0


def test_search_terms_occur_in_seed_names():
    names = " ".join(testdata.seed_product(i)["name"].lower() for i in range(1, 300))
    assert all(term in names for term in testdata.SEARCH_TERMS)
