"""Derive claimwatch's disease and drug vocabularies from maintained terminologies shipped in packages.

Run: ``.venv/bin/python scripts/build_vocabulary.py`` (writes monitor/extract/data/icd10cm_terms.tsv and
monitor/extract/data/drug_names.tsv)

ICD-10-CM is the US clinical modification of the WHO's ICD-10, maintained by the CDC's National Center
for Health Statistics and released every year (public domain, a US Government work). The package
``simple_icd_10_cm`` (MIT licence) ships the CDC's tabular XML; its release is recorded in the file's
header. The package takes ~2 s to import, so claimwatch never imports it at run time: this script turns
the tabular list into a small table of disease and symptom names (one term per line, with the ICD-10-CM
code it came from) that monitor.extract.vocabulary loads.

Terms: every category and subcategory description and inclusion term, cleaned (qualifiers in brackets
dropped, "of ..."/"with ..."/", ..." tails cut, generic words such as "other" or "unspecified" removed),
kept when 1-4 words long; plus every single word of a description that has a pathology suffix (-itis,
-osis, -oma, -emia, -pathy, -algia...). Chapters V-Z (external causes, factors influencing health) and
procedure-like wording are left out.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "monitor" / "extract" / "data"
OUT = DATA / "icd10cm_terms.tsv"
DRUGS_OUT = DATA / "drug_names.tsv"

_SKIP_CHAPTER_LETTERS = set("STVWXYZ")  # injuries, external causes, factors influencing health status
_GENERIC = {
    "other", "unspecified", "specified", "disorder", "disorders", "disease", "diseases", "condition",
    "conditions", "certain", "abnormal", "abnormalities", "findings", "finding", "and", "or", "not",
    "elsewhere", "classified", "nec", "nos", "site", "sites", "part", "parts", "type", "types", "in",
    "symptoms", "signs", "syndrome", "syndromes", "complications", "complication", "status", "history",
    "personal", "family", "encounter", "screening", "sequelae", "sequela", "initial", "subsequent",
    "episode", "acute", "chronic", "primary", "secondary", "mild", "moderate", "severe", "essential",
    "unilateral", "bilateral", "left", "right", "upper", "lower", "multiple", "single", "localized",
    "generalized", "congenital", "due", "to", "the", "a", "an", "use", "long", "term", "current",
}
# words too common in ordinary marketing text to mean a disease on their own
_TOO_COMMON = {
    "pain", "fatigue", "weakness", "stress", "sleep", "weight", "aging", "age", "growth", "cold", "heat",
    "fever", "shock", "dependence", "abuse", "use", "poisoning", "deficiency", "excess", "overweight",
    "underweight", "malnutrition", "obesity", "discomfort", "tension", "cough", "nausea", "vomiting",
    "dizziness", "headache", "cramp", "cramps", "swelling", "mass", "lump", "change", "changes", "loss",
    "disturbance", "dysfunction", "failure", "contusion", "wound", "burn", "fracture", "injury", "sprain",
    "strain", "infection", "disorder", "malaise", "anxiety", "depression", "palpitations", "constipation",
    "diarrhea", "bloating", "flatulence", "heartburn", "snoring", "acne", "wrinkles", "dandruff",
}
_SUFFIX = re.compile(
    r"^[a-z]{3,}(?:itis|osis|oses|oma|omas|emia|aemia|pathy|pathies|algia|plegia|trophy|plasia|ectasia"
    r"|rrhea|rrhoea|uria|penia|megaly|sclerosis|lithiasis|cele)$"
)
_BRACKETS = re.compile(r"\[[^\]]*\]|\([^)]*\)")
_CUT = re.compile(r",| with | without | due to | in | of | following | complicating | associated | and ")


def _clean(description: str) -> str:
    text = _BRACKETS.sub(" ", description.lower()).replace("'s", "'s")
    text = re.sub(r"[^a-z0-9' -]", " ", text)
    return " ".join(text.split())


_DISEASE_NOUNS = {"disease", "diseases", "disorder", "disorders", "syndrome", "syndromes", "deficiency", "condition",
                  "conditions", "abnormality", "abnormalities", "anomaly", "anomalies", "level", "levels", "results",
                  "abnormal", "elevated", "decreased", "increased", "common", "single", "double"}
_ADJECTIVE = re.compile(r"(?:al|ive|ic|ed|ing|ous|ary|ar|ile|oid)$")
_NOT_DISEASES = {"female", "male", "child", "newborn", "pregnancy", "person", "persons", "patient", "adult",
                 "infant", "body", "blood", "skin", "eye", "ear", "heart", "liver", "kidney", "bone"}


def _phrases(description: str) -> dict[str, int]:
    """Terms named by one description, each with its priority (0: the description's head, 1: a word)."""
    found: dict[str, int] = {}
    cleaned = _clean(description)
    head = _CUT.split(f" {cleaned} ")[0].strip() if cleaned else ""
    words = [w for w in head.split() if w not in _GENERIC]
    whole = [w for w in cleaned.split() if w not in _GENERIC]
    # a single word only when it is the whole description ("Insomnia", "Gout") or a pathology word: the head of
    # a longer one ("Collagen (vascular) disease", "Abnormality of ...") is often an ordinary word
    if len(words) == 1 and not _SUFFIX.match(words[0]) and (
        words != whole or not _DISEASE_NOUNS.isdisjoint(cleaned.split())
    ):
        words = []  # "Collagen (vascular) disease", "Mood disorder": the word alone is no disease
    if 1 <= len(words) <= 4 and any(len(w) > 3 for w in words):
        phrase = " ".join(words)
        single_adjective = len(words) == 1 and (_ADJECTIVE.search(phrase) and not _SUFFIX.match(phrase))
        if (phrase not in _TOO_COMMON and phrase not in _NOT_DISEASES and not phrase.isdigit()
                and not single_adjective and len(phrase) > 3):
            found[phrase] = 0
    for word in cleaned.split():
        if _SUFFIX.match(word) and word not in _TOO_COMMON:
            found.setdefault(word, 1)
    return found


def build() -> tuple[str, list[tuple[str, str]]]:
    import simple_icd_10_cm as cm  # noqa: PLC0415 - build time only

    release = next(
        (p.name for p in Path(cm.__file__).parent.joinpath("data").glob("icd10cm-tabular*.xml")), ""
    ) or next((p.name for p in Path(cm.__file__).parent.joinpath("data").glob("*.xml")), "unknown")
    terms: dict[str, tuple[int, str]] = {}
    for code in cm.get_all_codes(with_dots=True):
        if not cm.is_category_or_subcategory(code) or code[0] in _SKIP_CHAPTER_LETTERS:
            continue
        if len(code.replace(".", "")) > 4:  # categories and first-level subcategories are enough
            continue
        texts = [cm.get_description(code), *cm.get_inclusion_term(code)]
        for text in texts:
            for phrase, priority in _phrases(text).items():
                # a code whose description is the term wins over one that merely mentions it; then the
                # first (most general) code in the tabular order
                if phrase not in terms or priority < terms[phrase][0]:
                    terms[phrase] = (priority, code)
    return release, sorted((term, code) for term, (_priority, code) in terms.items())


# --- drugs ----------------------------------------------------------------------------------------------
# FDA's criteria for implied disease claims include comparing a product to a drug ("works like Flomax",
# "instead of your Clomid": 21 CFR 101.93(g)(2)(vi)). The drug names come from the package
# drug-named-entity-recognition (MIT licence; its dictionary is built from DrugBank open data (CC0), MeSH
# (NLM, public domain), MedlinePlus and Wikipedia titles). Kept: the names, generic and brand, of every drug
# with a MedlinePlus drug monograph (~1,500 medicines sold in the US), written in plain letters; left out:
# what supplement sellers sell or name as body chemistry (vitamins, minerals, hormones, fish oil, CBD,
# fibre...), and names that are ordinary words.
_NOT_DRUGS = re.compile(
    r"vitamin|calci|magnes|potassium|sodium|zinc|iron|ferr|folic|folate|niacin|nicotin|pyridox|cobalamin|tocopher"
    r"|phytonad|omega|fish|fatty acid|cannabi|capsaicin|caffeine|psyllium|fiber|fibre|senna|stool softener"
    r"|glutamine|betaine|lithium|fluoride|iodide|selenium|estrogen|oestrogen|progesterone|testosterone"
    r"|prasterone|dhea|oxytocin|glucagon|thyroid|parathyroid|hormone|epinephrine|adrenaline|melatonin"
    r"|salicylic acid|benzoyl|talc|simethicone|bicarbonate|ascorbic|ergocalciferol|calcifediol|lactic acid"
    r"|citric|charcoal|probiotic|enzyme|pancrelipase|insulin|vaccine|oxygen|alcohol|cysteine|cortisol"
)
# brand and trade names that are ordinary English words, or too short to be read safely
_ORDINARY = {
    "acidol", "apap", "arcet", "edex", "repan", "focus", "sleep", "relief", "restore", "balance", "calm", "ease",
    "revive", "boost", "vital", "prime", "renew", "clear", "pure", "active", "natural", "plan b", "little noses",
    "nonbac", "minotal", "alternagel", "antacid suspension", "alamag", "kudrox", "magagel", "alu-tab",
    "maldroxal", "ri-mox", "ide-cet", "two-dyne", "anolor", "liquid", "tablet", "capsule", "cream", "patch",
    "spray", "drops", "syrup", "solution", "gel", "ointment", "lotion", "oral", "nasal",
}
_DRUG_NAME = re.compile(r"[a-z][a-z-]{3,}(?: [a-z][a-z-]+){0,2}")


def build_drugs() -> tuple[str, list[tuple[str, str]]]:
    """(the package's version, [(name, generic name)]) for every drug name kept (see above)."""
    import bz2  # noqa: PLC0415 - build time only
    import pickle  # noqa: PLC0415,S403 - the package's own data file, read as the package itself reads it
    from importlib import metadata  # noqa: PLC0415

    import drug_named_entity_recognition as dner  # noqa: PLC0415

    with bz2.open(Path(dner.__file__).parent / "drug_ner_dictionary.pkl.bz2", "rb") as handle:
        dictionary = pickle.load(handle)  # noqa: S301
    canonical = dictionary["drug_canonical_to_data"]
    medicines = {name for name, data in canonical.items() if "medline_plus_id" in data}
    names: dict[str, str] = {}
    for variant, generics in dictionary["drug_variant_to_canonical"].items():
        generic = min((g for g in generics if g in medicines), default=None)
        name = " ".join(variant.lower().split())
        if (generic is None or not _DRUG_NAME.fullmatch(name) or name in _ORDINARY
                or _NOT_DRUGS.search(name) or _NOT_DRUGS.search(generic)):
            continue
        names.setdefault(name, generic)
    return metadata.version("drug-named-entity-recognition"), sorted(names.items())


def main() -> int:
    version, drugs = build_drugs()
    DRUGS_OUT.write_text("\n".join([
        "# claimwatch drug names derived by scripts/build_vocabulary.py; do not edit",
        f"# source: drug-named-entity-recognition {version} (DrugBank open data CC0, MeSH, MedlinePlus names)",
        "# name\tgeneric name",
        *(f"{name}\t{generic}" for name, generic in drugs),
    ]) + "\n", encoding="utf-8")
    print(f"{len(drugs)} drug names from drug-named-entity-recognition {version} -> {DRUGS_OUT.name}",
          file=sys.stderr)
    release, rows = build()
    lines = [
        "# claimwatch disease vocabulary derived from ICD-10-CM by scripts/build_vocabulary.py; do not edit",
        f"# source: simple_icd_10_cm package data {release} (CDC/NCHS ICD-10-CM, public domain)",
        "# term\tcode",
    ]
    lines += [f"{term}\t{code}" for term, code in rows]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(rows)} terms from {release} -> {OUT.name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
