"""The lexicon tables compiled into regular expressions and token gates, once, on first use."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from operator import itemgetter

from monitor.extract import lexicon as lx

# punctuation -> space for tokenising a folded unit (keeps letters, digits, ', #, %)
_TOKEN_TABLE = str.maketrans({c: " " for c in '-.,;:!?()[]{}"/\\|*+=<>~^`@$&_\u2022\u00b7'})
_FIRST_FOUR = itemgetter(slice(0, 4))


def prefixes(folded: str) -> frozenset[str]:
    """The four-letter prefixes of a folded text's words: what rule gates are checked against."""
    return frozenset(map(_FIRST_FOUR, folded.translate(_TOKEN_TABLE).split()))


def gate(words: str) -> frozenset[str]:
    """A gate from a space-separated word list (the same prefixing as ``prefixes``)."""
    return frozenset(word[:4] for word in words.translate(_TOKEN_TABLE).split())


def matching(table: tuple[Rule, ...], table_gate: frozenset[str], folded: str,
             tokens: frozenset[str]) -> Iterator[tuple[Rule, re.Match[str]]]:
    """The rules of one table (disclaimers, guarantees, authorities) that match a folded unit, in the table's
    order, with their matches; ``table_gate`` is the union of the table's gates, ``tokens`` ``prefixes(folded)``.
    """
    if table_gate.isdisjoint(tokens):
        return
    for rule in table:
        if not rule.gate.isdisjoint(tokens) and (match := rule.pattern.search(folded)):
            yield rule, match


def _alternation(fragments: tuple[str, ...] | str) -> re.Pattern[str]:
    body = fragments if isinstance(fragments, str) else "|".join(fragments)
    return re.compile(rf"(?<![\w'])(?:{body})(?![\w])")


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of a rule table: the type it gives, its name, its gate and its pattern."""

    type: str
    name: str
    gate: frozenset[str]
    pattern: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class CompiledRules:
    disclaimers: tuple[Rule, ...]
    guarantees: tuple[Rule, ...]
    authorities: tuple[Rule, ...]
    disclaimer_gate: frozenset[str]  # the union of each table's gates: most units pass none of a table's
    guarantee_gate: frozenset[str]
    authority_gate: frozenset[str]
    guarantee_negation: re.Pattern[str]
    disease_gate: frozenset[str]
    disease_terms: tuple[tuple[str, bool], ...]
    disease_any: re.Pattern[str]
    any_gate: frozenset[str]
    treatment: re.Pattern[str]
    strong_treatment: re.Pattern[str]
    treatment_gate: frozenset[str]
    framing: re.Pattern[str]
    leading_pronoun: re.Pattern[str]
    efficacy_strong: re.Pattern[str]
    negated_treatment: re.Pattern[str]
    drug_gate: frozenset[str]
    drug_class: re.Pattern[str]
    drug_substitute: re.Pattern[str]
    substitute_before: re.Pattern[str]
    drug_any: re.Pattern[str]
    anchors: re.Pattern[str]
    leading_verb: re.Pattern[str]
    brand: re.Pattern[str]
    clinical_gate: frozenset[str]
    clinical: re.Pattern[str]
    effect: re.Pattern[str]
    efficacy_gate: frozenset[str]
    efficacy: re.Pattern[str]
    sf_gate: frozenset[str]
    structure_function: re.Pattern[str]
    body_function: re.Pattern[str]
    social_gate: frozenset[str]
    social_proof: re.Pattern[str]
    noise: re.Pattern[str]
    noise_hint: re.Pattern[str]
    testimonial_result: re.Pattern[str]


def _rules(table: tuple[tuple[str, str, str, str], ...]) -> tuple[Rule, ...]:
    return tuple(Rule(kind, name, gate(words), _alternation(pattern)) for kind, name, words, pattern in table)


@cache
def compiled() -> CompiledRules:
    """All rule tables compiled (cached: built on the first extraction, never at import)."""
    terms = tuple((name, serious) for name, _fragment, serious in lx.DISEASE_TERMS)
    # one pattern, one named group per term: the group that matched names the term
    disease_any = re.compile(
        r"(?<![\w'])(?:"
        + "|".join(f"(?P<t{index}>{fragment})" for index, (_n, fragment, _s) in enumerate(lx.DISEASE_TERMS))
        + r")(?![\w])"
    )
    tables = (lx.DISCLAIMER_RULES, lx.GUARANTEE_RULES, lx.AUTHORITY_RULES)
    # a unit with none of these words cannot be a statement of any kind
    any_gate = frozenset().union(
        *(gate(row[2]) for table in tables for row in table),
        *(
            gate(words)
            for words in (
                lx.DISEASE_GATE,
                lx.DRUG_GATE,
                lx.CLINICAL_GATE,
                lx.EFFICACY_GATE,
                lx.STRUCTURE_FUNCTION_GATE,
                lx.SOCIAL_PROOF_GATE,
                lx.GUARANTEE_NEGATION_GATE,
            )
        ),
    )
    negators = "|".join(lx.NEGATORS)
    verbs = "|".join(lx.TREATMENT_VERBS)
    drugs = "|".join(lx.DRUG_NAMES)
    disclaimers, guarantees, authorities = (_rules(table) for table in tables)
    return CompiledRules(
        disclaimers=disclaimers,
        guarantees=guarantees,
        authorities=authorities,
        disclaimer_gate=frozenset().union(*(rule.gate for rule in disclaimers)),
        guarantee_gate=frozenset().union(*(rule.gate for rule in guarantees)),
        authority_gate=frozenset().union(*(rule.gate for rule in authorities)),
        guarantee_negation=_alternation(lx.GUARANTEE_NEGATION),
        disease_gate=gate(lx.DISEASE_GATE),
        disease_terms=terms,
        disease_any=disease_any,
        any_gate=any_gate,
        treatment=_alternation(verbs),
        strong_treatment=_alternation(lx.STRONG_TREATMENT_VERBS),
        treatment_gate=gate(lx.TREATMENT_GATE),
        framing=_alternation(lx.CLAIM_FRAMING),
        leading_pronoun=re.compile(rf"^[\"'(]*(?:{lx.LEADING_PRONOUNS})(?![\w])"),
        efficacy_strong=_alternation(lx.EFFICACY_STRONG),
        # a treatment verb right after a negator ("won't solve", "not guaranteed to stop") does not count
        negated_treatment=re.compile(
            rf"(?<![\w'])(?:{negators})(?![\w])(?:\s+[\w'-]+,?){{0,4}}?\s+(?:{verbs})(?![\w])"
        ),
        drug_gate=gate(lx.DRUG_GATE),
        drug_class=_alternation(lx.DRUG_CLASS_WORDS),
        drug_substitute=re.compile(
            rf"(?<![\w'])(?:{'|'.join(lx.DRUG_SUBSTITUTE)})\s*(?:[\w-]+ ){{0,2}}?(?:{drugs})(?![\w])"
        ),
        # the same wording right before a name from the drug vocabulary (vocabulary.drug_mentions): searched
        # with endpos at the name's start
        substitute_before=re.compile(rf"(?<![\w'])(?:{'|'.join(lx.DRUG_SUBSTITUTE)})\s*(?:[\w-]+ ){{0,2}}?$"),
        drug_any=re.compile(rf"(?:{drugs})(?![\w])"),
        anchors=_alternation(lx.PRODUCT_ANCHORS),
        leading_verb=re.compile(
            rf"^[\"'(]*(?:(?:may|can|could|will|might|also)\s+)?(?:{'|'.join(lx.LEADING_CLAIM_VERBS)})(?![\w])"
        ),
        # brand-like tokens: CamelCase names and marked names ("FlexaRoot", "Cramp Defense(R)")
        brand=re.compile(r"\b[A-Z][a-z]+[A-Z][A-Za-z]*\b|[\u00ae\u2122]"),
        clinical_gate=gate(lx.CLINICAL_GATE),
        clinical=_alternation(lx.CLINICAL_TRIGGERS),
        effect=_alternation(lx.EFFECT_WORDS),
        efficacy_gate=gate(lx.EFFICACY_GATE),
        efficacy=_alternation(lx.EFFICACY_TRIGGERS),
        sf_gate=gate(lx.STRUCTURE_FUNCTION_GATE),
        structure_function=_alternation(lx.STRUCTURE_FUNCTION_TRIGGERS),
        body_function=_alternation(lx.BODY_FUNCTIONS),
        social_gate=gate(lx.SOCIAL_PROOF_GATE),
        social_proof=re.compile(rf"(?<![\w'])(?:{lx.SOCIAL_PROOF_TRIGGERS})"),
        noise=re.compile(rf"(?:{lx.NOISE_PATTERNS})"),
        noise_hint=re.compile("|".join(re.escape(word) for word in lx.NOISE_WORDS)),
        testimonial_result=_alternation(lx.TESTIMONIAL_RESULT_WORDS),
    )
