"""Attribute parsers: guarantee days/refund/conditions, DSHEA wording, disease terms, authority, severity."""

from __future__ import annotations

import pytest

from monitor.extract import extract_statements
from monitor.extract.attributes import (
    disease_terms,
    dshea_attributes,
    guarantee_conditions,
    guarantee_days,
    guarantee_refund,
    renewal_days,
)
from monitor.extract.keys import fold
from monitor.statements import Block


@pytest.mark.parametrize(
    ("text", "days", "lifetime"),
    [
        ("90-day money-back guarantee", 90, False),
        ("a ninety-day, no-questions-asked money-back guarantee", 90, False),
        ("Eight-week money-back guarantee", 56, False),
        ("our 365-night sleep trial", 365, False),
        ("a one year guarantee", 365, False),
        ("a full year to decide", 365, False),
        ("return it within 45 days from delivery", 45, False),
        ("try it for a full 60 days", 60, False),
        ("try LeanLeaf for thirty days", 30, False),
        ("a one hundred eighty day window", 180, False),
        ("forty-five-day guarantee", 45, False),
        ("6-month guarantee", 180, False),
        ("love it or your money back - for life", None, True),
        ("lifetime money-back guarantee", None, True),
        ("so our guarantee has no expiry date", None, True),
        ("the promise never expires", None, True),
        # not the guarantee window: processing, shipping, renewal, notice periods
        ("refunds are processed within 5-7 business days", None, False),
        ("we will send a free replacement within 14 days of your report", None, False),
        ("auto-ship orders renew every 60 days until cancelled", None, False),
        ("save 10% on repeat deliveries every 1, 2 or 3 months; skip or cancel any time", None, False),
        ("refunds are processed within 5 business days of receipt", None, False),
        ("refunds are issued within 14 days of delivery of your return", None, False),
        ("returns after the window qualify for store credit, valid for twelve months", None, False),
        ("cancel at least 3 days before your next ship date", None, False),
    ],
)
def test_guarantee_days(text: str, days: int | None, lifetime: bool) -> None:
    assert guarantee_days(fold(text)) == (days, lifetime)


def test_a_lifetime_promise_with_refund_terms_is_one_money_back_guarantee() -> None:
    """The promise and the refund terms after it in one paragraph are one statement, typed by what it offers
    (a refund), with the lifetime window of its first sentence."""
    (statement,) = extract_statements([Block(
        "We stand behind every jar, so our guarantee has no expiry date. If at any time you are not happy with "
        "your purchase, send it back for a full refund.")])
    assert (statement.kind, statement.type) == ("guarantee", "money_back")
    assert statement.attributes["lifetime"] is True and statement.attributes["refund"] == "full"


def test_a_guarantee_that_never_expires_is_a_lifetime_guarantee() -> None:
    """No "lifetime" and no "money back" in it, yet a promise an analyst must see change."""
    (statement,) = extract_statements([Block("We stand behind every jar, so our guarantee has no expiry date.")])
    assert (statement.kind, statement.attributes.get("lifetime")) == ("guarantee", True)


@pytest.mark.parametrize(
    ("text", "refund"),
    [
        ("we'll refund 100% of your purchase price", "100%"),
        ("a 90-day, 100% money-back guarantee", "100%"),
        ("return it for a full refund", "full"),
        ("we will refund your entire purchase", "full"),
        ("a full refund, minus a 15% restocking fee", "partial"),
        ("your money back, minus a $6.95 return shipping fee", "partial"),
        ("money-back guarantee; refunds less shipping and handling", "partial"),
        ("30-day money-back guarantee", None),
        ("100% satisfaction guaranteed", None),
    ],
)
def test_guarantee_refund(text: str, refund: str | None) -> None:
    assert guarantee_refund(fold(text)) == refund


@pytest.mark.parametrize(
    ("text", "conditions"),
    [
        ("full refund within 30 days, less shipping", ["less shipping"]),
        ("full refund minus a 15% restocking fee", ["restocking fee 15%"]),
        ("unopened bottles only, on your first order", ["unopened only", "first order only"]),
        ("empty bottles accepted, no questions asked", ["empty bottles accepted", "no questions asked"]),
        ("within 45 days from delivery", ["window from delivery"]),
        ("within 90 days of your purchase date", ["window from purchase"]),
        ("refund 100% of your purchase price", []),
        ("opened products may be returned for store credit only", ["store credit only"]),
    ],
)
def test_guarantee_conditions(text: str, conditions: list[str]) -> None:
    assert guarantee_conditions(fold(text)) == conditions


@pytest.mark.parametrize(
    ("text", "verbatim", "plural"),
    [
        (
            "This statement has not been evaluated by the Food and Drug Administration. This product is not "
            "intended to diagnose, treat, cure, or prevent any disease.",
            True,
            False,
        ),
        (
            "*These statements have not been evaluated by the Food and Drug Administration. "
            "These products are not intended to diagnose, treat, cure or prevent any disease.",
            True,
            True,
        ),
        (
            "These statements have not been evaluated or approved by the FDA. "
            "This product is not intended to diagnose, treat, cure or prevent any disease.",
            False,
            True,
        ),
        ("Our products are not intended to diagnose, treat, cure, or prevent any disease.", False, False),
    ],
)
def test_dshea_verbatim_and_plural(text: str, verbatim: bool, plural: bool) -> None:
    assert dshea_attributes(text) == {"verbatim": verbatim, "plural": plural}


@pytest.mark.parametrize(
    ("text", "terms", "serious"),
    [
        ("Reverses type 2 diabetes", ["diabetes"], True),
        ("Protects against COVID-19 and the flu", ["covid-19", "flu"], True),
        ("Reverse early signs of Alzheimer's disease and dementia", ["alzheimer's", "dementia"], True),
        ("Cures insomnia for good", ["insomnia"], False),
        ("Stops nocturnal leg cramps", ["nocturnal leg cramps"], False),
        ("Lowers high blood pressure", ["hypertension"], True),
    ],
)
def test_disease_terms_and_serious_flag(text: str, terms: list[str], serious: bool) -> None:
    found = disease_terms(fold(text))
    assert [name for name, _ in found] == terms
    (statement,) = extract_statements([Block(text + ".")])
    assert statement.type == "disease"
    assert statement.attributes["terms"] == terms
    assert statement.attributes["serious"] is serious
    assert statement.attributes["criterion"].startswith("101.93(g)(2)")


@pytest.mark.parametrize(
    ("text", "authority", "severity"),
    [
        ("VitaGuard is FDA approved.", "fda", "high"),
        ("Made in an FDA-registered facility.", "fda", "medium"),
        ("Pediatrician recommended for the whole family.", "physician", "medium"),
        ("Recommended by celebrity trainer Mike Dalton.", "celebrity", "medium"),
        ("Third-party tested in a GMP-certified facility.", "certification", "low"),
    ],
)
def test_authority(text: str, authority: str, severity: str) -> None:
    (statement,) = extract_statements([Block(text)])
    assert (statement.type, statement.attributes["authority"], statement.severity) == (
        "authority",
        authority,
        severity,
    )


@pytest.mark.parametrize(
    ("text", "type_", "severity"),
    [
        ("Clinically proven to raise focus 62%.", "clinical", "medium"),
        ("Drop 3 sizes in 21 days.", "efficacy", "medium"),
        ("Supports comfortable joints after workouts.", "structure_function", "low"),
        ("3 million bottles sold.", "social_proof", "low"),
        ("Full refund within 30 days, minus a 15% restocking fee.", "money_back", "high"),
        ("Full refund within 30 days.", "money_back", "low"),
        ("These statements have not been evaluated by the FDA.", "fda", "medium"),
    ],
)
def test_severity(text: str, type_: str, severity: str) -> None:
    (statement,) = extract_statements([Block(text)])
    assert (statement.type, statement.severity) == (type_, severity)


@pytest.mark.parametrize(
    ("text", "days"),
    [
        # what follows a period is the window when the statement names one; alone, the period is
        ("After sixty days, unopened bottles can still be returned within 120 days of purchase", 120),
        ("Even after those ninety days have passed, we accept returned bottles for a full year", 365),
        ("pay $5.95 shipping; after 14 days you will be enrolled in the monthly plan", 14),
        ("subscription orders can be refunded up to 90 business days after they ship", 90),
        ("unopened jars can also be sent back within 30 days for store credit", 30),
        ("our 7-night sample is free, and you may cancel within 10 days", 10),
        # a sample's or trial's length is the window when nothing else is
        ("Grab a 7-day sample for just $4.95 shipping; if you don't cancel, the plan begins", 7),
        # a window to cancel in, even glued to a shipping price by div soup
        ("14-night sample$4.95 shippingIf you don't cancel within 21 days, your plan starts", 21),
        # "issued within" a month or more of delivery is a window, not handling time
        ("refunds are issued within ninety days of delivery, minus the shipping", 90),
        ("the first tub is free; you pay $5.95 shipping and are billed $54 every month after 14 days", 14),
        ("if any shipment disappoints you, tell us within a month of delivery and keep the bottle", 30),
        ("remember, you have a whole year to decide", 365),
        ("sleep through the night by day thirty or your next bottle is on us", 30),
        ("use it for at least 60 days; if your knees still complain, email us any time within a year", 365),
        ("use it for at least 60 days; if it does not help, email us any time before day 365", 365),
        ("if you're not fired up, send back the empty bottles within sixty days for a refund", 60),
        ("return any product within one hundred and eighty (180) days of delivery for a refund", 180),
        ("opened bundles returned between day 61 and day 180 are refunded minus a 15% restocking fee", 180),
        ("claim your free 7-day sample pouch for $4.95 shipping; after 14 days you'll be enrolled", 14),
        ("we will repurchase resalable inventory bought within the last 12 months at 90% of its cost", 365),
    ],
)
def test_guarantee_days_windows_found_in_longer_terms(text: str, days: int) -> None:
    assert guarantee_days(fold(text)) == (days, False)


def test_an_auto_ship_cycle_is_its_own_attribute_and_its_change_is_stated() -> None:
    """"Ships every 30 days" is how often a subscription bills, not a window to claim a refund in: `days`
    stays the window, the cycle is `cycle_days`, and a change of cycle is stated, neither better nor worse."""
    from monitor.diff import guarantee_delta
    from monitor.report import describe_delta

    def attributes(text: str) -> dict:
        [statement] = [s for s in extract_statements([Block(text, "p", "main")]) if s.kind == "guarantee"]
        assert statement.type == "other", statement
        return statement.attributes

    before = attributes("Subscribe & Save: a fresh bottle ships every 30 days at 15% off; cancel anytime.")
    after = attributes("Subscribe & Save: a fresh bottle ships every 60 days at 15% off; cancel anytime.")
    assert (before["days"], before["cycle_days"], after["cycle_days"]) == (None, 30, 60)
    delta = guarantee_delta(before, after)
    assert delta["cycle_days"] == [30, 60] and not delta.get("worse") and not delta.get("better")
    assert "auto-ship every 30 days -> every 60 days" in describe_delta(delta)


@pytest.mark.parametrize(
    ("text", "cycle"),
    [
        ("ships every 4 weeks until you cancel", 28),
        ("receive a new 30-day supply every month; cancel any time", 30),
        ("a fresh jar every other week", 14),
        ("you receive a new box each 30 days at -20%", 30),
        ("billed monthly", 30),
        ("take two capsules every day", None),  # a dose, not a cycle
    ],
)
def test_renewal_days_is_how_often_a_subscription_ships(text: str, cycle: int | None) -> None:
    assert renewal_days(fold(text)) == cycle


def test_a_guarantee_takes_its_period_from_the_sentence_that_leads_into_it() -> None:
    """"Not in love after sixty days? Send back any unopened bottles for a refund": the period is in the question
    before the promise. The two are one statement with days 60, so a 60 -> 30 change is reported. A period in
    another paragraph, or a guarantee that names its own, is left alone."""
    page = [
        Block("Not in love after sixty days? Send back any unopened bottles for a refund of the product price."),
        Block("Try it for two full months. If you are not happy, return it for a refund of the purchase price."),
        Block("Take two capsules a day for 30 days."),
        Block("If you are not happy, return it for a refund of the purchase price."),
        Block("Loved by thousands for ten years. Return it within 45 days for a full refund."),
    ]
    found = [(s.text, s.attributes.get("days")) for s in extract_statements(page) if s.kind == "guarantee"]
    assert found == [
        ("Not in love after sixty days? Send back any unopened bottles for a refund of the product price.", 60),
        ("Try it for two full months. If you are not happy, return it for a refund of the purchase price.", 60),
        ("If you are not happy, return it for a refund of the purchase price.", None),
        ("Return it within 45 days for a full refund.", 45),
    ]


def test_a_trial_period_before_a_guarantee_is_part_of_the_promise() -> None:
    """"Try NightHold PM for up to 90 days. If you are not completely satisfied, contact us within 90 days...": one
    money-back guarantee, not an efficacy claim and a guarantee, so 90 -> 30 is one guarantee change."""
    text = ("Try NightHold PM for up to 90 days. If you are not completely satisfied, contact us within 90 days of "
            "delivery and return your bottles for a full refund of the purchase price.")
    (statement,) = extract_statements([Block(text)])
    assert (statement.kind, statement.type, statement.text) == ("guarantee", "money_back", text)
    assert statement.attributes["days"] == 90


def test_a_trial_lead_joins_its_guarantee_whatever_the_model_made_of_it() -> None:
    """The merge above must not hang on the model's reading of the trial sentence: a lead that is no statement
    ("Try ... for up to 90 days.") joins the guarantee after it in the same paragraph even when that guarantee
    names its own period; a lead that is not a trial joins only a guarantee without a period."""
    from monitor.extract import _sets_the_period
    from monitor.extract.classification import Classification
    from monitor.extract.segmentation import Unit

    guarantee = (Unit("If you are not satisfied, contact us within 90 days for a full refund.", 3),
                 Classification("guarantee", "money_back", "model", (), {"days": 90}))
    assert _sets_the_period(Unit("Try NightHold PM for up to 90 days.", 3), guarantee)
    assert not _sets_the_period(Unit("Not in love after sixty days?", 3), guarantee)  # it names its own period
    assert not _sets_the_period(Unit("Try NightHold PM for up to 90 days.", 2), guarantee)  # another paragraph
