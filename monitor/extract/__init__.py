"""Statement extraction: a page's blocks -> every claim, guarantee and disclaimer on it.

    >>> from monitor.statements import Block
    >>> [(s.kind, s.type) for s in extract_statements([Block("Supports joint comfort.*"),
    ...                                                 Block("Shipping is free.")])]
    [('claim', 'structure_function')]

Pure functions, no I/O (the model is read from the package once). Stages, one module each:
``segmentation`` (blocks -> units: every sentence, bullet, cell and testimonial quote is a candidate),
``features`` (a unit and its context -> tokens, including what the hand-written rules of
``classification`` and the disease ``vocabulary`` say of it), ``model`` (tokens -> "none" or kind/type,
with the reasons), ``attributes``, ``severity``, ``findings`` (page level), ``keys`` (the cross-snapshot
key). Rules still decide where rules are right: the DSHEA text, volatile counters (never statements),
negated guarantees, and every attribute. See docs/extraction.md.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from monitor.extract.attributes import (
    disease_attributes,
    dshea_attributes,
    guarantee_attributes,
    guarantee_days,
    renewal_days,
)
from monitor.extract.classification import Classification
from monitor.extract.features import Candidate, candidate_tokens, rule_classification, sections_anchored
from monitor.extract.findings import page_findings
from monitor.extract.keys import counter_free_key, fold, statement_key
from monitor.extract.model import NONE, Prediction, load_model
from monitor.extract.rules import compiled
from monitor.extract.segmentation import Unit, segment
from monitor.extract.severity import statement_severity
from monitor.extract.vocabulary import disease_mentions, drug_mentions
from monitor.statements import Block, Finding, Statement

__all__ = ["RULES_VERSION", "PageAnalysis", "analyse_page", "clear_caches", "extract_statements",
           "extractor_version", "page_findings", "statement_key"]

# bump whenever rules, lexicons, vocabulary, features or segmentation change: stored statements are
# re-extracted under the new version (the model's own version is appended by ``extractor_version``)
RULES_VERSION = "2026.12.4"
_DSHEA_RULES = frozenset({"dshea_evaluated", "dshea_not_intended"})
RULE_KINDS_KEPT: frozenset[str] = frozenset({"guarantee", "disclaimer"})
_AUTHORITY_WORDS = (
    ("fda", "fda"), ("food and drug", "fda"), ("government", "government"), ("nih", "government"),
    ("doctor", "physician"), ("dr ", "physician"), ("dr.", "physician"), ("physician", "physician"),
    ("m.d", "physician"), ("pharmacist", "physician"), ("nutritionist", "physician"),
    ("dietitian", "physician"), ("certified", "certification"), ("gmp", "certification"),
    ("nsf", "certification"), ("usp", "certification"), ("association", "organization"),
    ("society", "organization"), ("foundation", "organization"), ("celebrity", "celebrity"),
)


def extractor_version() -> str:
    """The version stored with every snapshot's statements: the rules' and the model's."""
    return f"{RULES_VERSION}+model.{load_model().version}"


def _merge(
    first: tuple[Unit, Classification], second: tuple[Unit, Classification]
) -> tuple[Unit, Classification]:
    unit, found = first
    text = f"{unit.text} {second[0].text}"
    merged_unit = Unit(text, unit.block, unit.tag, unit.region, unit.testimonial, unit.guarantee_box, unit.context,
                       unit.section, unit.card)
    type_, rule = found.type, found.rule
    if found.kind == "guarantee" and type_ == "satisfaction" and second[1].type == "money_back":
        # "Our guarantee never expires. If you are ever unhappy, send it back for a refund": a money-back promise
        type_, rule = "money_back", second[1].rule
    if found.kind == "disclaimer":
        attributes = dshea_attributes(text)
    elif found.kind == "guarantee":
        attributes = _attributes(found.kind, type_, text, fold(text), None)
    else:
        attributes = found.attributes
    merged = Classification(found.kind, type_, rule, found.matched + second[1].matched, attributes)
    return merged_unit, merged


def _keeps_together(previous: tuple[Unit, Classification], current: tuple[Unit, Classification]) -> bool:
    (prev_unit, prev), (unit, found) = previous, current
    # the two-sentence DSHEA disclaimer, even when split over two blocks
    if prev.rule == "dshea_evaluated" and found.rule == "dshea_not_intended":
        return unit.block - prev_unit.block <= 1
    # a run of short fragments of one kind in one block: "No jitters. No crash. No side effects." (sentences:
    # a row of badges, "Doctor Formulated", "GMP Certified", is one statement per badge)
    if (unit.block == prev_unit.block and not unit.testimonial and prev.kind == found.kind == "claim"
            and prev.type == found.type and len(unit.text.split()) <= 4 and len(prev_unit.text.split()) <= 12
            and prev_unit.text.rstrip("*\u2020 ")[-1:] in ".!"):
        return True
    # a guarantee and the terms that follow it in the same paragraph
    return (
        prev.kind == "guarantee"
        and found.kind == "guarantee"
        and unit.block == prev_unit.block
        and not prev_unit.guarantee_box
        and found.type == "money_back"
        and found.attributes.get("days") is None
    )


_PERIOD_TYPES = frozenset({"money_back", "satisfaction"})


def _period_lead(lead: Unit, current: tuple[Unit, Classification]) -> str | None:
    """The folded text of ``lead`` when it is a short sentence of the guarantee's paragraph that names a period
    (at most 12 words: a lead-in, not a paragraph of its own), else None."""
    unit, found = current
    if not (found.kind == "guarantee" and found.type in _PERIOD_TYPES and lead.block == unit.block
            and not lead.testimonial and not unit.testimonial):
        return None
    folded = fold(lead.text)
    return folded if len(folded.split()) <= 12 and guarantee_days(folded)[0] is not None else None


def _sets_the_period(lead: Unit, current: tuple[Unit, Classification]) -> bool:
    """Whether the sentence before a guarantee gives its period: "Not in love after sixty days? Send back any
    unopened bottles for a refund", "Try it for two full months. If you're not happy, return it..." (a lead-in
    that is no statement itself, before a guarantee that names no period). A trial period ("Try NightHold PM for
    up to 90 days.") is part of the promise after it whether or not that names a period too, as when the model
    reads the trial as a statement of its own (``_trial_before``)."""
    found = current[1]
    folded = _period_lead(lead, current)
    if folded is None:
        return False
    return folded.startswith("try ") or (found.attributes.get("days") is None and not found.attributes.get("lifetime"))


def _trial_before(previous: tuple[Unit, Classification], current: tuple[Unit, Classification]) -> bool:
    """Whether the statement before a guarantee is its trial period: "Try NightHold PM for up to 90 days. If you
    are not completely satisfied, contact us within 90 days... for a full refund" is one promise (the model may
    read the first sentence alone as an efficacy claim or a trial offer)."""
    lead, before = previous
    if before.kind not in ("claim", "guarantee") or before.type in _PERIOD_TYPES:
        return False
    folded = _period_lead(lead, current)
    return folded is not None and folded.startswith("try ")


def _with_lead(lead: Unit, current: tuple[Unit, Classification]) -> tuple[Unit, Classification]:
    """The guarantee with its lead-in: one statement, so a changed period shows in its text and ``days``."""
    unit, found = current
    text = f"{lead.text} {unit.text}"
    merged = Unit(text, unit.block, unit.tag, unit.region, unit.testimonial, unit.guarantee_box, unit.context,
                  unit.section, unit.card)
    attributes = {**found.attributes, **_attributes(found.kind, found.type, text, fold(text), None)}
    return merged, Classification(found.kind, found.type, found.rule, found.matched, attributes)


@lru_cache(maxsize=16384)
def _key(text: str, counter_free: bool) -> str:
    return counter_free_key(text) if counter_free else statement_key(text)


def clear_caches() -> None:
    """Forget every cached segmentation, classification and key (after changing rules at run time)."""
    from monitor.extract.classification import clear_cache
    from monitor.extract.segmentation import _guarantee_type, _split_cached, small_print

    clear_cache()
    _split_cached.cache_clear()
    small_print.cache_clear()
    _guarantee_type.cache_clear()
    drug_mentions.cache_clear()
    _key.cache_clear()
    _CACHE.clear()


def is_volatile(folded: str) -> bool:
    """Counters, stock, timers, "just ordered", timestamps: page noise that is never a statement."""
    rules = compiled()
    return rules.noise_hint.search(folded) is not None and rules.noise.search(folded) is not None


_DRUG_RULES = frozenset({"drug_substitute", "drug_class"})
_CRITERION_OF_RULE = {"drug_substitute": "drug_substitute", "drug_class": "drug_class",
                      "treats_named_disease": "named_disease"}


def _authority(folded: str) -> str | None:
    return next((name for word, name in _AUTHORITY_WORDS if word in folded), None)


def _attributes(kind: str, type_: str, text: str, folded: str, rules: Classification | None) -> dict[str, Any]:
    if kind == "guarantee":
        attributes = guarantee_attributes(folded)
        if type_ == "other" and (cycle := renewal_days(folded)) is not None:
            attributes["cycle_days"] = cycle  # auto-ship terms: how often they ship (not a window: not `days`)
        return attributes
    if kind == "disclaimer" and type_ == "fda":
        return dshea_attributes(text)
    if kind != "claim":
        return {}
    agreed = rules is not None and rules.kind == kind and rules.type == type_
    mentions = disease_mentions(folded) if type_ in ("disease", "testimonial") else []
    if type_ == "disease":
        rule = rules.rule if agreed and rules is not None else ""
        criterion = _CRITERION_OF_RULE.get(rule, "named_disease" if mentions else "implied")
        attributes = disease_attributes(folded, criterion)
        if not attributes["terms"]:  # the hand lexicon's names first; ICD-10-CM and lay words otherwise
            attributes["terms"] = list(dict.fromkeys(m.term for m in mentions))
        attributes["serious"] = bool(attributes["serious"] or any(m.serious for m in mentions))
        attributes["icd10cm"] = sorted({m.code for m in mentions})
        return attributes
    if type_ == "testimonial":
        substitute = rules is not None and rules.rule == "drug_substitute"
        named = [m for m in mentions if m.group != "symptom"]
        attributes = {"disease_outcome": bool(named or substitute or (agreed and rules is not None
                                                                         and rules.attributes.get("disease_outcome")))}
        if mentions:
            attributes["terms"] = [m.term for m in mentions]
            attributes["serious"] = any(m.serious for m in mentions)
        return attributes
    if type_ == "authority":
        if agreed and rules is not None:
            return dict(rules.attributes)
        return {"authority": _authority(folded)}
    return {}


def _decision(candidate: Candidate, rules: Classification | None,
              prediction: Prediction | None) -> Classification | None:
    folded = fold(candidate.text)
    # rules that decide on their own: the DSHEA text, and negated guarantees ("not guaranteed to...")
    if rules is not None and rules.rule in _DSHEA_RULES:
        return Classification("disclaimer", "fda", rules.rule, rules.matched, dict(rules.attributes))
    if prediction is None or prediction.label == NONE:
        if RULE_KINDS_KEPT and rules is not None and rules.kind in RULE_KINDS_KEPT:
            # the guarantee and disclaimer rules are precise: what they find stays, even when the model doubts
            attributes = _attributes(rules.kind, rules.type, candidate.text, folded, rules)
            return Classification(rules.kind, rules.type, rules.rule, rules.matched, attributes)
        return None
    kind, type_ = prediction.kind, prediction.type
    if kind == "claim" and type_ != "testimonial" and rules is not None and rules.rule in _DRUG_RULES:
        # FDA's criterion, not a matter of wording: a product offered as a drug's substitute or as one of a
        # drug class makes a disease claim (21 CFR 101.93(g)(2)(v)-(vi)); a customer's story stays a testimonial
        kind, type_ = "claim", "disease"
    # "is not guaranteed to stop every cramp": a hedge, not a promise (unless the rules see a disclaimer in it)
    if kind != "disclaimer" and rules is None and compiled().guarantee_negation.search(folded):
        return None
    if kind == "claim" and not candidate.testimonial and _SITE_UPKEEP.search(folded):
        return None
    agreed = rules is not None and rules.kind == kind and rules.type == type_
    if kind == "claim" and rules is None and not candidate.testimonial and _plain_fact(candidate, folded):
        return None
    rule = rules.rule if agreed and rules is not None else "model"
    attributes = _attributes(kind, type_, candidate.text, folded, rules)
    matched = rules.matched if agreed and rules is not None else prediction.reasons
    return Classification(kind, type_, rule, matched, attributes)


def _decide_all(candidates: Sequence[Candidate]) -> list[Classification | None]:
    """Decisions for many candidates at once (the model predicts in one batch).

    A menu entry (region ``nav``) goes to the model only when a rule finds a statement in it ("60-day
    money-back guarantee" in a menu bar): menus hold links, not statements (none of the ~380 menu units of
    the training pages is labelled one), and a shop's mega-menu is a third of its page's units.
    """
    rules = [rule_classification(candidate) for candidate in candidates]
    read = [index for index, (candidate, found) in enumerate(zip(candidates, rules, strict=True))
            if found is not None or candidate.region != "nav"]
    tokens = [candidate_tokens(candidates[index], rules[index]) for index in read]
    predictions: list[Prediction | None] = [None] * len(candidates)
    for index, prediction in zip(read, load_model().predict(tokens), strict=True):
        predictions[index] = prediction
    return [_decision(c, r, p) for c, r, p in zip(candidates, rules, predictions, strict=True)]


# explicit traps (TAXONOMY.md): plain facts are not claims, whatever their words
# the site's own upkeep ("We're performing some maintenance at the moment", "Our website is down for
# maintenance"): a notice about the shop, not about a body; "maintenance of healthy bones" is not matched
_SITE_UPKEEP = re.compile(r"\b(?:down for|under(?:going)?|perform(?:s|ing)?|carrying out|scheduled|planned)"
                          r" (?:some |scheduled |planned |a bit of )?maintenance\b|\bmaintenance (?:mode|window)\b")
_ROLE_FACT = re.compile(r"\bplays? (?:a|an) (?:\w+ )?role in\b|\bis (?:responsible for|involved in)\b")
_PREVALENCE = re.compile(
    r"^(?:studies|research|surveys?|data) (?:show|suggest|find|estimate)s? (?:that )?(?:about |around |up to |nearly "
    r"|roughly |over |more than |as many as )?(?:\d+%|one in \w+|a (?:third|quarter|half)|half|most|many)"
    r"(?: of)? (?:people|adults|americans|women|men|children|seniors|older adults|us)\b"
)


def _plain_fact(candidate: Candidate, folded: str) -> bool:
    """A nutrient-role fact, a prevalence figure, a sentence about a drug, or a disease claim whose every
    treatment verb is negated ("there is no cure for leg cramps")."""
    if any(name in folded for name in candidate.product):
        return False
    rules = compiled()
    if _ROLE_FACT.search(folded) or _PREVALENCE.search(folded):
        return True
    drugs = drug_mentions(folded)
    if rules.drug_any.match(folded) or (drugs and drugs[0].start == 0):
        return True  # "Quinine is only moderately effective against night cramps"
    verbs = [m.end() for m in rules.treatment.finditer(folded)]
    negated = {m.end() for m in rules.negated_treatment.finditer(folded)}
    return bool(verbs) and all(end in negated for end in verbs)


def _unit_candidate(unit: Unit, product: tuple[str, ...], anchored: bool) -> Candidate:
    return Candidate(unit.text, unit.tag, unit.region, unit.context, unit.testimonial, unit.section, product,
                     anchored)


def _is_candidate(unit: Unit) -> bool:
    """Too short to say anything, or a live ticker: never a statement."""
    folded = fold(unit.text)
    return len(folded) >= 4 and (" " in folded.strip() or unit.testimonial) and not is_volatile(folded)


def extract_statements(blocks: Sequence[Block], product: Sequence[str] = ()) -> list[Statement]:
    """Every claim, guarantee and disclaimer of a page, in page order (positions 0..n-1).

    ``product`` holds the page's product names (``identity.product_names``), folded: a sentence naming the
    product is read as a claim about it.
    """
    names = tuple(product)
    units = segment(blocks)
    anchored = sections_anchored([u.text for u in units], [u.section for u in units], names)
    # cached decisions first (a site's pages share footers, disclaimers and carousels); the rest go through the
    # rules and the model in one batch
    decisions: list[Classification | None] = [None] * len(units)
    missing: list[int] = []
    keys: list[tuple[Any, ...]] = []
    cache = _CACHE
    for index, unit in enumerate(units):
        cache_key = (unit.text, unit.tag, unit.region, unit.context, unit.testimonial, unit.section, names,
                     anchored[index])
        keys.append(cache_key)
        if cache_key in cache:
            decisions[index] = cache[cache_key]
        else:
            missing.append(index)
    if missing:
        # a unit repeated on the page ("No side effects." under three products) is decided once
        first: dict[tuple[Any, ...], int] = {}
        for index in missing:
            first.setdefault(keys[index], index)
        wanted = [i for i in first.values() if _is_candidate(units[i])]
        decided = _decide_all([_unit_candidate(units[i], names, anchored[i]) for i in wanted])
        fresh = dict(zip(wanted, decided, strict=True))
        if len(cache) + len(first) > _CACHE_SIZE:
            cache.clear()  # a new site's templates: start again rather than track recency per unit
        for index in missing:
            decision = fresh.get(first[keys[index]])
            decisions[index] = decision
            cache[keys[index]] = decision
    found: list[tuple[Unit, Classification]] = []
    lead: Unit | None = None  # the unit before, when it is no statement
    for unit, decision in zip(units, decisions, strict=True):
        if decision is None:
            lead = unit
            continue
        attributes = decision.attributes
        if unit.card:
            attributes = {**attributes, **{k: v for k, v in unit.card.items() if v is not None}}
        current = (unit, Classification(decision.kind, decision.type, decision.rule, decision.matched, attributes))
        if lead is not None and _sets_the_period(lead, current):
            current = _with_lead(lead, current)
        lead = None
        if found and _trial_before(found[-1], current):
            found[-1] = _with_lead(found[-1][0], current)
        elif found and _keeps_together(found[-1], current):
            found[-1] = _merge(found[-1], current)
        else:
            found.append(current)
    statements: list[Statement] = []
    for position, (unit, classification) in enumerate(found):
        text = unit.text
        kind, type_ = classification.kind, classification.type
        key = _key(text, type_ == "social_proof")
        severity = statement_severity(kind, type_, classification.rule, classification.attributes, text)
        # positional: a frozen dataclass's keyword arguments double its ~1 us of construction
        statements.append(Statement(kind, type_, text, key, severity, dict(classification.attributes), position,
                                    classification.rule, classification.matched))
    return statements


_CACHE: dict[tuple[Any, ...], Classification | None] = {}
_CACHE_SIZE = 32768


@dataclass(frozen=True)
class PageAnalysis:
    """What a page says: its blocks, product names, statements and page-level findings."""

    blocks: list[Block]
    product: tuple[str, ...]
    statements: list[Statement]
    findings: list[Finding]


def analyse_page(html: bytes | str, blocks: Sequence[Block] | None = None, encoding: str | None = None) -> PageAnalysis:
    """Analyse one page: the one function the crawl, ``reextract`` and the demo call.

    ``blocks`` when the caller has normalised the page already (the crawl's NormalizePipeline).
    """
    from monitor.extract.identity import product_names
    from monitor.normalize import html_to_blocks

    page_blocks = list(blocks) if blocks is not None else html_to_blocks(html, encoding)
    product = product_names(html, page_blocks)
    statements = extract_statements(page_blocks, product)
    return PageAnalysis(page_blocks, product, statements, page_findings(statements))
