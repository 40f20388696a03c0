"""Page findings and the cross-snapshot key."""

from __future__ import annotations

import doctest

import pytest

import monitor.extract
from monitor.extract import (
    attributes,
    extract_statements,
    keys,
    page_findings,
    segmentation,
    severity,
    statement_key,
)
from monitor.statements import Block

DSHEA = (
    "These statements have not been evaluated by the Food and Drug Administration. "
    "This product is not intended to diagnose, treat, cure, or prevent any disease."
)


def codes(*blocks: Block) -> dict[str, str]:
    return {f.code: f.severity for f in page_findings(extract_statements(blocks))}


def test_structure_function_claim_without_dshea_is_a_high_finding() -> None:
    assert codes(Block("Supports healthy joints.")) == {"sf_claim_without_dshea": "high"}
    assert codes(Block("Supports healthy joints."), Block(DSHEA, region="footer")) == {}


def test_non_verbatim_dshea_is_a_medium_finding() -> None:
    found = codes(
        Block("Supports healthy joints."), Block("These statements have not been evaluated by the FDA.")
    )
    assert found == {"dshea_not_verbatim": "medium"}


def test_testimonial_qualified_only_by_results_may_vary() -> None:
    quote = Block('"I lost 30 pounds in a month!"', "p", "main", frozenset({"testimonial"}), 1)
    assert codes(quote, Block("Results may vary.")) == {"testimonial_results_vary_only": "medium"}
    typical = Block("Results may vary. Typical customers lose 2 to 4 pounds a month.")
    assert "testimonial_results_vary_only" not in codes(quote, typical)


@pytest.mark.parametrize(
    "terms",
    [
        "Full refund within 30 days, less shipping.",
        "Opened products may be returned for store credit only.",
        "A 20% restocking fee applies to all refunds.",
    ],
)
def test_money_back_wording_with_less_than_full_refund_is_high(terms: str) -> None:
    found = codes(Block("We offer a 100% money-back guarantee for 45 days."), Block(terms))
    assert found == {"guarantee_less_than_full_refund": "high"}


def test_a_plain_money_back_guarantee_has_no_finding() -> None:
    assert codes(Block("30-day money-back guarantee, no questions asked.")) == {}


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("\u201cSupports  joint comfort\u201d*", "supports joint comfort"),
        ("Supports joint comfort.\u2020\u00b9", "supports joint comfort"),
        ("It\u2019s the #1 formula \u2014 really!", "it s the 1 formula really"),
        ("Nearly 40% of adults have cramps.2", "nearly 40 of adults have cramps"),
        ("De-mineralization of soil 6", "de mineralization of soil"),
        ("90\u2011day\u00a0money-back guarantee", "90 day money back guarantee"),
        ("Caf\u00e9 Blend\u00ae supports focus", "caf\u00e9 blend supports focus"),
    ],
)
def test_statement_key(text: str, key: str) -> None:
    assert statement_key(text) == key


def test_key_keeps_the_numbers_that_matter() -> None:
    assert statement_key("30-day money-back guarantee") != statement_key("90-day money-back guarantee")


def test_extraction_is_pure_and_deterministic() -> None:
    blocks = [Block("Supports healthy joints."), Block(DSHEA, region="footer")]
    assert extract_statements(blocks) == extract_statements(list(blocks))


@pytest.mark.parametrize("module", [monitor.extract, attributes, keys, segmentation, severity])
def test_docstring_examples(module: object) -> None:
    failures, _ = doctest.testmod(module)  # type: ignore[arg-type]
    assert failures == 0
