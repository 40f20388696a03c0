"""Statement severity per TAXONOMY.md ("Severity")."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_QUANTIFIED = re.compile(r"\d|overnight|instant|immediate|minutes|hours|days|weeks|pounds|lbs|sizes")
_AUTHORITY_SEVERITY = {
    "fda_approved": "high",  # "FDA approved/certified" for a supplement or its facility
    "fda_registered": "medium",  # registration is not approval (21 CFR 1.242)
    "certification": "low",
}
_CLAIM_SEVERITY = {
    "disease": "high",
    "clinical": "medium",
    "efficacy": "medium",
    "authority": "medium",
    "structure_function": "low",  # the page-level finding carries the missing-disclaimer case
    "social_proof": "low",
}


def statement_severity(kind: str, type_: str, rule: str, attributes: Mapping[str, Any], text: str) -> str:
    """``"high" | "medium" | "low"`` for one statement.

    >>> statement_severity("claim", "authority", "fda_approved", {}, "FDA approved formula")
    'high'
    """
    if kind == "claim":
        if type_ == "testimonial":
            if attributes.get("disease_outcome"):
                return "high"
            return "medium" if _QUANTIFIED.search(text) else "low"
        if type_ == "authority":
            return _AUTHORITY_SEVERITY.get(rule, "medium")
        return _CLAIM_SEVERITY.get(type_, "low")
    if kind == "guarantee":
        return "high" if attributes.get("refund") == "partial" else "low"
    if kind == "disclaimer" and type_ == "fda":
        return "low" if attributes.get("verbatim") else "medium"
    return "low"
