"""One test per TAXONOMY.md trap, on hand-made blocks: what an analyst must (not) see flagged."""

from __future__ import annotations

import pytest

from monitor.extract import extract_statements
from monitor.statements import Block

DSHEA = (
    "These statements have not been evaluated by the Food and Drug Administration. "
    "This product is not intended to diagnose, treat, cure, or prevent any disease."
)


def kinds(*texts: str, **block: object) -> list[tuple[str, str]]:
    blocks = [Block(text, **block) for text in texts]  # type: ignore[arg-type]
    return [(s.kind, s.type) for s in extract_statements(blocks)]


@pytest.mark.parametrize(
    "text",
    [
        DSHEA,
        "*This statement has not been evaluated by the FDA. This product is not intended to diagnose, "
        "treat, cure or prevent any disease.",
        "Our products are not intended to diagnose, treat, cure, or prevent any disease.",
        "\u2020These statements have not been evaluated by the Food and Drug Administration.",
    ],
)
def test_dshea_text_is_a_disclaimer_never_a_disease_claim(text: str) -> None:
    statements = extract_statements([Block(text, region="footer")])
    assert [(s.kind, s.type) for s in statements] == [("disclaimer", "fda")]
    assert all(s.type != "disease" for s in statements)


def test_dshea_two_sentences_stay_one_statement_even_across_blocks() -> None:
    first, second = DSHEA.split(". ", 1)
    statements = extract_statements([Block(first + "."), Block(second)])
    assert len(statements) == 1
    assert statements[0].attributes == {"verbatim": True, "plural": True}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # negation: not a guarantee, and the "solve" is negated; the rest of the sentence still counts
        ("CalmLeg is not guaranteed to stop every cramp, and it won't fix cramps caused by medication.", []),
        ("Not guaranteed to work for everyone.", []),
        ("Magnesium alone won't solve nighttime cramping.", []),
        # hedging keeps a structure/function claim a claim
        ("May help support a healthy inflammatory response.", [("claim", "structure_function")]),
        ("Melatonin may help you fall asleep faster.*", [("claim", "structure_function")]),
    ],
)
def test_negation_and_hedging(text: str, expected: list[tuple[str, str]]) -> None:
    assert kinds(text) == expected


def test_claims_inside_testimonials_are_testimonials_and_disease_outcomes_are_high() -> None:
    blocks = [
        Block(
            '"My arthritis pain is gone and I stopped my ibuprofen."',
            "p",
            "main",
            frozenset({"testimonial"}),
            3,
        ),
        Block("- Dana, Ohio", "p", "main", frozenset({"testimonial"}), 3),
    ]
    (statement,) = extract_statements(blocks)
    assert (statement.kind, statement.type) == ("claim", "testimonial")
    # one statement per quote: the reviewer is an attribute, not part of the text (so a new byline is no change)
    assert "Dana" not in statement.text and statement.attributes["reviewer"] == "Dana, Ohio"
    assert statement.severity == "high"
    assert statement.attributes["disease_outcome"] is True


def test_a_testimonial_without_a_result_is_not_a_statement() -> None:
    blocks = [Block('"Fast shipping and easy to swallow."', "p", "main", frozenset({"testimonial"}), 1)]
    assert extract_statements(blocks) == []


@pytest.mark.parametrize(
    ("text", "type_"),
    [
        ("Backed by our 90-day empty-bottle guarantee, shipping not refunded.", "money_back"),
        ("Full refund within 30 days, less shipping.", "money_back"),
        ("Love it or your money back - for life.", "money_back"),
        ("Try it risk-free. No questions asked.", "money_back"),
        ("Return any unused bottles within 60 days for a refund of the purchase price.", "money_back"),
        ("Refunds are issued as store credit only.", "money_back"),
        ("100% satisfaction guaranteed.", "satisfaction"),
        ("Lose 10 lbs or it's free.", "other"),
        ("Auto-delivered every 30 days, cancel anytime.", "other"),
    ],
)
def test_guarantees_phrased_many_ways(text: str, type_: str) -> None:
    assert kinds(text) == [("guarantee", type_)]


def test_disclaimers_in_footers_under_testimonials_and_behind_asterisks_are_kept() -> None:
    blocks = [
        Block("Supports restful sleep.*"),
        Block('"I sleep like a baby!"', "p", "main", frozenset({"testimonial"}), 2),
        Block("*Results may vary.", "p", "main", frozenset({"footnote"})),
        Block(DSHEA, "p", "footer"),
        Block("Consult your physician before use.", "small", "footer"),
    ]
    assert [(s.kind, s.type) for s in extract_statements(blocks)] == [
        ("claim", "structure_function"),
        ("claim", "testimonial"),
        ("disclaimer", "results_vary"),
        ("disclaimer", "fda"),
        ("disclaimer", "medical_advice"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Magnesium is involved in over 300 enzyme reactions in the body.",
        "Magnesium plays a critical role in maintaining normal muscle function.",
        "Turmeric has been used in cooking for four thousand years.",
        "About one in three adults over sixty get leg cramps at night.",
        "Studies show around a third of older adults experience night cramps.",
        "Quinine is only moderately effective against nocturnal leg cramps.",
        "There is no one definitive cause or cure for leg cramps.",
        "Take two capsules daily with food.",
        "Each serving provides 1,500 mg. of glucosamine.",
        "Can it prevent me from catching the flu?",
    ],
)
def test_plain_facts_directions_and_questions_are_not_claims(text: str) -> None:
    assert kinds(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "12 people are viewing this right now",
        "Only 3 left in stock!",
        "Sale ends in 04:32:10",
        "Jessica from Denver just ordered 3 bottles \u00b7 2 minutes ago",
        "$39.95 $59.95 Save 33%",
        "Last updated 2024-05-01 14:03:22",
        "csrf a8f9c2e1b7d64f0e9a1c3b5d7e9f1a2b",
    ],
)
def test_noise_is_never_a_statement(text: str) -> None:
    assert kinds(text) == []


def test_social_proof_counters_do_not_change_the_key() -> None:
    (before,) = extract_statements([Block("4.9 stars from 28,000 buyers")])
    (after,) = extract_statements([Block("4.9 stars from 28,114 buyers")])
    assert before.type == after.type == "social_proof"
    assert before.severity == "low"
    assert before.key == after.key


@pytest.mark.parametrize(
    ("text", "type_", "rule"),
    [
        ("FlexaRoot is a natural alternative to celecoxib.", "disease", "drug_substitute"),
        ("Ditch your blood-pressure pills for good.", "disease", "drug_substitute"),
        ("It works better than Adderall for focus.", "disease", "drug_substitute"),
        # drug names from the drug vocabulary (MedlinePlus medicines), not the hand-kept lexicon
        ("ProstaFlow works like Flomax, minus the head rushes.", "disease", "drug_substitute"),
        ("Many couples choose Conceive Duo instead of Clomid.", "disease", "drug_substitute"),
        ("A gentle alternative to zolpidem for restless nights.", "disease", "drug_substitute"),
        # comparisons with a drug or a treatment (FDA's 2000 rule: "herbal Prozac")
        ("Turmeric Gold is basically nature's Celebrex.", "disease", "drug_substitute"),
        ("NightFlow does the same job as Flomax without the dizziness.", "disease", "drug_substitute"),
        ("Our ginger capsules are as effective as ibuprofen for period pain.", "disease", "drug_substitute"),
        ("Our formula opens tight airways as fast as a puffer.", "disease", "drug_substitute"),
        ("Replace your stool softeners with one capsule a day.", "disease", "drug_substitute"),
        ("Our antiviral elderberry extract keeps you going.", "disease", "drug_class"),
        ("Shrinks arthritis flare-ups in a week.", "disease", "treats_named_disease"),
        ("Stops migraines before they start.", "disease", "treats_named_disease"),
        ("For people with insomnia, our formula helps you sleep.", "disease", "treats_named_disease"),
    ],
)
def test_implied_disease_claims(text: str, type_: str, rule: str) -> None:
    (statement,) = extract_statements([Block(text)])
    assert (statement.kind, statement.type, statement.rule) == ("claim", type_, rule)
    assert statement.severity == "high"
    assert statement.matched


@pytest.mark.parametrize(
    "text",
    [
        "Tamsulosin relaxes the muscles of the prostate and is prescribed for an enlarged prostate.",
        "Ask your doctor before taking this with warfarin or clopidogrel.",
    ],
)
def test_a_drug_named_is_not_a_claim_by_itself(text: str) -> None:
    assert all(s.rule != "drug_substitute" for s in extract_statements([Block(text)]))


def test_the_drug_vocabulary_leaves_out_what_supplements_contain() -> None:
    from monitor.extract.vocabulary import drug_mentions

    assert [m.generic for m in drug_mentions("off my flomax and lipitor, on to vitamin d3")] == [
        "tamsulosin", "atorvastatin"]
    for text in ("magnesium citrate", "vitamin d", "folic acid", "fish oil", "melatonin", "healthy cortisol",
                 "n-acetylcysteine", "testosterone", "omega-3 fatty acids", "psyllium husk", "insulin"):
        assert drug_mentions(text) == (), text


def test_abbreviations_and_footnote_markers_do_not_split_sentences() -> None:
    statements = extract_statements(
        [
            Block(
                "Formulated with Dr. Raj Mehta, Ph.D., a neuroscientist at a U.S. university.\u00b9 "
                "Results may vary."
            )
        ]
    )
    assert [(s.type, s.text) for s in statements] == [
        ("authority", "Formulated with Dr. Raj Mehta, Ph.D., a neuroscientist at a U.S. university.\u00b9"),
        ("results_vary", "Results may vary."),
    ]


def test_guarantee_box_is_one_statement() -> None:
    box = frozenset({"guarantee"})
    blocks = [
        Block("Our 60-Day Promise", "h3", "main", box),
        Block(
            "Try it for 60 days. Not happy? Send back the bottles, even empty ones, for a full refund.",
            "p",
            "main",
            box,
        ),
    ]
    (statement,) = extract_statements(blocks)
    assert (statement.kind, statement.type) == ("guarantee", "money_back")
    assert statement.attributes["days"] == 60
    assert "empty bottles accepted" in statement.attributes["conditions"]


def test_a_guarantee_box_with_two_periods_holds_two_promises() -> None:
    """"Protected by our 180-day guarantee. Return your bottles within 90 business days": two windows, two
    statements, so a change of either is reported against the right one. Handling time ("refunds within 7
    days") stays with its promise."""
    box = frozenset({"guarantee"})
    blocks = [
        Block("Our Promise", "h3", "main", box),
        Block("Protected by our 180-day, no-questions-asked, 100% money-back guarantee. Return your bottles, even "
              "empty, within 90 business days for a refund, minus a $9.95 restocking fee.", "p", "main", box),
        Block("Shipping", "h3", "main"),
        Block("Our 60-Day Promise", "h3", "main", box),
        Block("Try it for 60 days. Not happy? Send back the bottles for a full refund. We refund you within 7 days "
              "of receiving them.", "p", "main", box),
    ]
    found = [(s.type, s.attributes["days"], s.text[:40]) for s in extract_statements(blocks) if s.kind == "guarantee"]
    assert found == [
        ("money_back", 180, "Our Promise Protected by our 180-day, no"),
        ("money_back", 90, "Return your bottles, even empty, within "),
        ("money_back", 60, "Our 60-Day Promise Try it for 60 days. N"),
    ]


def test_a_guarantee_box_cut_in_two_keeps_the_words_as_the_seller_wrote_them() -> None:
    """The evidence an analyst quotes is the page's own text: cutting a box at its second period must not
    drop its separators ("$39 · 3 bottles") or re-space it."""
    box = frozenset({"guarantee"})
    blocks = [
        Block("Lifetime Promise · Every bottle is covered by our lifetime guarantee.", "p", "main", box),
        Block("Return opened bottles within 60 days for a full refund · 1 bottle $39 · 3 bottles $89",
              "p", "main", box),
    ]
    found = [(s.attributes.get("days"), bool(s.attributes.get("lifetime")), s.text)
             for s in extract_statements(blocks) if s.kind == "guarantee"]
    assert found == [
        (None, True, "Lifetime Promise · Every bottle is covered by our lifetime guarantee."),
        (60, False, "Return opened bottles within 60 days for a full refund · 1 bottle $39 · 3 bottles $89"),
    ]


def test_a_satisfaction_seal_beside_a_money_back_box_is_its_own_statement() -> None:
    box = frozenset({"guarantee"})
    blocks = [
        Block("Our promise", "h2", "main", box),
        Block("Use it for 45 days; if your knees feel no better, return the jars for a refund.", "p", "main", box),
        Block("100% satisfaction guaranteed.", "p", "main", box),
    ]
    assert [(s.type, s.attributes.get("days")) for s in extract_statements(blocks)] == [
        ("money_back", 45), ("satisfaction", None)]


def test_positions_are_page_order_and_every_statement_explains_itself() -> None:
    statements = extract_statements(
        [
            Block("Clinically proven to raise focus 62%."),
            Block("Shipping is free."),
            Block(DSHEA, region="footer"),
        ]
    )
    assert [s.position for s in statements] == [0, 1]
    assert all(s.rule and s.matched for s in statements)



MENU_PAGE = """<html><head><title>Prostate Guard Gummies | Brightmere</title></head><body>
<nav><ul><li><a href="/">Shop all</a></li>{entries}<li><a href="/g">60-day money-back guarantee</a></li></ul></nav>
<main><h1>Prostate Guard Gummies</h1>
<p>Prostate Guard Gummies shrink an enlarged prostate and end night-time trips to the bathroom.</p></main>
</body></html>"""
MENU_ENTRIES = ["Prostate Guard gummies", "Prostate Guard softgels", "Prostate Guard powder", "Joint Relief capsules",
                "Blood Sugar Balance tablets", "Arthritis Support bundle", "Immune Defense gummies", "Sleep & Stress"]


def test_menu_entries_are_links_not_claims_unless_a_rule_finds_a_statement() -> None:
    """A shop's mega-menu names products ("Prostate Guard softgels" on the Prostate Guard page): links, not
    claims. The menu's "60-day money-back guarantee" is a guarantee, and the product's claim in the page's copy
    is still a disease claim."""
    from monitor.extract import analyse_page

    entries = "".join(f'<li><a href="/p{n}">{text}</a></li>' for n, text in enumerate(MENU_ENTRIES))
    found = analyse_page(MENU_PAGE.format(entries=entries)).statements
    assert [(s.text, s.kind, s.type) for s in found] == [
        ("60-day money-back guarantee", "guarantee", "money_back"),
        ("Prostate Guard Gummies shrink an enlarged prostate and end night-time trips to the bathroom.", "claim",
         "disease"),
    ]


def test_a_headline_of_several_short_sentences_is_one_statement() -> None:
    """"SHRINK YOUR PROSTATE. SLEEP THROUGH THE NIGHT." is one headline and one disease claim, not two halves
    that each look like less (a body paragraph is still cut into sentences)."""
    blocks = [Block("SHRINK YOUR PROSTATE. SLEEP THROUGH THE NIGHT.", "h1"),
              Block("Saw palmetto supports prostate health. Our capsules are made in Ohio.")]
    assert [(s.text, s.type) for s in extract_statements(blocks)] == [
        ("SHRINK YOUR PROSTATE. SLEEP THROUGH THE NIGHT.", "disease"),
        ("Saw palmetto supports prostate health.", "structure_function"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "We\u2019re performing some maintenance at the moment.",
        "Our website is down for maintenance.",
        "Our team is performing maintenance on the store.",
        "The shop is undergoing scheduled maintenance until 6 a.m.",
    ],
)
def test_the_sites_own_upkeep_is_no_claim(text: str) -> None:
    """A maintenance notice speaks of the shop, not of a body: it must never become a claim that a confirmed
    maintenance page would then report as added (tests/test_outage.py)."""
    assert kinds(text) == []
    assert kinds(text, tag="h1") == []


@pytest.mark.parametrize(
    "text",
    ["Supports the maintenance of healthy bones.", "Helps with the maintenance of normal blood pressure."],
)
def test_the_bodys_maintenance_is_still_a_claim(text: str) -> None:
    assert kinds(text) == [("claim", "structure_function")]
