"""Noise: what folds away (timestamps, tokens, counters, prices, order, markup) and what must not."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from monitor.noise import content_fingerprint, fingerprint_units, remove_noise, strip_noise
from monitor.normalize import html_to_blocks
from monitor.siteserver import SiteServer
from monitor.statements import Block

CHANGES = Path(__file__).parent / "sites" / "changes"

# Two renderings of the same text: must fold to the same string.
SAME = [
    ("Updated 2024-01-01 00:00:00", "Updated 2025-11-23 13:41:07"),
    ("Updated 2024-05-01T10:32:07Z", "Updated 2024-05-02T08:00:00+02:00"),
    ("Posted on 01/05/2024 at 10:32 pm", "Posted on 12/31/2025 at 9:05 AM"),
    ("Updated Monday, January 5, 2024", "Updated Tuesday, February 17, 2026"),
    ("Sale ends 5 March 2024", "Sale ends 28 October 2025"),
    ("Last review 3 minutes ago", "Last review 2 hours ago"),
    ("Offer ends in 02:14:33", "Offer ends in 00:59:01"),
    ("Offer ends in 2h 14m 05s", "Offer ends in 0h 03m 59s"),
    ("\u00a9 2019-2024 Hollow Creek", "\u00a9 2019-2025 Hollow Creek"),
    ("Copyright 2024 Hollow Creek", "Copyright 2025 Hollow Creek"),
    ("Session 0123456789abcdef0123456789abcdef", "Session fedcba9876543210fedcba9876543210"),
    ("Ref f3a9c0d1e2b3a4c5d6e7f8091a2b3c4d", "Ref 9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d"),
    ("Request 123e4567-e89b-12d3-a456-426614174000", "Request 9f1c2d3e-4b5a-6c7d-8e9f-0a1b2c3d4e5f"),
    ("Token x9K2mQ7pL4vR8sT1wY6zA3bC", "Token a1B2c3D4e5F6g7H8i9J0k1L2"),
    ("12 people are viewing this right now", "57 people are viewing this right now"),
    ("3 others have this in their cart", "19 others have this in their cart"),
    ("Only 3 left!", "Only 41 left!"),
    ("Only 2 bottles left in stock", "Only 60 bottles left in stock"),
    ("14 in stock", "3 in stock"),
    ("41 sold in the last 24 hours", "7 sold in the last 24 hours"),
    ("Viewed 120 times today", "Viewed 9 times today"),
    ("$49.95 per bottle", "$27.95 per bottle"),
    ("Was $79.95, now $39.95", "Was $89.95, now $44.95"),
    ("USD 49.00 per bottle", "USD 52.00 per bottle"),
    ("39,95 \u20ac incl. VAT", "42,95 \u20ac incl. VAT"),
    ("Save 40% today", "Save 35% today"),
    ("Save up to 30% on bundles", "Save up to 45% on bundles"),
    ("25% off your first order", "15% off your first order"),
    ("Supports restful sleep.", "SUPPORTS   RESTFUL SLEEP!"),
    ("\u201cMoney-back\u201d guarantee\u2026", '"Money back" guarantee...'),
    ("90\u00a0days \u2013 full refund", "90 days - full refund"),
    ("Caf\u00e9 blend", "CAF\u00c9 blend"),
    ("\uff19\uff10-day guarantee", "90-day guarantee"),
    ("zero\u200bwidth", "zerowidth"),
]

# Real changes: must fold to different strings.
DIFFERENT = [
    ("90-day money-back guarantee", "30-day money-back guarantee"),
    ("Clinically proven to raise focus 62%", "Clinically proven to raise focus 71%"),
    ("Take 2 capsules a day", "Take 3 capsules a day"),
    ("Take 3 times daily", "Take 2 times daily"),
    ("Over 250,000 bottles sold since 2016", "Over 350,000 bottles sold since 2016"),
    ("4.8 stars from 3,120 reviews", "4.9 stars from 3,120 reviews"),
    ("Only 3 capsules a day", "Only 4 capsules a day"),
    ("Return within 30 days left unopened", "Return within 60 days left unopened"),
    ("Just 7 days to results", "Just 9 days to results"),
    ("Relieves arthritis pain", "Supports joint comfort"),
    ("Vitamin B12 and CoQ10", "Vitamin B6 and CoQ10"),
    ("COVID-19 support", "COVID-21 support"),
    ("Raise focus 62%", "Raise focus 26%"),
]


@pytest.mark.parametrize(("a", "b"), SAME)
def test_noise_folds_away(a: str, b: str) -> None:
    assert strip_noise(a) == strip_noise(b)


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_real_differences_stay(a: str, b: str) -> None:
    assert strip_noise(a) != strip_noise(b)


def test_counter_keeps_its_phrase() -> None:
    assert strip_noise("12 people are viewing this") == "people are viewing this"
    assert strip_noise("Only 3 left") == "only left"


def test_remove_noise_keeps_the_rest_verbatim() -> None:
    assert remove_noise("Try it for 90 days, $49.95.") == "Try it for 90 days,  ."


def blocks(*texts: str) -> list[Block]:
    return [Block(text=text) for text in texts]


PAGE = blocks(
    "RestWell Magnesium Night Formula",
    "Supports restful sleep and a calm evening routine.*",
    "Every bottle is backed by our 90-day money-back guarantee for a full refund.",
    "\u201cI fall asleep faster.\u201d Marisol K., Tucson",
    "Individual results may vary.",
)


def test_fingerprint_ignores_order_duplicates_and_case() -> None:
    shuffled = list(reversed(PAGE)) + [PAGE[1]]
    shouted = [Block(text=b.text.upper(), tag="div", region="footer") for b in PAGE]
    assert content_fingerprint(PAGE) == content_fingerprint(shuffled) == content_fingerprint(shouted)


def test_fingerprint_ignores_block_splits_at_sentence_ends() -> None:
    joined = blocks(PAGE[0].text, " ".join(b.text for b in PAGE[1:3]), *[b.text for b in PAGE[3:]])
    assert content_fingerprint(joined) == content_fingerprint(PAGE)


def test_fingerprint_changes_with_any_sentence() -> None:
    base = content_fingerprint(PAGE)
    for index, block in enumerate(PAGE):
        changed = list(PAGE)
        changed[index] = Block(text=block.text.replace("a", "an", 1) + " now")
        assert content_fingerprint(changed) != base, block.text
    assert content_fingerprint(PAGE[:-1]) != base
    assert content_fingerprint([*PAGE, Block(text="Reverses arthritis in two weeks.")]) != base


def test_fingerprint_ignores_noise_blocks() -> None:
    noisy = [*PAGE, Block(text="12 people are viewing this"), Block(text="Updated 2024-01-01 00:00:00")]
    other = [*PAGE, Block(text="51 people are viewing this"), Block(text="Updated 2025-06-30 23:59:59")]
    assert content_fingerprint(noisy) == content_fingerprint(other)


def test_units_are_folded_sentences() -> None:
    assert "individual results may vary" in fingerprint_units(PAGE)
    assert fingerprint_units([]) == set()


@pytest.mark.parametrize("case", ["noise_timestamps", "noise_tokens_counters", "noise_carousel"])
def test_noise_fixture_renderings_share_one_fingerprint(case: str) -> None:
    raw = (CHANGES / case / "v1" / "index.html").read_bytes()
    server = SiteServer(CHANGES / case / "v1", noise=True, seed=random.randrange(1 << 30))
    rng = random.Random()

    def timestamp(_match: re.Match[bytes]) -> bytes:  # the server's clock would not move within the test
        return b"20%02d-%02d-%02d %02d:%02d:%02d" % (
            rng.randint(20, 30), rng.randint(1, 12), rng.randint(1, 28),
            rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59),
        )

    renderings = [server._render(re.sub(rb"\{\{noise:timestamp\}\}", timestamp, raw)) for _ in range(8)]
    assert len(set(renderings)) > 1  # the server did vary them
    assert len({content_fingerprint(html_to_blocks(html)) for html in renderings}) == 1


@pytest.mark.parametrize(
    ("case", "same"),
    [
        ("trivial_rewording", True),
        ("reordered_sections", True),
        ("markup_only", True),
        ("guarantee_shortened", False),
        ("guarantee_removed", False),
        ("dshea_removed", False),
        ("disease_claim_added", False),
        ("claim_softened", False),
        ("testimonial_disclaimer_removed", False),
    ],
)
def test_fixture_pairs_fingerprint(case: str, same: bool) -> None:
    fingerprints = [
        content_fingerprint(html_to_blocks((CHANGES / case / version / "index.html").read_bytes()))
        for version in ("v1", "v2")
    ]
    assert (fingerprints[0] == fingerprints[1]) is same


# --- folding non-ASCII text: the fast path gives what folding run by run gives ---------------------------


def _fold_by_runs(text: str) -> str:
    """The definition: ASCII through the byte table, each maximal non-ASCII run through NFKC + casefold."""
    from monitor import noise

    folded = text.encode("utf-8").translate(noise._ASCII_FOLD).decode("utf-8")
    return noise._NON_ASCII.sub(lambda match: noise._fold_run(match.group()), folded)


def _stable_chars() -> list[str]:
    from monitor.noise import _is_stable

    return [chr(code) for code in range(0x80, 0x2150) if _is_stable(chr(code))]


def test_every_pair_of_fast_folded_characters_folds_as_one_run() -> None:
    from monitor.noise import _fold_units

    stable = _stable_chars()
    assert len(stable) == 336
    for first in stable:
        for second in stable:
            pair = first + second
            assert _fold_units(pair) == _fold_by_runs(pair), (hex(ord(first)), hex(ord(second)))


def test_fast_folding_matches_folding_by_runs_on_mixed_text() -> None:
    from monitor.noise import _fold_units

    rng = random.Random(7)
    stable = _stable_chars()
    # a few that must take the slow path: combining marks after ASCII letters, Greek, CJK, Hangul jamo
    others = ["\u0301", "\u0308", "\u03bc", "\u4e2d", "\u1100\u1161", "\ufb01", "\uff21"]
    for _ in range(3000):
        pieces = [rng.choice(["Risk-free ", "90-DAY ", "e", "A", ". ", "\n", "x", " "]) for _ in range(6)]
        pieces += [rng.choice(stable) for _ in range(rng.randint(0, 4))]
        if rng.random() < 0.3:
            pieces.append(rng.choice(others))
        rng.shuffle(pieces)
        text = "".join(pieces)
        assert _fold_units(text) == _fold_by_runs(text), repr(text)


def test_folding_keeps_the_decomposed_accent_of_an_ascii_letter_apart() -> None:
    from monitor.noise import _fold_units

    # "e" + combining acute: the run is the accent alone (a mark, so a space), not a composed "é"
    assert _fold_units("Caf\u0065\u0301 cr\u00e8me \u2014 \u00a9") == "cafe  crème    "
