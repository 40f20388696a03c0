"""What product a page is about: names from JSON-LD, Open Graph, the title and the main heading.

Claims are often made about a plainly named product ("Amber Root calms the joints"): knowing the page's
product name lets the model read that name as the subject of a claim. Only the page's ``<head>`` and its
JSON-LD scripts are read (a few KB; the page text itself is parsed by ``monitor.normalize``), by lxml, which
is what BeautifulSoup's "lxml" builder parses with: the same tree without BeautifulSoup's own (~0.1 ms
instead of ~1 ms a page). ``_head_names_bs4`` is the BeautifulSoup reading, kept as the reference the tests
compare with and for documents lxml refuses.

    >>> product_names('<head><meta property="og:title" content="Amber Root® Joint Formula | Shop"></head>', [])
    ('amber root joint formula', 'amber root')

    (the first word is taken as a brand on its own only from JSON-LD products and product meta tags)
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from monitor.extract.keys import fold
from monitor.statements import Block

_HEAD = re.compile(r"<head\b.*?</head\s*>", re.IGNORECASE | re.DOTALL)
_JSON_LD = re.compile(
    r"<script\b[^>]*type\s*=\s*[\"']?application/ld\+json[^>]*>.*?</script\s*>", re.IGNORECASE | re.DOTALL
)
_ASCII_SPACES = str.maketrans("", "", "\x20\x0a\x09\x0c\x0d")
_LD_TYPE = re.compile("ld\\+json", re.IGNORECASE)
_TITLE_SEPARATORS = re.compile(r"\s+[|\u2013\u2014:-]\s+|\s*[|\u2013\u2014]\s*")
_DESCRIPTORS = re.compile(
    r"\s+(?:joint|sleep|immune|gut|heart|brain|memory|focus|energy|formula|complex|capsules?|tablets?|gummies"
    r"|softgels?|powder|drops|tea|blend|support|plus|max|extra|advanced|original|supplement|\d+\s*(?:mg|ct|count))"
    r"\b.*$",
    re.IGNORECASE,
)
# words of a page's own name ("Returns & Guarantee", "Shipping and Refund Policy", "FAQ", "Official Site"): a
# name made of nothing else is the page's, not a product's
_PAGE_WORDS = frozenset(
    {"returns", "return", "refund", "refunds", "guarantee", "guarantees", "shipping", "delivery", "policy",
     "policies", "faq", "faqs", "contact", "about", "us", "terms", "conditions", "privacy", "reviews", "review",
     "testimonials", "our", "&", "and", "home", "shop", "store", "blog", "cart", "checkout", "questions",
     "frequently", "asked", "customer", "customers", "story", "welcome", "product", "products", "help",
     "warranty", "exchanges", "money-back", "satisfaction", "page", "all", "official", "site", "website"}
)
_SITE_PREFIX = re.compile(r"^[\w-]+\.(?:com|net|org|co|shop|store)\s*:\s*")
_NOT_BRANDS = frozenset({"the", "our", "your", "best", "new", "natural", "pure", "organic", "premium", "daily",
                         "official", "brain", "heart", "joint", "sleep", "immune", "why", "how", "what", "this"})
MAX_NAME_WORDS = 6
MAX_HEAD_CHARS = 200_000


def _jsonld_names(data: Any) -> Iterable[str]:
    if isinstance(data, list):
        for item in data:
            yield from _jsonld_names(item)
    elif isinstance(data, dict):
        kinds = data.get("@type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if any(str(kind).lower() in ("product", "productgroup", "drug", "dietarysupplement") for kind in kinds):
            if isinstance(data.get("name"), str):
                yield data["name"]
            brand = data.get("brand")
            if isinstance(brand, dict) and isinstance(brand.get("name"), str):
                yield brand["name"]
            elif isinstance(brand, str):
                yield brand
        for key in ("@graph", "itemListElement", "mainEntity"):
            if key in data:
                yield from _jsonld_names(data[key])


def _clean(name: str, brand_word: bool) -> list[str]:
    folded = " ".join(fold(name).replace("\u00ae", "").replace("\u2122", "").split())
    folded = _SITE_PREFIX.sub("", folded)
    names: list[str] = []
    for part in _TITLE_SEPARATORS.split(folded)[:1]:
        part = part.strip(" .,:;!\"'")
        if not part or len(part) < 3 or len(part.split()) > MAX_NAME_WORDS or _PAGE_WORDS.issuperset(part.split()):
            continue
        names.append(part)
        short = _DESCRIPTORS.sub("", part).strip()
        if short and short != part and len(short) >= 3 and not _PAGE_WORDS.issuperset(short.split()):
            names.append(short)
        first = part.split()[0]
        if brand_word and len(part.split()) > 1 and len(first) >= 5 and first.isalpha() and first not in _NOT_BRANDS:
            names.append(first)
    return names


def _head_names(markup: str) -> list[tuple[str, bool]]:
    """Names from the page's head and JSON-LD scripts, parsed by lxml (libxml2's HTML parser, as
    BeautifulSoup's "lxml" builder uses, without building BeautifulSoup's tree: ~10x faster)."""
    from lxml import etree
    from lxml import html as lxml_html

    try:
        root = lxml_html.document_fromstring(markup)
    except (etree.ParserError, ValueError):
        return _head_names_bs4(markup)  # an empty document, or a string with an XML encoding declaration
    found: list[tuple[str, bool]] = []
    for script in root.iter("script"):
        if not _LD_TYPE.search(script.get("type") or ""):
            continue
        try:
            found += [(name, True) for name in _jsonld_names(json.loads(_string(script) or ""))]
        except (ValueError, RecursionError):
            continue
    metas: dict[str | None, Any] = {}
    for meta in root.iter("meta"):
        metas.setdefault(meta.get("property"), meta)
    og_type = metas.get("og:type")
    product_page = og_type is not None and "product" in str(og_type.get("content", "")).lower()
    for prop in ("og:title", "product:brand", "og:site_name"):
        meta = metas.get(prop)
        content = meta.get("content") if meta is not None else None
        if isinstance(content, str):
            found.append((content, prop == "product:brand" or (product_page and prop == "og:title")))
    title = next(root.iter("title"), None)
    string = _string(title) if title is not None else None
    if string:
        found.append((string, False))
    return found


def _string(element: Any) -> str | None:
    """BeautifulSoup's ``Tag.string`` of an lxml element: its only child's text, or None."""
    contents: list[Any] = [element.text] if element.text else []
    for child in element:
        contents.append(child)
        if child.tail:
            contents.append(child.tail)
    if len(contents) != 1:
        return None
    only = contents[0]
    if not isinstance(only, str):
        if isinstance(only.tag, str):
            return _string(only)
        only = only.text or ""  # a comment or processing instruction: BeautifulSoup's strings too
    if not only.translate(_ASCII_SPACES):  # BeautifulSoup keeps blank text as one newline or one space
        return "\n" if "\n" in only else " "
    return only


def _head_names_bs4(markup: str) -> list[tuple[str, bool]]:
    from bs4 import BeautifulSoup  # off the hot path of importing claimwatch

    found: list[tuple[str, bool]] = []
    soup = BeautifulSoup(markup, "lxml")
    for script in soup.find_all("script", type=_LD_TYPE):
        try:
            found += [(name, True) for name in _jsonld_names(json.loads(script.string or ""))]
        except (ValueError, RecursionError):
            continue
    og_type = soup.find("meta", attrs={"property": "og:type"})
    product_page = og_type is not None and "product" in str(og_type.get("content", "")).lower()
    for prop in ("og:title", "product:brand", "og:site_name"):
        meta = soup.find("meta", attrs={"property": prop})
        content = meta.get("content") if meta else None
        if isinstance(content, str):
            found.append((content, prop == "product:brand" or (product_page and prop == "og:title")))
    if soup.title and soup.title.string:
        found.append((soup.title.string, False))
    return found


# a heading that opens as a sentence does ("We'll be back soon!", "Why your knees ache"): no product's name
_SENTENCE_OPENERS = frozenset({"we", "we'll", "we're", "we've", "i", "i'm", "i've", "you", "you'll", "you're", "it",
                               "it's", "this", "our", "your", "my", "why", "how", "what", "when", "is", "are", "do",
                               "does", "can"})


def _sentence(heading: str) -> bool:
    """Whether a main heading reads as a sentence or a headline, not a name: it ends in a full stop, "!" or "?"
    ("Say goodbye to joint pain!": read as the product's name, the headline's words would all become
    ``<product>``), or opens with a pronoun or a question word."""
    folded = fold(heading).rstrip()
    words = folded.split()
    return folded.endswith((".", "!", "?")) or (bool(words) and words[0] in _SENTENCE_OPENERS)


def product_names(html: str | bytes, blocks: Sequence[Block]) -> tuple[str, ...]:
    """The page's product names, folded (lower case), longest first, from its head, JSON-LD and h1."""
    text = html.decode("utf-8", "replace") if isinstance(html, bytes) else html
    found: list[tuple[str, bool]] = []  # (name, whether its first word may be taken as the brand)
    head = _HEAD.search(text[:MAX_HEAD_CHARS])
    scripts = "".join(_JSON_LD.findall(text))
    if head or scripts:
        found += _head_names((head.group(0) if head else "") + scripts)
    h1 = next((block.text for block in blocks if block.tag == "h1"), None)
    if h1 and len(h1.split()) <= MAX_NAME_WORDS and not _sentence(h1):
        found.append((h1, False))
    names: list[str] = []
    for name, brand_word in found:
        for cleaned in _clean(name, brand_word):
            if cleaned not in names:
                names.append(cleaned)
    return tuple(sorted(names, key=len, reverse=True))
