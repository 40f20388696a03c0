"""Statement diff: matching, severity rules, guarantee deltas, repeated sentences and anti-flap."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.diff import StatementChange, diff_statements, guarantee_delta, inline_diff
from monitor.noise import strip_noise
from monitor.statements import Statement

CHANGES = Path(__file__).parent / "sites" / "changes"

SEVERITY = {
    ("claim", "disease"): "high",
    ("claim", "efficacy"): "medium",
    ("claim", "clinical"): "medium",
    ("claim", "authority"): "medium",
    ("claim", "structure_function"): "low",
    ("claim", "testimonial"): "low",
    ("claim", "social_proof"): "low",
    ("guarantee", "money_back"): "low",
    ("disclaimer", "fda"): "low",
    ("disclaimer", "results_vary"): "low",
    ("disclaimer", "medical_advice"): "low",
}


def st(
    kind: str, type_: str, text: str, position: int = 0, severity: str | None = None, **attrs: Any
) -> Statement:
    """A hand-built statement; the key folds like the extractor's (case, punctuation, whitespace)."""
    return Statement(
        kind=kind,
        type=type_,
        text=text,
        key=" ".join(strip_noise(text).split()),
        severity=severity or SEVERITY.get((kind, type_), "low"),
        attributes=attrs,
        position=position,
    )


DSHEA = st(
    "disclaimer",
    "fda",
    "These statements have not been evaluated by the Food and Drug Administration. This product is not "
    "intended to diagnose, treat, cure, or prevent any disease.",
    90,
    verbatim=True,
    plural=True,
)
SF = st("claim", "structure_function", "Supports restful sleep and a calm evening routine.*", 10)
SF2 = st("claim", "structure_function", "Helps relax tired muscles after a long day.*", 11)
TESTIMONIAL = st("claim", "testimonial", "\u201cI fall asleep faster than ever.\u201d - Marisol K.", 30)
RESULTS = st("disclaimer", "results_vary", "Individual results may vary.", 31)
G90 = st("guarantee", "money_back", "Backed by our 90-day money-back guarantee for a full refund.", 50,
         days=90, refund="full", conditions=[])
G30 = st("guarantee", "money_back", "Backed by our 30-day money-back guarantee for a full refund.", 50,
         days=30, refund="full", conditions=[])
PAGE = [SF, SF2, TESTIMONIAL, RESULTS, G90, DSHEA]


def only(changes: list[StatementChange]) -> StatementChange:
    assert len(changes) == 1, changes
    return changes[0]


def replace(page: list[Statement], old: Statement | None, new: Statement | None) -> list[Statement]:
    out = [s for s in page if s is not old]
    return out + ([new] if new is not None else [])


# --- matching ----------------------------------------------------------------------------------------------


def test_identical_pages_have_no_changes() -> None:
    assert diff_statements(PAGE, list(PAGE)) == []


@pytest.mark.parametrize(
    "rendering",
    [
        "SUPPORTS RESTFUL SLEEP AND A CALM EVENING ROUTINE!",
        "Supports   restful\nsleep, and a calm evening routine",
        "Supports\u00a0restful sleep and a calm evening routine\u2026",
        "\u201cSupports restful sleep\u201d and a calm evening routine.\u2020",
    ],
)
def test_noise_in_a_statement_is_not_a_change(rendering: str) -> None:
    # even when the key itself kept the difference, the diff folds it again
    variant = Statement(SF.kind, SF.type, rendering, rendering, SF.severity, position=SF.position)
    assert diff_statements(PAGE, replace(PAGE, SF, variant)) == []


def test_price_inside_a_statement_is_not_a_change() -> None:
    # the extractor's key may have folded "$39.95" to "39 95", where it no longer looks like a price
    before = Statement("guarantee", "money_back", "90-day guarantee: we refund the full $39.95.",
                       "90 day guarantee we refund the full 39 95", "low", {"days": 90}, 5)
    after = Statement("guarantee", "money_back", "90-day guarantee: we refund the full $57.95.",
                      "90 day guarantee we refund the full 57 95", "low", {"days": 90}, 5)
    assert diff_statements([before], [after]) == []


def test_reordering_is_not_a_change() -> None:
    reordered = [
        Statement(s.kind, s.type, s.text, s.key, s.severity, s.attributes, 100 - s.position) for s in PAGE
    ]
    assert diff_statements(PAGE, reordered) == []


def test_a_repeated_sentence_changes_once() -> None:
    before = [G90, SF, _moved(G90, 80)]
    after = [G30, SF, _moved(G30, 80)]
    change = only(diff_statements(before, after))
    assert (change.change, change.delta["days"], change.before_position) == ("modified", [90, 30], 50)


def test_one_copy_of_a_repeated_sentence_going_is_no_change() -> None:
    assert diff_statements([G90, SF, _moved(G90, 80)], [G90, SF]) == []


def _moved(statement: Statement, position: int) -> Statement:
    return Statement(statement.kind, statement.type, statement.text, statement.key, statement.severity,
                     statement.attributes, position)


def test_rewrite_is_modified_with_inline_diff() -> None:
    change = only(diff_statements(PAGE, replace(PAGE, G90, G30)))
    assert change.change == "modified"
    assert (change.before, change.after) == (G90.text, G30.text)
    assert ("delete", "90-day") in change.inline and ("insert", "30-day") in change.inline
    assert change.key == G30.key
    assert (change.before_position, change.after_position) == (50, 50)


def test_unrelated_statements_are_added_and_removed() -> None:
    new = st("claim", "structure_function", "Promotes a healthy stress response.*", 11)
    changes = diff_statements(PAGE, replace(PAGE, SF2, new))
    assert sorted(c.change for c in changes) == ["added", "removed"]


def test_similarity_cutoff_is_a_parameter() -> None:
    new = st("claim", "structure_function", "Helps relax sore muscles after a long week.*", 11)
    assert [c.change for c in diff_statements(PAGE, replace(PAGE, SF2, new), similarity=70)] == ["modified"]
    assert sorted(c.change for c in diff_statements(PAGE, replace(PAGE, SF2, new), similarity=99)) == [
        "added",
        "removed",
    ]


def test_fuzzy_matching_stays_within_a_kind() -> None:
    claim = st("claim", "efficacy", "Backed by our 90-day research for a full night of sleep.", 50)
    changes = diff_statements([G90], [claim], similarity=10)
    assert sorted((c.change, c.kind) for c in changes) == [("added", "claim"), ("removed", "guarantee")]


def test_best_pairs_win() -> None:
    a1 = st("claim", "structure_function", "Supports healthy joints in active adults.", 1)
    a2 = st("claim", "structure_function", "Supports healthy sleep in busy adults.", 2)
    b1 = st("claim", "structure_function", "Supports healthy sleep in very busy adults.", 1)
    b2 = st("claim", "structure_function", "Supports healthy joints in active older adults.", 2)
    changes = diff_statements([a1, a2], [b1, b2])
    assert {(c.before, c.after) for c in changes} == {(a1.text, b2.text), (a2.text, b1.text)}


# --- severity ----------------------------------------------------------------------------------------------

DISEASE = st("claim", "disease", "Reverses arthritis in two weeks.", 12, terms=["arthritis"], serious=False)
SERIOUS = st("claim", "disease", "Lowers blood sugar so you can stop insulin.", 12, terms=["diabetes"],
             serious=True)
EFFICACY = st("claim", "efficacy", "The strongest sleep formula on Earth.", 13)
CLINICAL = st("claim", "clinical", "Clinically proven to cut nighttime waking by 48%.", 14)


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        # (change, kind, type, severity)
        (PAGE, PAGE + [DISEASE], ("added", "claim", "disease", "high")),
        (PAGE, PAGE + [EFFICACY], ("added", "claim", "efficacy", "medium")),
        (PAGE, PAGE + [CLINICAL], ("added", "claim", "clinical", "medium")),
        (PAGE, PAGE + [st("claim", "social_proof", "Over 40,000 bottles sold.", 15)],
         ("added", "claim", "social_proof", "low")),
        (PAGE + [DISEASE], PAGE, ("removed", "claim", "disease", "low")),
        (PAGE, replace(PAGE, G90, None), ("removed", "guarantee", "money_back", "medium")),
        (replace(PAGE, G90, None), PAGE, ("added", "guarantee", "money_back", "low")),
        (PAGE, replace(PAGE, DSHEA, None), ("removed", "disclaimer", "fda", "high")),
        (replace(PAGE, DSHEA, None), PAGE, ("added", "disclaimer", "fda", "low")),
        (PAGE, replace(PAGE, RESULTS, None), ("removed", "disclaimer", "results_vary", "medium")),
        ([SF, RESULTS], [SF], ("removed", "disclaimer", "results_vary", "low")),
        ([SF, st("disclaimer", "medical_advice", "Consult your doctor before use.", 3)], [SF],
         ("removed", "disclaimer", "medical_advice", "low")),
    ],
    ids=[
        "disease-added",
        "efficacy-added",
        "clinical-added",
        "social-proof-added",
        "disease-removed",
        "guarantee-removed",
        "guarantee-added",
        "dshea-removed-sf-remain",
        "dshea-added",
        "results-vary-removed-testimonials-remain",
        "results-vary-removed-no-testimonials",
        "medical-advice-removed",
    ],
)
def test_severity_of_added_and_removed(
    before: list[Statement], after: list[Statement], expected: tuple[str, str, str, str]
) -> None:
    change = only(diff_statements(before, after))
    assert (change.change, change.kind, change.type, change.severity) == expected


def test_disease_claim_added_flags_terms_and_serious() -> None:
    change = only(diff_statements(PAGE, PAGE + [SERIOUS]))
    assert change.severity == "high"
    assert change.delta["terms"] == ["diabetes"] and change.delta["serious"] is True


def test_serious_terms_as_a_list() -> None:
    claim = st("claim", "disease", "Shrinks tumors naturally.", 3, terms=["tumor"], serious=["cancer"])
    delta = only(diff_statements([SF], [SF, claim])).delta
    assert delta["serious"] is True and delta["serious_terms"] == ["cancer"]


@pytest.mark.parametrize(
    ("remaining", "severity", "reason"),
    [
        ([SF], "high", "dshea_removed_with_structure_function_claims"),
        ([DISEASE], "medium", "dshea_removed_with_claims"),
        ([EFFICACY, G90], "medium", "dshea_removed_with_claims"),
        ([G90], "low", "dshea_removed_no_claims"),
        ([], "low", "dshea_removed_no_claims"),
        ([SF, _moved(st("disclaimer", "fda", "This statement has not been evaluated by the FDA. This product "
                        "is not intended to diagnose, treat, cure, or prevent any disease.", 0,
                        verbatim=True), 5)], "low", "dshea_still_present"),
    ],
    ids=["sf-remain", "disease-remains", "efficacy-remains", "no-claims", "empty-page", "another-dshea"],
)
def test_dshea_removed_depends_on_what_remains(
    remaining: list[Statement], severity: str, reason: str
) -> None:
    changes = [c for c in diff_statements(remaining + [DSHEA], remaining) if c.type == "fda"]
    change = only(changes)
    assert (change.change, change.severity, change.delta["reasons"]) == ("removed", severity, [reason])


def test_claim_softened_is_a_low_modified_change_with_the_type_change() -> None:
    tail = "so your knees can keep up with the grandkids on weekend hikes."
    before = st("claim", "disease", f"FlexaRoot calms arthritis pain {tail}", 4, terms=["arthritis"])
    after = st("claim", "structure_function", f"FlexaRoot supports joint comfort {tail}*", 4)
    change = only(diff_statements([before, DSHEA], [after, DSHEA]))
    assert (change.change, change.type, change.before_type, change.severity) == (
        "modified",
        "structure_function",
        "disease",
        "low",
    )
    assert change.delta["type"] == ["disease", "structure_function"]


def test_claim_hardened_into_a_disease_claim_is_high() -> None:
    before = st("claim", "structure_function", "Supports healthy blood sugar levels every single day.", 4)
    after = st("claim", "disease", "Lowers high blood sugar levels every single day.", 4,
               terms=["high blood sugar"])
    change = only(diff_statements([before, DSHEA], [after, DSHEA], similarity=70))
    assert (change.change, change.before_type, change.severity) == ("modified", "structure_function", "high")
    assert change.delta["terms"] == ["high blood sugar"]


def test_reworded_clinical_claim_keeps_its_severity() -> None:
    after = st("claim", "clinical", "Clinically proven to cut nighttime waking by 61%.", 14)
    change = only(diff_statements([CLINICAL], [after]))
    assert (change.change, change.severity) == ("modified", "medium")


def test_efficacy_claim_toned_down_is_low() -> None:
    before = st("claim", "efficacy", "The strongest formula to help you relax in the evening.", 5)
    after = st("claim", "structure_function", "A gentle formula to help you relax in the evening.", 5)
    change = only(diff_statements([before], [after]))
    assert (change.change, change.severity) == ("modified", "low")


def _guarantee(days: int | None, refund: str | None = "full", conditions: tuple[str, ...] = (),
               lifetime: bool = False, type_: str = "money_back") -> Statement:
    period = "lifetime" if lifetime else f"{days}-day"
    extra = (", " + ", ".join(conditions)) if conditions else ""
    text = f"Covered by our {period} money-back guarantee with a {refund or 'complete'} refund{extra}."
    return st("guarantee", type_, text, 50, days=days, refund=refund, conditions=list(conditions),
              lifetime=lifetime)


@pytest.mark.parametrize(
    ("before", "after", "severity", "worse", "better"),
    [
        (_guarantee(90), _guarantee(30), "medium", ["shortened"], []),
        (_guarantee(30), _guarantee(90), "low", [], ["lengthened"]),
        (_guarantee(90, "full"), _guarantee(90, "partial"), "medium", ["refund_cut"], []),
        (_guarantee(90, "partial"), _guarantee(90, "100%"), "low", [], ["refund_raised"]),
        (_guarantee(90), _guarantee(90, conditions=("less shipping",)), "medium", ["conditions_added"], []),
        (_guarantee(90, conditions=("less shipping",)), _guarantee(90), "low", [], ["conditions_removed"]),
        (_guarantee(90), _guarantee(90, conditions=("empty bottles accepted",)), "low", [],
         ["favourable_added"]),
        (_guarantee(90, conditions=("empty bottles accepted",)), _guarantee(90), "medium",
         ["favourable_removed"], []),
        (_guarantee(None, lifetime=True), _guarantee(365), "medium", ["lifetime_lost"], []),
        (_guarantee(60), _guarantee(None, lifetime=True), "low", [], ["lifetime_added"]),
        (_guarantee(90), _guarantee(30, "partial", ("restocking fee 15%",)), "medium",
         ["shortened", "refund_cut", "conditions_added"], []),
    ],
    ids=[
        "shortened",
        "lengthened",
        "refund-cut",
        "refund-raised",
        "conditions-added",
        "conditions-removed",
        "favourable-added",
        "favourable-removed",
        "lifetime-lost",
        "lifetime-added",
        "everything-worse",
    ],
)
def test_modified_guarantee(
    before: Statement, after: Statement, severity: str, worse: list[str], better: list[str]
) -> None:
    change = only(diff_statements([before], [after], similarity=60))
    assert (change.change, change.severity) == ("modified", severity)
    assert (change.delta["worse"], change.delta["better"]) == (worse, better)


def test_money_back_turned_satisfaction_only_is_medium() -> None:
    before = st("guarantee", "money_back", "Love it or your money back, guaranteed for 90 days.", 1, days=90)
    after = st("guarantee", "satisfaction", "Love it or you will be satisfied, guaranteed for 90 days.", 1,
               days=90)
    change = only(diff_statements([before], [after], similarity=60))
    assert (change.severity, change.before_type) == ("medium", "money_back")
    assert "refund_removed" in change.delta["worse"]


def test_dshea_disclaimer_no_longer_verbatim_is_medium() -> None:
    text = ("These statements have not been evaluated by the FDA. This product is not intended to diagnose, "
            "treat, cure, or prevent any disease.")
    after = st("disclaimer", "fda", text, 90, verbatim=False, plural=True)
    change = only(diff_statements([SF, DSHEA], [SF, after]))
    assert (change.change, change.severity, change.delta["verbatim"]) == ("modified", "medium", [True, False])


# --- guarantee_delta -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ({"days": 90}, {"days": 30}, {"days": [90, 30], "worse": ["shortened"], "better": []}),
        ({"days": 90}, {"days": 90}, {"worse": [], "better": []}),
        ({"days": 90, "refund": "full"}, {"days": 90, "refund": None},
         {"refund": ["full", None], "worse": [], "better": []}),
        ({"refund": None}, {"refund": "partial"}, {"refund": [None, "partial"], "worse": ["refund_cut"],
                                                   "better": []}),
        ({"conditions": ["Less shipping."]}, {"conditions": ["less shipping"]}, {"worse": [], "better": []}),
        ({"days": None, "lifetime": True}, {"days": None, "lifetime": False},
         {"lifetime": [True, False], "worse": ["lifetime_lost"], "better": []}),
        ({"days": 60}, {"days": None}, {"days": [60, None], "worse": [], "better": []}),
        ({}, {"conditions": ["first order only"]},
         {"conditions_added": ["first order only"], "worse": ["conditions_added"], "better": []}),
    ],
)
def test_guarantee_delta(before: dict[str, Any], after: dict[str, Any], expected: dict[str, Any]) -> None:
    assert guarantee_delta(before, after) == expected


def test_inline_diff() -> None:
    assert inline_diff("Try it for 90 days today", "Try it for 30 days") == (
        ("equal", "Try it for"),
        ("delete", "90"),
        ("insert", "30"),
        ("equal", "days"),
        ("delete", "today"),
    )


# --- anti-flap -------------------------------------------------------------------------------------------

VARIANT_A = st("claim", "efficacy", "The fastest way to fall asleep, guaranteed by science.", 20)
VARIANT_B = st("claim", "social_proof", "Join 40,000 sleepers who switched this year.", 20)
A = PAGE + [VARIANT_A]
B = PAGE + [VARIANT_B]


def test_ab_flip_is_reported_once() -> None:
    snapshots = [A, B, A, B, A, B]
    reported = []
    for index in range(1, len(snapshots)):
        history = list(reversed(snapshots[max(0, index - 4) : index - 1]))  # K=3, newest first
        reported.append(diff_statements(snapshots[index - 1], snapshots[index], history=history))
    assert sorted(c.change for c in reported[0]) == ["added", "removed"]
    assert all(changes == [] for changes in reported[1:])


def test_modified_flip_is_reported_once() -> None:
    v90, v30 = replace(PAGE, G30, None), replace(PAGE, G90, G30)
    assert [c.change for c in diff_statements(v90, v30, history=[])] == ["modified"]
    assert diff_statements(v30, v90, history=[v90]) == []


def test_history_outside_the_window_is_forgotten() -> None:
    # the claim was on the page long ago, but not in the K snapshots passed: reported again
    without, with_claim = PAGE, PAGE + [DISEASE]
    change = only(diff_statements(without, with_claim, history=[without, without]))
    assert (change.change, change.severity) == ("added", "high")


def test_removal_is_reported_when_the_old_snapshot_looks_different() -> None:
    # a statement added then removed while the page otherwise changed a lot is still reported
    old_page = [st("claim", "structure_function", f"Old bullet number {i} about calm.", i) for i in range(8)]
    change = only(diff_statements(PAGE + [EFFICACY], PAGE, history=[old_page]))
    assert (change.change, change.type) == ("removed", "efficacy")


def test_new_statement_not_in_history_is_reported() -> None:
    change = only(diff_statements(A, A + [DISEASE], history=[B, A]))
    assert (change.change, change.type) == ("added", "disease")


# --- fixture pairs through extraction (runs once monitor.extract exists) ---------------------------------


def _load_expected() -> dict[str, Any]:
    return yaml.safe_load((CHANGES / "expected.yaml").read_text(encoding="utf-8"))["cases"]


@pytest.mark.parametrize("case", sorted(_load_expected()))
def test_fixture_pairs(case: str) -> None:
    extract = pytest.importorskip("monitor.extract")
    if not hasattr(extract, "extract_statements"):
        pytest.skip("monitor.extract.extract_statements is not there yet")
    from monitor.normalize import html_to_blocks
    from monitor.siteserver import SiteServer

    server = SiteServer(CHANGES / case / "v1", noise=True, seed=7)
    pages = [
        extract.extract_statements(html_to_blocks(server._render(raw)))
        for raw in ((CHANGES / case / v / "index.html").read_bytes() for v in ("v1", "v2"))
    ]
    changes = diff_statements(pages[0], pages[1])
    expected = _load_expected()[case]["changes"]
    assert len(changes) == len(expected), [(c.change, c.kind, c.type, c.before, c.after) for c in changes]
    for want in expected:
        matches = [c for c in changes if _fits(c, want)]
        assert matches, (want, changes)


def _fits(change: StatementChange, want: dict[str, Any]) -> bool:
    for name in ("change", "kind", "type", "before_type", "severity"):
        if name in want and getattr(change, name) != want[name]:
            return False
    for name in ("before", "after"):
        if name in want and want[name] not in (getattr(change, name) or ""):
            return False
    for name, value in want.get("delta", {}).items():
        if name == "terms_include":
            if not set(value) <= set(change.delta.get("terms", ())):
                return False
        elif change.delta.get(name) != value:
            return False
    return True
