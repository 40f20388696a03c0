"""A statement's reason in words: the rule that decided it, or the model's strongest features.

    >>> describe_reason("model", ("cure", "~arthri", "dz:musculoskeletal", "ctx:card"))
    'model: "cure", "arthri-", disease term (musculoskeletal), in a testimonial card'
    >>> describe_reason("dshea_evaluated", ("have not been evaluated",))
    'rule dshea_evaluated: "have not been evaluated"'
"""

from __future__ import annotations

from collections.abc import Sequence

_CONTEXT = {
    "ctx:card": "in a testimonial card", "ctx:heading": "a heading", "ctx:cell": "a table cell",
    "ctx:tag-li": "a list item", "ctx:region-footer": "in the footer", "ctx:quoted": "in quotation marks",
    "ctx:first-person": "first person", "ctx:product-named": "names the product",
    "ctx:testimonial": "in a review block",
    "ctx:guarantee": "in a guarantee box", "ctx:faq": "in an FAQ", "ctx:disclaimer": "in a disclaimer block",
    "ctx:footnote": "small print", "dz:any": "disease term", "dz:serious": "serious disease term",
    "dz:lay": "lay disease word",
}


def _feature(feature: str) -> str:
    if feature in _CONTEXT:
        return _CONTEXT[feature]
    if feature.startswith("~"):
        return f'"{feature[1:]}-"'
    if feature.startswith("dz:"):
        return f"disease term ({feature[3:]})"
    if feature.startswith("rule:"):
        return f"rules: {feature[5:]}"
    if feature.startswith("sec:"):
        return f'section "{feature[4:]}"'
    if feature.startswith(("ctx:", "len:")):
        return feature.split(":", 1)[1].replace("-", " ")
    return f'"{feature}"'


def describe_reason(rule: str | None, matched: Sequence[str] | None) -> str:
    """One line for export and report: why this text was taken for what it is."""
    evidence = ", ".join(_feature(str(item)) if rule == "model" else f'"{item}"' for item in matched or ())
    if not rule:
        return evidence
    head = "model" if rule == "model" else f"rule {rule}"
    return f"{head}: {evidence}" if evidence else head
