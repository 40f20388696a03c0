"""Page-level compliance findings, from a page's statements."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

from monitor.extract.keys import fold
from monitor.statements import Finding, Statement

SF_WITHOUT_DSHEA = "sf_claim_without_dshea"
TESTIMONIAL_RESULTS_VARY_ONLY = "testimonial_results_vary_only"
GUARANTEE_LESS_THAN_FULL = "guarantee_less_than_full_refund"
DSHEA_NOT_VERBATIM = "dshea_not_verbatim"


@cache
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    # a disclosure of what results people generally get cures an atypical testimonial; "may vary" does not
    typical = re.compile(
        r"\d|typical (?:user|customer|result)s? (?:lose|see|report|experience)|on average"
        r"|average (?:user|customer|loss)"
    )
    full_wording = re.compile(
        r"money[- ]?back|100 ?%|full refund|refund (?:of|your) (?:the |your )?(?:entire|full|purchase)"
        r"|entire purchase"
    )
    reducer = re.compile(
        r"less shipping|restocking fee|store credit|partial|non-?refundable|exclude[sd]? shipping|minus"
        r"|shipping (?:charges |costs )?(?:are |is )?not refund"
    )
    return typical, full_wording, reducer


def page_findings(statements: Sequence[Statement]) -> list[Finding]:
    """Findings for one page, e.g. a structure/function claim with no DSHEA disclaimer on the page."""
    typical, full_wording, reducer = _patterns()
    findings: list[Finding] = []
    fda = [s for s in statements if s.kind == "disclaimer" and s.type == "fda"]

    sf = tuple(s.position for s in statements if s.kind == "claim" and s.type == "structure_function")
    if sf and not fda:
        findings.append(
            Finding(
                SF_WITHOUT_DSHEA,
                "high",
                f"{len(sf)} structure/function claim(s) and no DSHEA disclaimer on the page",
                sf,
            )
        )

    if fda and not any(s.attributes.get("verbatim") for s in fda):
        findings.append(
            Finding(
                DSHEA_NOT_VERBATIM,
                "medium",
                "the DSHEA disclaimer on the page is not the required wording",
                tuple(s.position for s in fda),
            )
        )

    testimonials = tuple(s.position for s in statements if s.kind == "claim" and s.type == "testimonial")
    vary = [s for s in statements if s.kind == "disclaimer" and s.type == "results_vary"]
    if testimonials and vary and not any(typical.search(fold(s.text)) for s in vary):
        findings.append(
            Finding(
                TESTIMONIAL_RESULTS_VARY_ONLY,
                "medium",
                "testimonials are qualified only by 'results may vary', with no disclosure of "
                "generally expected results",
                testimonials + tuple(s.position for s in vary),
            )
        )

    guarantees = [s for s in statements if s.kind == "guarantee" and s.type == "money_back"]
    promising = [s for s in guarantees if full_wording.search(fold(s.text))]
    reducing = [
        s for s in guarantees if s.attributes.get("refund") == "partial" or reducer.search(fold(s.text))
    ]
    if promising and reducing:
        positions = tuple(sorted({s.position for s in promising + reducing}))
        conditions = sorted({c for s in reducing for c in s.attributes.get("conditions", [])})
        detail = "money-back/100% wording, but the conditions mean less than a full refund"
        if conditions:
            detail += ": " + ", ".join(conditions)
        findings.append(Finding(GUARANTEE_LESS_THAN_FULL, "high", detail, positions))
    return findings
