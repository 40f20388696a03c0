"""Units -> (kind, type, rule, matched words, attributes), by the ordered rule tables of ``lexicon``.

Order: disclaimers first (the DSHEA text itself says "treat, cure"), then testimonials (a claim inside
a customer's quote is a testimonial), guarantees (unless negated: "not guaranteed to..."), then claims
by precedence: disease > "FDA approved" > clinical > other authority > efficacy > structure/function >
social proof. A claim must be about something: the product, an ingredient, a customer or a
sentence-initial verb or pronoun ("Supports joint comfort", "It melts fat") - plain facts are not.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from monitor.extract.attributes import (
    disease_attributes,
    disease_terms,
    dshea_attributes,
    guarantee_attributes,
)
from monitor.extract.keys import fold
from monitor.extract.rules import CompiledRules, compiled, matching, prefixes
from monitor.extract.segmentation import Unit
from monitor.extract.vocabulary import DrugMention, drug_mentions

_CONTENT_REGIONS = frozenset({"main", "footer"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# nutrient-role descriptions are facts: "magnesium plays a role in maintaining muscle function"
_ROLE_FACT = re.compile(r"\bplays? (?:a|an) (?:\w+ )?role in\b|\bis (?:responsible for|involved in)\b")
_QUOTED_ATTRIBUTION = re.compile(r"^[\"'].{12,}[\"'.!]\s*[-~]\s*[A-Z]")


@dataclass(frozen=True, slots=True)
class Classification:
    """Why a unit is a statement: its kind and type, the rule that fired and the words it matched."""

    kind: str
    type: str
    rule: str
    matched: tuple[str, ...]
    attributes: dict[str, Any] = field(default_factory=dict)


def _product_reference(rules: CompiledRules, unit: Unit, folded: str) -> bool:
    # the anchored patterns first: they fail at once
    return bool(
        rules.leading_pronoun.match(folded)
        or rules.leading_verb.match(folded)
        or rules.anchors.search(folded)
        or rules.brand.search(unit.text)
    )


def drug_substitute(rules: CompiledRules, folded: str, drugs: Sequence[DrugMention]) -> str | None:
    """The words that offer the product in a drug's place ("works like Flomax", "instead of your Clomid",
    "off my lisinopril"), if any: a drug word of the lexicon, or a name from the drug vocabulary."""
    substitute = rules.drug_substitute.search(folded)
    if substitute:
        return substitute.group(0)
    for drug in drugs:
        before = rules.substitute_before.search(folded, max(0, drug.start - 60), drug.start)
        if before:
            return folded[before.start():drug.end]
    return None


def _disease(rules: CompiledRules, unit: Unit, folded: str, tokens: frozenset[str],
             drugs: Sequence[DrugMention]) -> Classification | None:
    if drugs or not rules.drug_gate.isdisjoint(tokens):
        substitute = drug_substitute(rules, folded, drugs)
        if substitute:
            return Classification(
                "claim",
                "disease",
                "drug_substitute",
                (substitute,),
                disease_attributes(folded, "drug_substitute"),
            )
        drug_class = rules.drug_class.search(folded)
        if drug_class and _product_reference(rules, unit, folded):
            return Classification(
                "claim",
                "disease",
                "drug_class",
                (drug_class.group(0),),
                disease_attributes(folded, "drug_class"),
            )
    # cheapest first: token gates, then the verbs, and the 36-term pattern last
    if rules.disease_gate.isdisjoint(tokens) or rules.treatment_gate.isdisjoint(tokens):
        return None
    verbs = list(rules.treatment.finditer(folded))
    if not verbs:
        return None
    negated = {match.end() for match in rules.negated_treatment.finditer(folded)}
    verbs = [match for match in verbs if match.end() not in negated]
    if not verbs:
        return None
    term = rules.disease_any.search(folded)
    if not term:
        return None
    strong = [match for match in rules.strong_treatment.finditer(folded) if match.end() not in negated]
    if strong and rules.framing.search(folded):
        strong = []
    if not strong and not _product_reference(rules, unit, folded):
        return None
    verb = (strong or verbs)[0].group(0)
    return Classification(
        "claim",
        "disease",
        "treats_named_disease",
        (verb, term.group(0)),
        disease_attributes(folded, "named_disease"),
    )


def _testimonial(rules: CompiledRules, folded: str, drugs: Sequence[DrugMention]) -> Classification | None:
    result = rules.testimonial_result.search(folded)
    if not result:
        return None
    terms = disease_terms(folded)
    substitute = drug_substitute(rules, folded, drugs)
    attributes: dict[str, Any] = {"disease_outcome": bool(terms or substitute)}
    if terms:
        attributes["terms"] = [name for name, _serious in terms]
        attributes["serious"] = any(serious for _name, serious in terms)
    matched = (result.group(0),) + ((substitute,) if substitute else ())
    return Classification("claim", "testimonial", "customer_story", matched, attributes)


def classify(unit: Unit) -> Classification | None:
    """The statement a unit makes, or None when it is not a claim, guarantee or disclaimer.

    Cached on what classification depends on (text, tag, region, testimonial): a site's pages repeat
    their footers, disclaimers and carousels, and a crawl process sees many pages of one site.
    """
    return classify_cached(unit.text, unit.tag, unit.region, unit.testimonial)


@lru_cache(maxsize=16384)
def classify_cached(text: str, tag: str, region: str, testimonial: bool) -> Classification | None:
    return classify_uncached(Unit(text, -1, tag, region, testimonial))


def clear_cache() -> None:
    """Forget cached classifications (after changing rules at run time; used by the benchmark)."""
    classify_cached.cache_clear()


def classify_uncached(unit: Unit) -> Classification | None:
    """``classify`` without the cache."""
    folded = fold(unit.text)
    if len(folded) < 6 or " " not in folded or (folded.endswith("?") and not unit.testimonial):
        return None
    rules = compiled()
    tokens = prefixes(folded)
    drugs = drug_mentions(folded)
    if rules.any_gate.isdisjoint(tokens) and not unit.testimonial and not drugs:
        return None

    for rule, match in matching(rules.disclaimers, rules.disclaimer_gate, folded, tokens):
        attributes = dshea_attributes(unit.text) if rule.type == "fda" else {}
        return Classification("disclaimer", rule.type, rule.name, (match.group(0),), attributes)

    if unit.testimonial or _QUOTED_ATTRIBUTION.match(folded):
        found = _testimonial(rules, folded, drugs)
        if found or unit.testimonial:
            return found

    for rule, match in matching(rules.guarantees, rules.guarantee_gate, folded, tokens):
        if not (rule.type == "satisfaction" and rules.guarantee_negation.search(folded)):
            return Classification(
                "guarantee", rule.type, rule.name, (match.group(0),), guarantee_attributes(folded)
            )

    disease = _disease(rules, unit, folded, tokens, drugs)
    if disease:
        return disease

    authority: Classification | None = None
    for rule, match in matching(rules.authorities, rules.authority_gate, folded, tokens):
        authority = Classification("claim", "authority", rule.name, (match.group(0),), {"authority": rule.type})
        break
    if authority and authority.rule == "fda_approved":
        return authority

    if not rules.clinical_gate.isdisjoint(tokens):
        clinical = rules.clinical.search(folded)
        if clinical:
            effect = rules.effect.search(folded)
            if effect:
                return Classification(
                    "claim", "clinical", "establishment_claim", (clinical.group(0), effect.group(0))
                )
    if authority:
        return authority

    heading = unit.tag in _HEADINGS
    if not rules.efficacy_gate.isdisjoint(tokens):
        strong = rules.efficacy_strong.search(folded)
        if strong:
            return Classification("claim", "efficacy", "efficacy_promise", (strong.group(0),))
        efficacy = rules.efficacy.search(folded)
        if efficacy and (heading or _product_reference(rules, unit, folded)):
            return Classification("claim", "efficacy", "efficacy_promise", (efficacy.group(0),))

    if not rules.sf_gate.isdisjoint(tokens):
        verb = rules.structure_function.search(folded)
        if verb and not _ROLE_FACT.search(folded):
            body = rules.body_function.search(folded)
            listed = unit.tag == "li" and unit.region in _CONTENT_REGIONS
            if body and (heading or listed or _product_reference(rules, unit, folded)):
                return Classification(
                    "claim", "structure_function", "body_function", (verb.group(0), body.group(0))
                )

    if not rules.social_gate.isdisjoint(tokens):
        social = rules.social_proof.search(folded)
        if social and not rules.noise.search(folded):
            return Classification("claim", "social_proof", "social_proof", (social.group(0).strip(),))
    return None
