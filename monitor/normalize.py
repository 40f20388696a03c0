"""HTML -> visible text as ordered blocks.

Scripts, styles, templates, hidden elements and cookie banners are dropped (not an accordion's answer or a tab's
panel that waits, ``hidden``, for the reader to open it); footers are kept (disclaimers
live there) and marked ``region="footer"``. Inline markup is flattened, so ``<b>90</b>-day`` reads
``90-day``; ``<br>`` becomes a newline inside the block's text. Uses lxml: this runs on every fetch.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from lxml import etree

from monitor.statements import HEADING_TAGS, Block

_DROP_TAGS = frozenset(
    {
        "script", "style", "noscript", "template", "svg", "math", "iframe", "object", "embed", "canvas",
        "head", "title", "meta", "link", "select", "option", "input", "textarea", "video", "audio", "map",
    }
)
_BLOCK_TAGS = frozenset(
    {
        "p", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "section", "article",
        "header", "footer", "nav", "aside", "main", "table", "tr", "td", "th", "thead", "tbody", "tfoot",
        "dl", "dt", "dd", "figure", "figcaption", "caption", "form", "fieldset", "legend", "details",
        "summary", "address", "pre", "hr", "center", "body", "html", "button", "label",
    }
)
_REGION_TAGS = {"header": "header", "nav": "nav", "footer": "footer", "aside": "aside", "main": "main"}
_REGION_ROLES = {"banner": "header", "navigation": "nav", "contentinfo": "footer", "complementary": "aside",
                 "main": "main"}
_TAG_CONTEXT = {
    "blockquote": "blockquote", "li": "list", "table": "table", "h1": "heading", "h2": "heading",
    "h3": "heading", "h4": "heading", "h5": "heading", "h6": "heading", "details": "faq", "dl": "list",
    "figure": "figure", "sup": "footnote",
}
_CARD_TAGS = frozenset({"blockquote", "figure"})
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


_Hints = tuple[tuple[str, re.Pattern[str]], ...]


@cache
def _attribute_patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str], _Hints]:
    hidden_style = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
    banner = re.compile(r"cookie|consent|gdpr|onetrust|cc-(?:window|banner)", re.IGNORECASE)
    # a reader's comment under a post is a customer's words as much as a review is
    card = re.compile(r"testimonial|review|quote|card|comment", re.IGNORECASE)
    hints = (
        ("testimonial", re.compile(r"testimonial|review|quote|comment", re.IGNORECASE)),
        ("faq", re.compile(r"\bfaq|accordion|question", re.IGNORECASE)),
        ("guarantee", re.compile(r"guarantee|refund|money-?back|return", re.IGNORECASE)),
        ("disclaimer", re.compile(r"disclaimer|disclosure|legal|fda", re.IGNORECASE)),
        ("modal", re.compile(r"modal|popup|overlay", re.IGNORECASE)),
        ("footnote", re.compile(r"footnote|fineprint|fine-print|small-print", re.IGNORECASE)),
    )
    return hidden_style, banner, card, hints


def decode_html(body: bytes, encoding: str | None = None) -> str:
    """Decode a response body: the given (header) encoding, else the page's meta charset, else UTF-8.

    Undecodable bytes become U+FFFD rather than an error: broken pages still yield their text.
    """
    candidates = [encoding] if encoding else []
    match = _META_CHARSET.search(body[:4096])
    if match:
        candidates.append(match.group(1).decode("ascii", "replace"))
    candidates.append("utf-8")
    for candidate in candidates:
        try:
            return body.decode(candidate or "utf-8", errors="replace")
        except LookupError:
            continue
    return body.decode("utf-8", errors="replace")


_BR = "\x00"  # marks a <br> in the text buffer: never produced by the parser, not whitespace to str.split
_ZERO_WIDTH_TABLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


@dataclass(slots=True)
class _Walker:
    blocks: list[Block] = field(default_factory=list)
    buffer: list[str] = field(default_factory=list)
    groups: int = 0

    def flush(self, tag: str, region: str, context: frozenset[str], group: int) -> None:
        if not self.buffer:
            return
        raw = "".join(self.buffer)
        self.buffer.clear()
        if raw.isspace():
            return
        if _BR in raw:
            text = "\n".join(line for line in (" ".join(part.split()) for part in raw.split(_BR)) if line)
        else:
            text = " ".join(raw.split())  # folds every Unicode space, &nbsp; included
        if not text.isascii():
            text = text.translate(_ZERO_WIDTH_TABLE)
        if text:
            self.blocks.append(Block(text, tag, region, context, group))


@dataclass(frozen=True, slots=True)
class _NameTraits:
    """What an element's class and id say about it (cached: shop pages repeat the same few names)."""

    hidden: bool  # a cookie/consent banner, or a hidden / d-none class
    hints: tuple[str, ...]  # context hints: testimonial, faq, guarantee, disclaimer, modal, footnote
    card: bool  # a testimonial/review/quote card: its blocks form one group
    card_part: bool  # a part of a card ("review-text", "review__meta"): inside a card, no group of its own
    footer: bool
    sidebar: bool


@lru_cache(maxsize=8192)
def _name_traits(names: str) -> _NameTraits:
    _hidden_style, banner, card, hints = _attribute_patterns()
    classes = names.split()
    lowered = names.lower()
    return _NameTraits(
        hidden=bool(banner.search(names)) or "hidden" in classes or "d-none" in classes,
        hints=tuple(hint for hint, pattern in hints if pattern.search(names)),
        card=bool(card.search(names)),
        card_part=bool(_CARD_PART.search(names)),
        footer="footer" in lowered,
        sidebar="sidebar" in lowered,
    )


_CARD_PART = re.compile(
    r"(?:testimonial|review|quote|card|comment)s?(?:-|_{1,2})(?:text|body|content|meta(?:data)?|title|author|name|date"
    r"|stars?|rating|header|footer|info|excerpt|byline|details?|quote|copy|verified)\b",
    re.IGNORECASE,
)
_REVEALED = re.compile(r"faq|accordion|answer|panel|collaps|toggle|expand|tab-?content", re.IGNORECASE)


def _is_hidden(attrib: Any, names: str) -> bool:
    if attrib.get("aria-hidden", "").lower() == "true":
        return True
    if "hidden" in attrib and not (_REVEALED.search(names) or attrib.get("role") in ("region", "tabpanel")):
        return True  # (an accordion's answer or a tab's panel is hidden until the reader opens it: it is shown)
    style = attrib.get("style")
    if style and _attribute_patterns()[0].search(style):
        return True
    return bool(names) and _name_traits(names).hidden


@lru_cache(maxsize=1024)
def _with_context(context: frozenset[str], extra: tuple[str, ...]) -> frozenset[str]:
    """``context`` plus ``extra`` (cached: a page's list items and cards add the same few hints)."""
    return context.union(extra)


def _walk(
    element: etree._Element,
    walker: _Walker,
    tag: str,
    region: str,
    context: frozenset[str],
    group: int,
    in_card: bool = False,
) -> None:
    buffer = walker.buffer
    for child in element:
        child_tag = child.tag
        if not isinstance(child_tag, str):  # comments, processing instructions
            if child.tail:
                buffer.append(child.tail)
            continue
        attrib = child.attrib
        if attrib:
            names = (attrib.get("class", "") + " " + attrib.get("id", "")).strip()
            hidden = _is_hidden(attrib, names)
        else:
            names, hidden = "", False
        if hidden or child_tag in _DROP_TAGS:
            if child.tail:
                buffer.append(child.tail)
            continue
        if child_tag not in _BLOCK_TAGS:
            if child_tag == "br":
                buffer.append(_BR)
            else:
                if child.text:
                    buffer.append(child.text)
                if len(child):
                    _walk(child, walker, tag, region, context, group, in_card)
            if child.tail:
                buffer.append(child.tail)
            continue
        # a block element: close the text before it, walk it with its own context, close it
        if buffer:
            walker.flush(tag, region, context, group)
        child_region = _REGION_TAGS.get(child_tag, region)
        if attrib:
            role = attrib.get("role")
            if role in _REGION_ROLES:
                child_region = _REGION_ROLES[role]
        child_context = context
        child_group = group
        child_in_card = in_card
        tag_context = _TAG_CONTEXT.get(child_tag)
        if names:
            traits = _name_traits(names)
            if region == "main":
                if traits.footer:
                    child_region = "footer"
                elif traits.sidebar:
                    child_region = "aside"
            extra = traits.hints + (tag_context,) if tag_context else traits.hints
            if extra:
                child_context = _with_context(context, extra)
            # a class-named card (testimonial, review...) starts a group, innermost first, unless it names a
            # part of the card it is in ("review-text", "review__meta"; a "quote" paragraph is a quote of its
            # own); a bare blockquote or figure starts one only outside such a card, so quote and author stay
            # together
            if traits.card and not (in_card and traits.card_part):
                walker.groups += 1
                child_group = walker.groups
                child_in_card = True
            elif child_tag in _CARD_TAGS and not in_card:
                walker.groups += 1
                child_group = walker.groups
        else:
            if tag_context:
                child_context = _with_context(context, (tag_context,))
            if child_tag in _CARD_TAGS and not in_card:
                walker.groups += 1
                child_group = walker.groups
        if child.text:
            buffer.append(child.text)
        if len(child) >= 3 and child_tag not in HEADING_TAGS and _chip_row(child):
            for chip in child:  # one line per badge
                if chip.text:
                    buffer.append(chip.text)
                buffer.append(_BR)
        elif len(child):
            _walk(child, walker, child_tag, child_region, child_context, child_group, child_in_card)
        if buffer:
            walker.flush(child_tag, child_region, child_context, child_group)
        if child.tail:
            buffer.append(child.tail)


_CHIP_TAGS = frozenset({"span", "a", "b", "strong", "em", "i", "small", "mark"})
_CHIP_WORDS = 8


def _chip_row(element: etree._Element) -> bool:
    """A row of badges or chips: three or more inline elements with nothing but space between them, each a
    short phrase of its own ("Doctor Formulated", "GMP Certified", "4.8\u2605 from 12,400+ reviews") opening
    with a capital, a digit or a sign, most of more than one word. Each is read as a line of its own, as a
    browser shows it, not as one run-on sentence. Words of one sentence split over spans ("<span>Our
    formula</span> <span>reverses</span> ...") open in lower case and stay one line."""
    if len(element) < 3 or (element.text and not element.text.isspace()):
        return False
    several = 0
    for chip in element:
        if chip.tag not in _CHIP_TAGS or len(chip) or (chip.tail and not chip.tail.isspace()):
            return False
        text = (chip.text or "").strip()
        words = len(text.split())
        if not words or words > _CHIP_WORDS or (text[0].isalpha() and not text[0].isupper()):
            return False
        several += words > 1
    return 2 * several >= len(element)


# libxml2's nesting limit with huge_tree (without it, 256: past that the parser dropped the rest of the page)
MAX_DEPTH = 2048
# _walk recurses once per level: room for the deepest tree the parser builds, above the caller's own frames
_WALK_RECURSION_LIMIT = MAX_DEPTH + 1000


class IncompleteParseError(Exception):
    """The HTML parser stopped before the end of the page (nesting deeper than ``MAX_DEPTH`` levels): the text
    would lack the rest of the page, so the page is not analysed rather than read as having lost it."""


@cache
def _html_parser() -> etree.HTMLParser:
    # collect_ids=False: no table of the page's id attributes (nothing here looks an element up by id;
    # building it is ~20% of the parse). huge_tree: nesting up to MAX_DEPTH; the download size limit
    # (DOWNLOAD_MAXSIZE) still bounds the memory a page can take.
    return etree.HTMLParser(remove_comments=True, remove_pis=True, no_network=True, collect_ids=False,
                            huge_tree=True)


def parse_html(html: bytes | str, encoding: str | None = None) -> etree._Element | None:
    """Parse a page into an lxml tree, or None when there is nothing to parse.

    Raises ``IncompleteParseError`` when the parser gave up part way (the only fatal errors libxml2's
    HTML parser reports are such limits; malformed markup is repaired with mere errors).
    """
    text = decode_html(html, encoding) if isinstance(html, bytes) else html
    text = _XML_DECL.sub("", text, count=1)
    if not text.strip():
        return None
    parser = _html_parser()
    try:
        # lxml.etree's own element classes: lxml.html's Python element lookup costs ~0.3 us per node
        root = etree.fromstring(text, parser)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        root = None
    fatal = parser.error_log.filter_from_fatals()
    if fatal:
        error = fatal[0]
        reason = error.message.partition(", use XML_PARSE_HUGE")[0]  # (huge_tree is that option: it is on)
        raise IncompleteParseError(f"the HTML parser stopped at line {error.line} ({reason}): the rest of "
                                   "the page would be missing")
    return root


def tree_to_blocks(root: etree._Element) -> list[Block]:
    """Blocks of an already parsed tree (see ``html_to_blocks``)."""
    if sys.getrecursionlimit() < _WALK_RECURSION_LIMIT:
        sys.setrecursionlimit(_WALK_RECURSION_LIMIT)
    walker = _Walker()
    body = root.find("body")
    start = body if body is not None else root
    if start.text:
        walker.buffer.append(start.text)
    try:
        _walk(start, walker, "body", "main", frozenset(), -1)
    except RecursionError as exc:  # a tree deeper than any parse of ours: not one we can read whole
        raise IncompleteParseError(f"nesting too deep to read (more than {MAX_DEPTH} levels)") from exc
    walker.flush("body", "main", frozenset(), -1)
    return walker.blocks


def html_to_blocks(html: bytes | str, encoding: str | None = None) -> list[Block]:
    """Visible text blocks of a page, in reading order (``IncompleteParseError`` when the parse was cut short).

    >>> [b.text for b in html_to_blocks("<p>Hi <b>there</b></p><script>x()</script><footer>*FDA</footer>")]
    ['Hi there', '*FDA']
    """
    root = parse_html(html, encoding)
    return tree_to_blocks(root) if root is not None else []


def iter_text(blocks: list[Block]) -> Iterator[str]:
    """The block texts, for storing a snapshot's normalised text."""
    return (block.text for block in blocks)
