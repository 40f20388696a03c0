"""The disease vocabulary: ICD-10-CM terms plus sellers' lay words, each tied to an ICD-10-CM code; and the
drug names a product may be compared with (``drug_mentions``).

Two data files in ``monitor/extract/data/``: ``icd10cm_terms.tsv`` (~7,000 disease and symptom names derived
from the CDC's ICD-10-CM tabular list by ``scripts/build_vocabulary.py``) and ``lay_terms.tsv`` (hand-kept
lay words, signs and biomarkers: "A1C", "blood sugar", "tumours", "viruses", "cold sores"). Lay words win
where both name a term. Loaded once, on first use.

    >>> [(m.term, m.code, m.group) for m in disease_mentions("it lowers your a1c and calms arthritis")]
    [('a1c', 'E11', 'endocrine'), ('arthritis', 'M19.9', 'musculoskeletal')]

``drug_names.tsv`` (~9,000 generic and brand names of the medicines MedlinePlus describes, derived from the
drug-named-entity-recognition package's dictionary by the same script; vitamins, minerals, hormones and other
things supplements contain are left out):

    >>> [(m.name, m.generic) for m in drug_mentions("works like flomax, minus the head rushes")]
    [('flomax', 'tamsulosin')]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

MAX_WORDS = 4
_WORD = re.compile(r"[a-z0-9]+(?:['.-][a-z0-9]+)*'?")

# ICD-10-CM chapters by code range: (first code, last code, group name)
_CHAPTERS: tuple[tuple[str, str, str], ...] = (
    ("A00", "B99", "infectious"), ("C00", "D49", "neoplasm"), ("D50", "D89", "blood"),
    ("E00", "E89", "endocrine"), ("F01", "F99", "mental"), ("G00", "G99", "nervous"),
    ("H00", "H59", "eye"), ("H60", "H95", "ear"), ("I00", "I99", "circulatory"),
    ("J00", "J99", "respiratory"), ("K00", "K95", "digestive"), ("L00", "L99", "skin"),
    ("M00", "M99", "musculoskeletal"), ("N00", "N99", "genitourinary"), ("O00", "O9A", "pregnancy"),
    ("P00", "P96", "perinatal"), ("Q00", "Q99", "congenital"), ("R00", "R99", "symptom"),
    ("T00", "T88", "injury"), ("U00", "U85", "special"),
)
# conditions TAXONOMY.md calls serious, as ICD-10-CM code prefixes
_SERIOUS_PREFIXES: tuple[str, ...] = (
    "C", "D0", "D1", "D2", "D3", "D4", "E08", "E09", "E10", "E11", "E13", "I10", "I11", "I12", "I13", "I15",
    "I16", "I20", "I21", "I22", "I24", "I25", "I50", "I6", "I70", "G30", "F01", "F02", "F03", "G20", "U07",
    "B15", "B16", "B17", "B18", "B19", "B20", "N18", "K74", "G35", "G12",
)


@dataclass(frozen=True, slots=True)
class Mention:
    """A disease term found in a text: the words, the ICD-10-CM code, its chapter group, seriousness."""

    term: str
    code: str
    group: str
    serious: bool
    lay: bool


def chapter_group(code: str) -> str:
    """The ICD-10-CM chapter group of a code: ``chapter_group("E11") == "endocrine"``."""
    head = code[:3].upper()
    for first, last, group in _CHAPTERS:
        if first <= head <= last:
            return group
    return "other"


def is_serious(code: str) -> bool:
    return code.upper().startswith(_SERIOUS_PREFIXES)


def _read(name: str) -> list[tuple[str, str]]:
    text = resources.files("monitor.extract").joinpath("data", name).read_text(encoding="utf-8")
    rows: list[tuple[str, str]] = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) >= 2 and fields[0].strip():
            rows.append((fields[0].strip().lower(), fields[1].strip()))
    return rows


@cache
def _first_words() -> dict[str, int]:
    """Each word that starts a term (or its plural) -> the most words a term starting with it has."""
    longest: dict[str, int] = {}
    for term in vocabulary():
        words = term.split(" ")
        for first in (words[0], *_plurals(words[0])):
            longest[first] = max(longest.get(first, 0), len(words))
    return longest


def _plurals(word: str) -> tuple[str, ...]:
    if word.endswith("y") and len(word) > 3:
        return (word[:-1] + "ies",)
    if word.endswith(("s", "x", "ch", "sh")):
        return (word + "es",)
    return (word + "s",)


# ICD-10-CM spells the American way; sellers in Britain, Ireland, Australia, India and translated pages write
# "anaemia", "oedema", "haemorrhoids", "diarrhoea", "sleep apnoea", "coeliac disease", "tumour"
_BRITISH = (
    (re.compile(r"(?<=[^aeiou])emia(s?)\b"), r"aemia\1"),  # anemia, leukemia, hypoglycemia (not academia)
    (re.compile(r"\b(isch|an|hypoglyc|hyperglyc|glyc|ur|leuk|septic)emic\b"), r"\1aemic"),  # not endemic
    (re.compile(r"edema"), "oedema"),  # edema, lymphedema
    (re.compile(r"\bhem(?=[oa])"), "haem"),  # hemorrhoids, hematoma, hemolytic
    (re.compile(r"rrhea\b"), "rrhoea"),  # diarrhea, amenorrhea, gonorrhea
    (re.compile(r"(?<=pn)ea\b"), "oea"),  # apnea, dyspnea
    (re.compile(r"\besophag"), "oesophag"),
    (re.compile(r"\bceliac\b"), "coeliac"),
    (re.compile(r"tumor"), "tumour"),
    (re.compile(r"\bgoiter"), "goitre"),
)


def british(term: str) -> str:
    """A term as British English spells it (``british("iron deficiency anemia") == "iron deficiency
    anaemia"``); the term itself when it is spelt the same."""
    for pattern, replacement in _BRITISH:
        term = pattern.sub(replacement, term)
    return term


@cache
def vocabulary() -> dict[str, Mention]:
    """Every term (lower case, words joined by one space) -> its Mention; ICD-10-CM's terms in British
    spelling too."""
    table: dict[str, Mention] = {}
    for lay, name in ((False, "icd10cm_terms.tsv"), (True, "lay_terms.tsv")):
        for term, code in _read(name):
            words = " ".join(_WORD.findall(term))
            if words:
                table[words] = Mention(words, code, chapter_group(code), is_serious(code), lay)
    for words, mention in list(table.items()):
        variant = british(words)
        if variant != words and variant not in table:
            table[variant] = Mention(variant, mention.code, mention.group, mention.serious, mention.lay)
    return table


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "is", "us")):
        return word[:-1]
    return word


def disease_mentions(folded: str) -> list[Mention]:
    """Disease terms in a folded (lower-case) text, longest first at each place, left to right."""
    starts = _starts()
    words = _WORD.findall(folded)
    if starts.keys().isdisjoint(words):  # most sentences: no word starts a term
        return []
    table, pairs = vocabulary(), _first_pairs()
    found: list[Mention] = []
    count = len(words)
    free = 0  # words before this one belong to a term found already
    for index, word in enumerate(words):
        if index < free:
            continue
        start = starts.get(word)
        if start is None:  # no term starts with this word, nor with its singular
            continue
        longest, mention = start
        most = min(longest, count - index)
        size = 1
        # terms of two words or more, longest first, only when the first two words start one
        if most > 1 and f"{word} {words[index + 1]}" in pairs:
            for length in range(most, 1, -1):
                longer = table.get(" ".join(words[index : index + length]))
                if longer is not None:
                    mention, size = longer, length
                    break
        if mention is not None:
            found.append(mention)
            free = index + size
    return found


@cache
def _starts() -> dict[str, tuple[int, Mention | None]]:
    """Each word that starts a term (or its plural) -> the most words a term starting with it has, and the
    one-word term it is (itself, or its singular), if any."""
    table = vocabulary()
    starts: dict[str, tuple[int, Mention | None]] = {}
    for word, longest in _first_words().items():
        single = table.get(word)
        starts[word] = (longest, single if single is not None else table.get(_singular(word)))
    return starts


@cache
def _first_pairs() -> frozenset[str]:
    """The first two words of every term of two words or more."""
    return frozenset(" ".join(term.split(" ")[:2]) for term in vocabulary() if term.count(" ") >= 1)


# --- drugs --------------------------------------------------------------------------------------------------

_DRUG_WORD = re.compile(r"[a-z][a-z-]*")


@dataclass(frozen=True, slots=True)
class DrugMention:
    """A drug named in a folded text: the name as written, its generic name, and where it starts and ends."""

    name: str
    generic: str
    start: int
    end: int


@cache
def drug_names() -> dict[str, str]:
    """Every drug name (lower case, words joined by one space) -> its generic name."""
    return dict(_read("drug_names.tsv"))


@cache
def _drug_starts() -> dict[str, int]:
    """Each word that starts a drug name -> the most words a name starting with it has."""
    longest: dict[str, int] = {}
    for name in drug_names():
        words = name.split(" ")
        longest[words[0]] = max(longest.get(words[0], 0), len(words))
    return longest


@lru_cache(maxsize=8192)
def drug_mentions(folded: str) -> tuple[DrugMention, ...]:
    """Drug names in a folded (lower-case) text, longest first at each place, left to right (cached: the
    rules and the model's features both ask, about the same sentence)."""
    starts = _drug_starts()
    if starts.keys().isdisjoint(_DRUG_WORD.findall(folded)):  # most sentences: no word starts a name
        return ()
    matches = [m for m in _DRUG_WORD.finditer(folded) if m.group() in starts]
    names = drug_names()
    found: list[DrugMention] = []
    free = 0
    for match in matches:
        if match.start() < free:
            continue
        most = starts[match.group()]
        words = _DRUG_WORD.findall(folded, match.start())[:most] if most > 1 else [match.group()]
        for length in range(len(words), 0, -1):
            name = " ".join(words[:length])
            generic = names.get(name)
            # the words as written, one space apart ("quinine sulfate", not "quinine, sulfate")
            if generic is not None and folded.startswith(name, match.start()):
                found.append(DrugMention(name, generic, match.start(), match.start() + len(name)))
                free = match.start() + len(name)
                break
    return tuple(found)

