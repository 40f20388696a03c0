"""Blocks -> units: the sentences, bullets and kept-together groups that statements are made of.

Kept together: a testimonial (every block of one quote card: quote + attribution; the card's small print -
"Results may vary", "received a free bottle in exchange for an honest review" - is not the customer's and
stands apart; a card is one by its class names, or, whatever its markup, as a line of star glyphs followed by
a quote and a reviewer's byline; a creator's reply in a thread is the seller's, not a quote), a small
guarantee box (a short run of blocks whose container names a guarantee), and the two-sentence DSHEA
disclaimer (merged later, in ``extract_statements``, once both halves are recognised).
Everything else is split into sentences, with abbreviations ("Dr.", "U.S.", "mg.") and footnote markers
("cramps.2 Next") handled, and on line breaks and inline bullet separators (" \u2022 ", " \u00b7 ", " | ").
A reviewer's byline ("Jess T. \u00b7 Verified Buyer \u00b7 2 days ago") is never a unit: it describes the quote.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

from monitor.extract.attributes import guarantee_days
from monitor.extract.keys import fold
from monitor.extract.lexicon import ABBREVIATIONS
from monitor.extract.rules import compiled, matching, prefixes
from monitor.statements import HEADING_TAGS, Block

MAX_TESTIMONIAL_CHARS = 1200
MAX_GUARANTEE_BOX_CHARS = 450
MAX_GUARANTEE_BOX_BLOCKS = 4
_HEADLINE_WORDS = 24
_TESTIMONIAL_CONTEXT = frozenset({"testimonial", "blockquote"})


@dataclass(slots=True)  # not frozen: a page makes ~200 of them, and frozen fields cost ~3x to set
class Unit:
    """A candidate statement: its text and where it came from.

    ``section`` is the text of the nearest heading above it (context for the model, not a statement of its
    own unless it makes a claim itself); ``card`` holds what a testimonial card says around its quote
    (reviewer, stars, title).
    """

    text: str
    block: int
    tag: str = "p"
    region: str = "main"
    testimonial: bool = False
    guarantee_box: bool = False
    context: frozenset[str] = frozenset()
    section: str = ""
    card: dict[str, object] | None = None


@cache
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    # a sentence end: punctuation, closing quotes, optional footnote marker, space, then a capital/digit/quote
    boundary = re.compile(
        r"[.!?]+[\"'\u201d\u2019)\]]*(?:\d{1,3}|[*\u2020\u2021\u00b9\u00b2\u00b3\u2074-\u2079]+)?\s+"
        r"(?=[\"'\u201c\u2018(\[]?[A-Z0-9\u00a9$#*\u2020])"
    )
    separators = re.compile(r"\n+|\s+[\u2022\u00b7|]\s+|^\s*[\u2022\u00b7]\s*")
    return boundary, separators


_MAY_SEPARATE = re.compile("[\n\u2022\u00b7|]")


def _ends_with_abbreviation(text: str, end: int) -> bool:
    start = text.rfind(" ", 0, end) + 1
    word = text[start:end].lstrip("(\"'\u201c").casefold()
    if not word:
        return False
    if word in ABBREVIATIONS:
        return True
    # initials ("H. pylori", "J. Smith") and dotted acronyms ("N.N.I")
    return (
        len(word) == 1
        and word.isalpha()
        or ("." in word and len(word) <= 6 and word.replace(".", "").isalpha())
    )


def split_sentences(text: str) -> list[str]:
    """Split a block's text into sentences and inline bullets.

    >>> split_sentences("Dr. Lee uses 5 mg. of it daily. Results vary. \u2022 Ships free")
    ['Dr. Lee uses 5 mg. of it daily.', 'Results vary.', 'Ships free']
    """
    return list(_split_cached(text))


@lru_cache(maxsize=16384)
def _split_cached(text: str) -> tuple[str, ...]:
    return tuple(_split(text))


def _split(text: str) -> list[str]:
    boundary, separators = _patterns()
    pieces: list[str] = []
    # most blocks hold no line break or bullet: skip the separator scan (it tries every space)
    chunks = separators.split(text) if _MAY_SEPARATE.search(text) else (text,)
    for chunk in chunks:
        chunk = chunk.strip()
        if not chunk:
            continue
        if "." not in chunk and "!" not in chunk and "?" not in chunk:
            pieces.append(chunk)
            continue
        start = 0
        for match in boundary.finditer(chunk):
            end_of_punct = match.start()
            if chunk[end_of_punct] == "." and _ends_with_abbreviation(chunk, end_of_punct):
                continue
            sentence = chunk[start : match.end()].strip()
            if sentence:
                pieces.append(sentence)
            start = match.end()
        rest = chunk[start:].strip()
        if rest:
            pieces.append(rest)
    return _answered(pieces) if "?" in text else pieces


_TEASER_WORDS = 3  # "Gout flare?", "Low T?": a teaser question of up to three words
_ANSWER_WORDS = 6


def _answered(pieces: list[str]) -> list[str]:
    """An advertiser's teaser question and its short answer as one sentence ("Gout flare? Flush the
    crystals."): the question names what the answer claims to fix, and neither says it alone."""
    joined: list[str] = []
    teasing = False  # the last piece is one teaser question or more ("Tired? Stressed?")
    for piece in pieces:
        words = len(piece.split())
        if teasing and (words <= _ANSWER_WORDS if not piece.endswith("?") else words <= _TEASER_WORDS):
            joined[-1] = f"{joined[-1]} {piece}"
            teasing = piece.endswith("?")
        else:
            joined.append(piece)
            teasing = piece.endswith("?") and words <= _TEASER_WORDS
    return joined


_OPENING = "\"\u201c"
_CLOSING = "\"\u201d"
MAX_QUOTE_SENTENCES = 5


def _quotes_kept(sentences: Sequence[str]) -> Sequence[str]:
    """Sentences of one quotation ("\u201cI had six stones. Since then, zero.\u201d") joined back into one."""
    if not any(s[:1] in _OPENING for s in sentences):
        return sentences
    joined: list[str] = []
    index = 0
    while index < len(sentences):
        sentence = sentences[index]
        if sentence[:1] in _OPENING and not any(c in sentence[1:] for c in _CLOSING):
            end = index + 1
            while end < len(sentences) and end - index < MAX_QUOTE_SENTENCES:
                end += 1
                if any(c in sentences[end - 1] for c in _CLOSING):
                    break
            if any(c in sentences[end - 1] for c in _CLOSING):
                joined.append(" ".join(sentences[index:end]))
                index = end
                continue
        joined.append(sentence)
        index += 1
    return joined


def _join(blocks: Sequence[Block]) -> str:
    return " ".join(" ".join(block.text.split()) for block in blocks)


_STAR_CHARS = "\u2605\u2606\u2729\u272a\u2b50"


@cache
def _card_patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    stars = re.compile(
        rf"^\W*(?:[{_STAR_CHARS}]{{1,5}}|(?:rated\s+)?\d(?:\.\d)?\s*(?:/\s*5|out of 5|stars?)\b)", re.IGNORECASE
    )
    # "- Dana R.", "Mark T., Ohio", "Verified Buyer", "Linda, 58, Tucson": short, name-like
    reviewer = re.compile(
        r"^\s*(?:[-~\u2013\u2014]+\s*)?[A-Z][\w.'\u2019-]*(?:\s+(?:[A-Z][\w.'\u2019-]*|from|of|in|&|and))*"
        r"(?:\s*[,(|\u00b7-]\s*[\w .,'()-]*)?$"
    )
    date = re.compile(
        r"^(?:\w+ )?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\w* \d{1,2},? \d{4}$"
        r"|^\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}$|^(?:posted|reviewed|verified)\b.{0,40}$|ago$",
        re.IGNORECASE,
    )
    trailing_name = re.compile(r"\s+[-~\u2013\u2014]{1,2}\s*([A-Z][^\n\"\u201d]{1,60})$")
    return stars, reviewer, date, trailing_name


_REVIEW_META = re.compile(
    # a marketplace's variant line first: "Flavor: Wild Berry | Size: 60 Count Verified Purchase ..."
    r"^(?:(?:flavou?r|size|colou?r|style|scent|pattern|count|pack size|item package quantity)\s*:\s*[^|\u00b7:]{1,30}?"
    r"\s*(?:[\u00b7|]\s*|(?=verified )))+(?:verified (?:purchase|buyer|customer)\s*(?:[\u00b7|]\s*)?)*"
    r"|^(?:reviewed (?:in|on) [^\u00b7|]{3,60}?(?: on [a-z]+ \d{1,2},? \d{4})?\s*(?:[\u00b7|]\s*)?)?"
    r"(?:verified (?:purchase|buyer|customer)\s*(?:[\u00b7|]\s*)?)+"
    r"|^reviewed (?:in|on) [^\u00b7|]{3,60}? on [a-z]+ \d{1,2},? \d{4}\s*(?:[\u00b7|]\s*)?",
    re.IGNORECASE,
)


_REVIEW_CONTROLS = re.compile(
    r"^(?:helpful|not helpful|report(?: abuse)?|reply|share|like|read more|see more|show more|translate(?: review)?"
    r"|(?:view|load|see|show) (?:more|all|previous|\d+(?: more)?) (?:comments?|replies|reviews)"
    r"|\d[\d,]* (?:people|person|customers?) found this helpful|was this (?:review )?helpful\??.{0,30})$",
    re.IGNORECASE,
)
# a comment's line of metadata: "2d ago \u00b7 Reply \u00b7 \u2661 3,118", "Pinned", "Edited \u00b7 Like": every part a
# time, a control or a count; it ends the comment above it
_COMMENT_META_PART = re.compile(
    r"^(?:\d+\s*(?:s|m|h|d|w|y|mo|min|mins|hr|hrs|sec|secs|seconds?|minutes?|hours?|days?|weeks?|months?|years?)"
    r"\s+ago|just now|yesterday|today|edited|\W*\s*pinned|reply|replies|like|likes|share|report|hide"
    r"|see translation|view \d+ more repl(?:y|ies)"
    r"|(?:\W{1,2}\s*)?\d[\d,.]*\s*[km]?(?:\s+(?:likes?|replies|reactions?))?"
    r"|(?:creator|author|admin|moderator|top fan)|[^\w\s]{1,3})$",
    re.IGNORECASE,
)
# a commenter's handle ("marco.still.here", "@kai_walks", "breathe.with.tamsin \u00b7 Creator"): one word of
# letters, digits, dots and underscores, in lower case, with an optional badge
_HANDLE = re.compile(r"^@?[a-z0-9][a-z0-9._]{2,30}(?:\s*[\u00b7|\u2022]\s*(?:creator|author|admin|moderator|top fan"
                     r"|verified(?: buyer| purchase)?))?$", re.IGNORECASE)


def _comment_meta(text: str) -> bool:
    parts = [part for part in _BYLINE_SEPARATOR.split(text) if part]
    return bool(parts) and len(parts) <= 6 and all(_COMMENT_META_PART.match(part) for part in parts)


# the badge a thread gives the page's own author or shop ("tom_wilde \u00b7 Creator", "nordleaf | Brand")
_SELLER_BADGE = re.compile(
    r"[\u00b7|\u2022]\s*(?:creator|author|brand|seller|shop|store|official|admin|moderator|team)\s*$", re.IGNORECASE)


def _handle(text: str) -> str | None:
    """A commenter's handle, or None: lower case ("marco.still.here") or with a dot or underscore in it, never
    a plain word of a sentence ("Thanks")."""
    if not _HANDLE.match(text):
        return None
    name = _BYLINE_SEPARATOR.split(text)[0].strip()
    if name.lower() != name and not any(c in name for c in "._@0123456789"):
        return None
    return name


_NAME_INITIAL = r"[A-Z][a-z'\u2019-]+ [A-Z]\."  # a first name and an initial: "Rachel B."
# a person's name with an initial: "Rachel B.", "- Dana R., Ohio", "Frank D., Terre Haute, Indiana"
_PERSON = re.compile(rf"^\s*(?:[-~\u2013\u2014]+\s*)?{_NAME_INITIAL}(?:,\s*[\w .'-]{{1,30}}){{0,2}}$")
_BYLINE_SEPARATOR = re.compile(r"\s*[\u00b7|\u2022]\s*")
_BYLINE_META = re.compile(
    r"^(?:verified (?:buyer|purchaser?|customer|reviewer)|(?:reviewed|posted)\b.{0,60}"
    r"|\d+ (?:minutes?|hours?|days?|weeks?|months?|years?) ago|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"
    r"\w* \d{1,2},? \d{4}|\d{1,4}[/.-]\d{1,2}(?:[/.-]\d{1,4})?|top (?:\d+ )?reviewer|vine customer review.{0,40})$",
    re.IGNORECASE,
)
_BYLINE_PLACE = re.compile(r"^[A-Z][a-z]+(?: [A-Z][a-z]+)?(?:,? [A-Z][A-Za-z]+)?$|^(?:age )?\d{2}$")


_CHECK_MARKS = "\u2713\u2714\u2705\u2611 "
# a person's first name and initial at the start of a line: "Priya K.", "Ifeoma N."
_INITIALLED = re.compile(rf"^{_NAME_INITIAL}(?=,|$)")


def byline(text: str) -> dict[str, object] | None:
    """A reviewer's byline and nothing else ("Jess T. \u00b7 Verified Buyer \u00b7 2 days ago", "Nate J. \u00b7
    October 24, 2024 \u00b7 Verified Buyer"): the reviewer and ``verified``, or None. It describes the quote
    beside it and is never a statement of its own."""
    line = " ".join(text.split()).strip(" -~\u2013\u2014")
    parts = _BYLINE_SEPARATOR.split(line)
    person = _INITIALLED.match(parts[0])
    commas = False
    if person is not None and len(parts) < 2:  # "Ifeoma N., verified purchaser": a person's name, then commas
        commas = True
        parts = [person.group(0), *(part.strip() for part in line[person.end():].split(",") if part.strip())]
    if len(parts) < 2 or len(parts[0].split()) > 5 or not _card_patterns()[1].match(parts[0]):
        return None
    if parts[0].lower().startswith(("verified", "reviewed", "posted")):
        return None  # a marketplace line ("Verified Purchase \u00b7 ..."): _REVIEW_META's
    meta = [part.lstrip(_CHECK_MARKS) for part in parts[1:] if part]  # "\u2714 Verified Buyer"
    if not any(_BYLINE_META.match(part) for part in meta):
        return None  # "Dana \u00b7 Tucson": too little to tell from a line of text
    # beside a date or "verified": a place or an age; after a person's name with an initial, also a few words
    # that describe the reviewer ("Mom of a 7-year-old", "22 weeks")
    if not all(_BYLINE_META.match(part) or _BYLINE_PLACE.match(part)
               or (person and len(part.split()) <= 5 and part[-1:] not in ".!?") for part in meta):
        return None
    # the reviewer: the name, with the place after it when commas set them apart ("Bernard K., Scranton PA")
    reviewer = parts[0]
    for part in parts[1:] if commas else ():
        if _BYLINE_META.match(part.lstrip(_CHECK_MARKS)):
            break
        reviewer += f", {part}"
    info: dict[str, object] = {"reviewer": reviewer}
    if any(part.lower().startswith("verified") for part in meta):
        info["verified"] = True
    return info


def _star_count(text: str) -> float | None:
    count = sum(text.count(c) for c in "\u2605\u2b50")
    if count:
        return float(count)
    match = re.search(r"(\d(?:\.\d)?)\s*(?:/\s*5|out of 5|stars?)", text, re.IGNORECASE)
    return float(match.group(1)) if match else None


_SMALL_PRINT_TYPES = frozenset({"results_vary", "other", "fda"})


@lru_cache(maxsize=4096)
def small_print(sentence: str) -> bool:
    """A seller's notice in a testimonial card or review wall, not the customer's words: a results-vary,
    endorsement (free product, paid, actors) or DSHEA disclaimer by the rules of ``lexicon``."""
    folded = fold(sentence)
    rules = compiled()
    return any(rule.type in _SMALL_PRINT_TYPES
               for rule, _match in matching(rules.disclaimers, rules.disclaimer_gate, folded, prefixes(folded)))


@lru_cache(maxsize=4096)
def _guarantee_type(text: str) -> str | None:
    """The type of guarantee the rules of ``lexicon`` see in a block alone (money_back, satisfaction...)."""
    folded = fold(text)
    rules = compiled()
    return next((rule.type for rule, _match in matching(rules.guarantees, rules.guarantee_gate, folded,
                                                        prefixes(folded))), None)


_SHORTEST_OWN_PERIOD = 14  # days: a shorter figure in a box is handling time ("refunds within 7 days")


@lru_cache(maxsize=4096)
def box_promises(text: str) -> tuple[str, ...]:
    """A guarantee box's text, cut where a sentence names a period of its own: "Protected by our 180-day
    guarantee. Return your bottles within 90 business days for a refund." holds two promises, each with its
    window, while "Our 60-Day Promise. Try it for 60 days..." is one. A box stays one statement unless its
    sentences name different periods (two weeks or longer, or for life)."""
    sentences = _split_cached(text)
    if len(sentences) < 2:
        return (text,)
    starts = [0]  # the index of the sentence each part starts with
    periods: set[object] = set()  # the periods the current part names
    for number, sentence in enumerate(sentences):
        days, lifetime = guarantee_days(fold(sentence))
        period: object = "lifetime" if lifetime else days
        if period is not None and (lifetime or (days or 0) >= _SHORTEST_OWN_PERIOD):
            if periods and period not in periods:
                starts.append(number)
                periods = set()
            periods.add(period)
    if len(starts) == 1:
        return (text,)
    parts = list(zip(starts, [*starts[1:], len(sentences)], strict=True))  # (first, after last) sentence
    # each part as the box wrote it ("1 bottle $39 · 3 bottles $89" keeps its separator): the sentences are
    # the box's own characters, found in order
    offsets: list[int] = []
    position = 0
    for sentence in sentences:
        position = text.find(sentence, position)
        if position < 0:  # not expected (sentences are stripped slices of the text); joined rather than lost
            return tuple(" ".join(sentences[first:last]) for first, last in parts)
        offsets.append(position)
        position += len(sentence)
    return tuple(text[offsets[first] : offsets[last - 1] + len(sentences[last - 1])] for first, last in parts)


def _without_small_print(quote: Unit) -> list[Unit]:
    """A card's quote with the seller's small print cut out as units of their own, in order."""
    sentences = _split_cached(quote.text)
    if not any(map(small_print, sentences)):
        return [quote]
    units: list[Unit] = []
    kept: list[str] = []

    def keep() -> None:
        if kept:
            units.append(Unit(" ".join(kept), quote.block, quote.tag, quote.region, True, False, quote.context,
                              quote.section, quote.card))
            kept.clear()

    for sentence in sentences:
        if small_print(sentence):
            keep()
            units.append(Unit(sentence, quote.block, "p", quote.region, False, False, quote.context, quote.section))
        else:
            kept.append(sentence)
    keep()
    return units


def card_units(card: Sequence[Block], index: int) -> list[Unit]:
    """A testimonial card's quotes, one unit each, with its reviewer, stars and title as ``card``.

    Blocks that read as stars ("\u2605\u2605\u2605\u2605\u2605", "5 out of 5"), a date, a reviewer ("- Dana R.",
    "Verified Buyer") or a title (a heading, or a short line without a full stop before the quote) describe
    the quote; every other block is quote text. Consecutive quote blocks form one quote unless a reviewer,
    stars or title came between them (a new review).
    """
    stars_re, reviewer_re, date_re, trailing_re = _card_patterns()
    units: list[Unit] = []
    info: dict[str, object] = {}
    quote: list[str] = []
    quote_block = index
    first = card[0]
    commenter = False  # a thread of comments under handles ("marco.still.here"): its short lines are comments

    def close() -> None:
        nonlocal quote
        if quote:
            text = " ".join(quote)
            if info.get("seller"):  # the creator's or shop's reply: the seller's words, read like any of theirs
                units.append(Unit(text, quote_block, "p", first.region, False, False, first.context, ""))
            else:
                units.append(Unit(text, quote_block, "blockquote", first.region, True, False, first.context, "",
                                  {k: v for k, v in info.items() if v is not None}))
            quote = []

    for offset, block in enumerate(card):
        text = " ".join(block.text.split())
        found = byline(text)
        if found is not None:  # the quote's byline: after the quote it closes it, before it opens the next
            info.update(found)
            if quote:
                close()
                info = {}
            continue
        meta = _REVIEW_META.match(text)
        if meta:  # "Reviewed in the United States on March 19, 2024 \u00b7 Verified Purchase The buzzing..."
            if "verified" in meta.group(0).lower():
                info["verified"] = True
            text = text[meta.end():].strip()
            if not text:
                continue
        words = len(text.split())
        if words <= 8 and _REVIEW_CONTROLS.match(text):
            continue  # "Helpful", "Report", "12 people found this helpful"
        if words <= 12 and _comment_meta(text):  # "2d ago \u00b7 Reply \u00b7 \u2661 3,118": the comment above ends
            if quote:
                close()
                info = {}
            continue
        handle = _handle(text) if words <= 4 else None
        if handle is not None:  # "marco.still.here": the commenter of what follows
            if quote:
                close()
            info = {"reviewer": handle}
            if _SELLER_BADGE.search(text):  # "tom_wilde \u00b7 Creator": the page's own author answering
                info["seller"] = True
            commenter = True
            continue
        if words <= 12 and small_print(text):  # "Vine Customer Review of Free Product": the seller's notice
            units.append(Unit(text, index + offset, "p", first.region, False, False, first.context, ""))
            continue
        if words <= 4 and _PERSON.match(text):  # "Rachel B.", "- Dana R., Ohio": the reviewer, before or after
            info["reviewer"] = text.lstrip("-~\u2013\u2014 ").strip()
            if quote:
                close()
                info = {}
            continue
        if words <= 8 and stars_re.match(text):
            if quote:
                close()
                info = {}
            info["stars"] = _star_count(text)
            rest = stars_re.sub("", text, count=1).strip(" -|\u00b7")
            if rest and len(rest.split()) <= 10 and not rest.endswith("."):
                info["title"] = rest
            continue
        if words <= 6 and date_re.search(text):
            continue
        if words <= 7 and reviewer_re.match(text) and (quote or units or text.lstrip()[:1] in "-~\u2013\u2014"):
            name = text.lstrip("-~\u2013\u2014 ").strip()
            if "verified" in name.lower():
                info["verified"] = True
                name = re.sub(r"(?i)\s*[|\u00b7,-]?\s*verified (?:buyer|purchase|customer)\s*", "", name).strip()
            if name:
                info["reviewer"] = name
                if quote:
                    close()
                    info = {}
            continue
        trailing = trailing_re.search(text)
        if trailing and len(trailing.group(1).split()) <= 8:
            text = text[: trailing.start()].rstrip()
            if not quote:
                quote_block = index + offset
            quote.append(text)
            info["reviewer"] = trailing.group(1).strip()
            close()
            info = {}
            continue
        if words <= 6 and _SALUTATION.match(text):  # "Dear Harlan Health,": a letter's opening, no title
            continue
        heading = block.tag in HEADING_TAGS
        short_line = words <= 8 and text[-1:] not in ".!?\"\u201d" and text[:1] not in "\"\u201c" and not commenter
        if (heading or short_line) and not quote:  # a title (a comment under a handle has none)
            info["title"] = text
            continue
        if not quote:
            quote_block = index + offset
        quote.append(text)
    if quote:
        close()
    elif info and units and units[-1].testimonial:
        # a reviewer or stars after the last quote belong to it
        last = units[-1]
        merged = dict(last.card or {})
        merged.update({k: v for k, v in info.items() if v is not None and k not in merged})
        last.card = merged
    return units


_SALUTATION = re.compile(r"^(?:dear|hi|hello|to)\b[^.!?]{0,50},$", re.IGNORECASE)


def _card_quotes(card: Sequence[Block], index: int, section: str) -> list[Unit]:
    """A card's quotes (``card_units``) without the seller's small print, under the section they stand in."""
    quotes = [unit for quote in card_units(card, index) for unit in _without_small_print(quote)]
    for unit in quotes:
        unit.section = section
    return quotes


def segment(blocks: Sequence[Block]) -> list[Unit]:
    """Cut a page's blocks into units, in page order: every sentence, bullet, cell and quote."""
    units: list[Unit] = []
    count = len(blocks)
    index = 0
    section = ""
    while index < count:
        block = blocks[index]
        context = block.context
        if block.tag in HEADING_TAGS and block.region in ("main", "footer"):
            section = " ".join(block.text.split())[:120]
        if block.group >= 0 and (not _TESTIMONIAL_CONTEXT.isdisjoint(context) or _starred_card(blocks, index)):
            end = index + 1
            while end < count and blocks[end].group == block.group:
                end += 1
            card = blocks[index:end]
            if len(_join(card)) <= MAX_TESTIMONIAL_CHARS * 4:
                quotes = _card_quotes(card, index, section)
                if quotes:
                    units.extend(quotes)
                    index = end
                    continue
        end = _unnamed_card_end(blocks, index) if block.group < 0 else 0
        if end:  # a review card its markup does not name: read as one, like a class-named card
            units.extend(_card_quotes(blocks[index:end], index, section))
            index = end
            continue
        if "guarantee" in context and "testimonial" not in context:
            end = index + 1
            while (
                end < count
                and end - index < MAX_GUARANTEE_BOX_BLOCKS + 1
                and "guarantee" in blocks[end].context
                and blocks[end].region == block.region
            ):
                end += 1
            run = blocks[index:end]
            text = _join(run)
            if end - index <= MAX_GUARANTEE_BOX_BLOCKS and len(text) <= MAX_GUARANTEE_BOX_CHARS:
                # a seal of its own ("100% satisfaction guaranteed.") beside the box's other promise stands apart
                seals = [b for b in run[1:] if _guarantee_type(b.text) == "satisfaction"]
                kept = [b for b in run if b not in seals]
                if seals and any(b.tag not in HEADING_TAGS for b in kept):
                    units += [Unit(part, index, block.tag, block.region, False, True, context, section)
                              for part in box_promises(_join(kept))]
                    for seal in seals:
                        units.append(Unit(" ".join(seal.text.split()), index + run.index(seal), seal.tag,
                                          seal.region, False, False, seal.context, section))
                else:
                    units += [Unit(part, index, block.tag, block.region, False, True, context, section)
                              for part in box_promises(text)]
                index = end
                continue
        found = byline(block.text) if len(block.text) <= _BYLINE_CHARS else None
        if found is not None:
            # a byline outside a recognised card describes the quote before it, if there is one
            if units and units[-1].testimonial:
                last = units[-1]
                last.card = {**found, **(last.card or {})}
            index += 1
            continue
        # a heading is read whole: "SHRINK YOUR PROSTATE. SLEEP THROUGH THE NIGHT." is one headline
        whole = block.tag in HEADING_TAGS and len(block.text.split()) <= _HEADLINE_WORDS
        for sentence in [" ".join(block.text.split())] if whole else _quotes_kept(_split_cached(block.text)):
            units.append(Unit(sentence, index, block.tag, block.region, False, False, context, section))
        index += 1
    return units


_BYLINE_CHARS = 120
_UNNAMED_CARD_BLOCKS = 5  # after the stars: a title, up to three paragraphs of quote, the byline


def _stars_alone(text: str) -> bool:
    """A line of star glyphs and nothing else ("\u2605\u2605\u2605\u2605\u2605"): how a review card opens."""
    return len(text) <= 20 and bool(text.strip()) and not text.strip(_STAR_CHARS + "\u2606 ")


def _starred_card(blocks: Sequence[Block], index: int) -> bool:
    """A card its class names call no review ("letter-card", "card"): it opens with star glyphs alone and is
    signed by a person ("Frank D., Terre Haute, Indiana") or a reviewer's byline, so it is a customer's."""
    if not _stars_alone(blocks[index].text):
        return False
    group = blocks[index].group
    for block in blocks[index + 1:index + _UNNAMED_CARD_BLOCKS + 2]:
        if block.group != group:
            return False
        text = " ".join(block.text.split())
        if len(text) <= _BYLINE_CHARS and (_PERSON.match(text) or byline(text) is not None):
            return True
    return False


def _unnamed_card_end(blocks: Sequence[Block], index: int) -> int:
    """A review card whose class names say nothing ("rc", or a framework's hashed names): a line of star glyphs
    alone, then within a few blocks of the same region a reviewer's byline ("Walter J. \u00b7 Verified Buyer \u00b7 1
    day ago") with something between them. The index after the byline, or 0 when the blocks are no such card.
    A rating summary ("\u2605\u2605\u2605\u2605\u2605 4.9 from 2,000 reviews") is not glyphs alone: never the start
    of one."""
    if not _stars_alone(blocks[index].text):
        return 0
    region = blocks[index].region
    for end in range(index + 1, min(len(blocks), index + _UNNAMED_CARD_BLOCKS + 2)):
        block = blocks[end]
        if block.region != region or block.group >= 0 or (block.tag in HEADING_TAGS and end > index + 1):
            return 0  # (a heading right under the stars is the review's title; a later one opens a section)
        if len(block.text) <= _BYLINE_CHARS and byline(block.text) is not None:
            return end + 1 if end > index + 1 else 0
    return 0
