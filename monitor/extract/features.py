"""A candidate sentence and its page context -> the tokens the statement model reads.

Tokens are of three sorts, all visible in a statement's ``reason``:
- words of the sentence (folded; digits as ``0``; the page's own product name as ``<product>``), their
  bigrams, and six-letter stems (``revers`` for reverse/reverses/reversal);
- vocabulary features: ``dz:`` disease terms from ICD-10-CM and lay words (``dz:any``, ``dz:neoplasm``,
  ``dz:serious``...), ``rule:`` what the hand-written rules say of the sentence (kind/type and rule name);
- context features: ``ctx:`` the element (heading, list item, table cell), its region (footer...), the
  container hints (testimonial card, FAQ, guarantee box, disclaimer block) and ``sec:`` the words of the
  section heading above it.

Pure functions; ``candidate_tokens`` is what both training (scripts/train_model.py) and extraction call.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

from monitor.extract import lexicon as lx
from monitor.extract.classification import Classification, classify_cached
from monitor.extract.keys import fold
from monitor.extract.rules import compiled
from monitor.extract.vocabulary import disease_mentions, drug_mentions
from monitor.statements import HEADING_TAGS

_WORDS = re.compile(r"[a-z0-9<>]+(?:'[a-z]+)?|[!?%$#]")
_DIGITS = re.compile(r"\d+")
_HAS_DIGIT = re.compile(r"\d").search
_STOP = frozenset(
    ["a", "an", "the", "and", "or", "of", "to", "in", "on", "for", "with", "at", "by", "from", "as", "is", "are",
     "was", "be", "it", "its", "this", "that", "these", "those"]
)
_CELL_TAGS = frozenset({"td", "th", "dd", "dt"})
_CONTEXT_HINTS = ("testimonial", "blockquote", "faq", "guarantee", "disclaimer", "footnote", "table", "modal")
_NEGATIONS = frozenset({"not", "no", "never", "can't", "cannot", "won't", "isn't", "doesn't", "don't", "nothing",
                        "aren't", "without"})
_PAIRED = frozenset({"ctx:negated", "ctx:question", "ctx:ingredient", "ctx:product-named", "ctx:first-person",
                     "ctx:quoted"})
_SUBJECTS = frozenset({"it", "it's", "this", "our", "we", "<product>", "helps", "supports", "say", "kiss", "no",
                       "stop", "ditch", "end", "beat", "fight"})
_FIRST_PERSON = frozenset({"i", "i'm", "i've", "my", "me", "i'd", "i'll", "myself"})
STEM = 6


@dataclass(slots=True)  # not frozen: a page makes ~200 of them, and frozen fields cost ~3x to set
class Candidate:
    """One sentence, bullet, cell or quote of a page, with what the model may know of its context."""

    text: str
    tag: str = "p"
    region: str = "main"
    context: frozenset[str] = frozenset()
    testimonial: bool = False
    section: str = ""  # the folded text of the nearest heading above it
    product: tuple[str, ...] = ()  # the page's product names, folded
    anchored: bool = True  # its section names the product or speaks as a seller somewhere


def _product_words(folded: str, product: tuple[str, ...]) -> str:
    for name in product:
        if name and name in folded:
            folded = folded.replace(name, " <product> ")
    return folded




_NARRATIVE_UNITS = 3


@cache
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Words that speak as a seller, and words that report a result (lexicon.py), compiled once on first use."""
    return (re.compile(rf"(?<![a-z])(?:{lx.SELLER_WORDS})(?![a-z])"),
            re.compile(rf"(?<![a-z])(?:{lx.OUTCOME_WORDS})(?![a-z])"))


def sections_anchored(texts: Sequence[str], sections: Sequence[str], product: tuple[str, ...]) -> list[bool]:
    """For each unit of a page (its text and section heading, in page order): whether its section (the run of
    units under one heading) names the product or speaks as a seller ("our", "formula", "capsules", "order")
    anywhere. A section of three sentences or more that never does is narrative: an explainer's paragraphs on a
    disease."""
    anchors = _patterns()[0]
    flags: list[bool] = []
    start = 0
    count = len(texts)
    while start < count:
        end = start + 1
        while end < count and sections[end] == sections[start]:
            end += 1
        anchored = end - start < _NARRATIVE_UNITS  # too few sentences to call a section narrative
        for text in texts[start:end] if not anchored else ():
            folded = fold(text)
            if anchors.search(folded) or any(name and name in folded for name in product):
                anchored = True
                break
        flags += [anchored] * (end - start)
        start = end
    return flags


def rule_classification(candidate: Candidate) -> Classification | None:
    """What the hand-written rules make of the sentence (a feature of the model, and the explicit traps)."""
    return classify_cached(candidate.text, candidate.tag, candidate.region, candidate.testimonial)


def candidate_tokens(candidate: Candidate, rules: Classification | None) -> list[str]:
    """The model's input tokens for one candidate (``rules`` is ``rule_classification(candidate)``)."""
    folded = fold(candidate.text)
    text = _product_words(folded, candidate.product)
    words = _WORDS.findall(_DIGITS.sub("0", text) if _HAS_DIGIT(text) else text)
    tokens = list(words)
    tokens += map(" ".join, zip(words, words[1:]))  # noqa: B905 (one shorter by design)
    tokens += [f"~{w[:STEM]}" for w in words if len(w) > STEM and w not in _STOP]
    # vocabulary
    mentions = disease_mentions(folded)
    if mentions:
        tokens.append("dz:any")
        for mention in mentions:
            tokens.append(f"dz:{mention.group}")
            if mention.serious:
                tokens.append("dz:serious")
            if mention.lay:
                tokens.append("dz:lay")
    if rules is not None:
        tokens.append(f"rule:{rules.kind}/{rules.type}")
        tokens.append(f"rule:{rules.rule}")
    # how the sentence opens (its subject, mostly), negation, questions, ingredients named
    flags: list[str] = []  # the ctx: flags that pair with a disease term (_PAIRED), in this order
    if words:
        tokens.append(f"first:{words[0]}")
        if len(words) > 1:
            tokens.append(f"first:{words[0]} {words[1]}")
        if not _NEGATIONS.isdisjoint(words):
            flags.append("ctx:negated")
    if folded.endswith("?"):  # folded text has no trailing space
        flags.append("ctx:question")
    if compiled().anchors.search(folded):
        flags.append("ctx:ingredient")
    tokens += flags
    # shape
    count = len(words)
    tokens.append("len:short" if count < 5 else "len:long" if count > 40 else "len:mid")
    if folded[:1] in "\"'":
        tokens.append("ctx:quoted")
        flags.append("ctx:quoted")
    if not _FIRST_PERSON.isdisjoint(words):
        tokens.append("ctx:first-person")
        flags.append("ctx:first-person")
        # a story reports a result ("since March I haven't had one", "gone", "finally") or only tells
        tokens.append("fp+outcome" if _patterns()[1].search(folded) else "fp+story")
    if "<product>" in words:
        tokens.append("ctx:product-named")
        flags.append("ctx:product-named")
    # a medicine named (the drug vocabulary): with who speaks of it
    if drug_mentions(folded):
        tokens.append("drug:named")
        tokens += [f"drug+{flag.split(':', 1)[1]}" for flag in flags
                   if flag in ("ctx:first-person", "ctx:product-named", "ctx:negated")]
    # a disease named together with what makes it a claim (a linear model sees no pairs unless told)
    if mentions:
        rules_ = compiled()
        if rules_.treatment.search(folded):
            flags.append("lex:treat")
        if rules_.effect.search(folded):
            flags.append("lex:effect")
        if words and words[0] in _SUBJECTS:
            flags.append("first:subject")
        tokens += [f"dz+{flag.split(':', 1)[1]}" for flag in flags]
        if not flags:
            tokens.append("dz+bare")  # a disease named, and nothing that makes the sentence about a product
        if words:
            tokens.append(f"dz+first:{words[0]}")  # "diabetes is...", "people with...", "it melts..."
        if disease_mentions(" ".join(words[:3])):
            tokens.append("dz+lead")  # the disease opens the sentence: mostly its subject
        if not candidate.anchored:
            tokens.append("dz+narrative")
    # context: the same for every sentence of a block, mostly
    if not candidate.anchored:
        tokens.append("ctx:narrative")
    tokens += _context_tokens(candidate.tag, candidate.region, candidate.testimonial, candidate.context,
                              candidate.section)
    return tokens


@lru_cache(maxsize=4096)
def _context_tokens(tag: str, region: str, testimonial: bool, context: frozenset[str], section: str) -> tuple[str, ...]:
    tokens = ["ctx:heading" if tag in HEADING_TAGS else "ctx:cell" if tag in _CELL_TAGS else f"ctx:tag-{tag}",
              f"ctx:region-{region}"]
    if testimonial:
        tokens.append("ctx:card")
    tokens += [f"ctx:{hint}" for hint in _CONTEXT_HINTS if hint in context]
    if section:
        tokens += [f"sec:{w}" for w in _WORDS.findall(fold(section))[:6] if w not in _STOP]
    return tuple(tokens)
