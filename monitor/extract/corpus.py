"""The labelled corpus that the statement model is trained on and scored against.

Sources (``tests/corpus/`` in the repository; not shipped in the wheel):
- ``own``: ``pages/*.html`` labelled in ``gold.yaml``, written by the project (splits ``tune``, ``heldout``);
- ``blind``: ``blind/*.html`` each with its ``.yaml`` labels, written by authors who saw only TAXONOMY.md
  and a style brief, never the extractor (``blind/README.md``). The ``test`` split is fixed by
  ``blind_split`` and never read to change a rule or a feature;
- ``regulator``: ``regulator.yaml``: claims FDA and FTC treated as disease (or structure/function) claims in
  the 2000 final rule on 21 CFR 101.93(g) and in warning letters, reworded, each with its source address;
  one sentence per item, scored as a page of one paragraph; ``regulator_more.yaml``: more warning-letter
  claims, from letters ``regulator.yaml`` does not use, compiled in session 14: test items (part
  ``more_letters``), never trained on, but for the two a developer saw;
- ``seed``: the five real seller pages in ``../shared/seeds`` when present (scored, never trained on).
"""

from __future__ import annotations

import hashlib
import html as html_module
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from monitor.normalize import html_to_blocks
from monitor.statements import Block

BLIND_SALT = "claimwatch-blind-split-v4:"
BLIND_TEST_SHARE = 2  # of 5: 40% of the blind pages are test pages
REGULATOR_SALT = "claimwatch-regulator-split-v1:"
# batches from this writer number on were commissioned as training data (session 14, declared before any of
# them was written): the test split stays the pages of w1-w59 that the hash put there
TRAIN_ONLY_FROM_WRITER = 60


@dataclass(frozen=True)
class GoldStatement:
    text: str
    kind: str
    type: str
    days: int | None = None
    refund: str | None = None
    has_days: bool = False


@dataclass(frozen=True)
class LabelledPage:
    name: str
    source: str  # own | blind | regulator | seed
    split: str  # train | test (own: tune -> train, heldout -> test)
    blocks: list[Block]
    gold: list[GoldStatement]
    ignore: tuple[str, ...] = ()
    html: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


# blind pages a developer read before or while changing a rule: no longer blind, so never test pages
READ_BY_DEVELOPERS: dict[str, str] = {
    "w1_p02": "its <title> ('amazon.com: ...') led to the site-prefix rule of identity.product_names",
    "w37_p02": "two lines of its labels were read (session 12) while looking into a demo page's wording",
}


def blind_split(page_id: str) -> str:
    """``"test"`` or ``"train"`` for a blind page, from a salted SHA-256 of its id (fixed, 40% test), except
    the pages in ``READ_BY_DEVELOPERS`` and those of writers from ``TRAIN_ONLY_FROM_WRITER`` on, which are
    train pages."""
    if page_id in READ_BY_DEVELOPERS or _writer(page_id) >= TRAIN_ONLY_FROM_WRITER:
        return "train"
    digest = hashlib.sha256((BLIND_SALT + page_id).encode("utf-8")).hexdigest()
    return "test" if int(digest[:8], 16) % 5 < BLIND_TEST_SHARE else "train"


def _writer(page_id: str) -> int:
    """The writer number of a blind page id (``w37_p02`` -> 37); 0 when the id has none."""
    head = page_id.partition("_")[0]
    return int(head[1:]) if head[:1] == "w" and head[1:].isdigit() else 0


_LISTED = "printed while listing regulator.yaml's source addresses (session 14)"

# regulator items a developer has seen (the start of their text): train items, like READ_BY_DEVELOPERS
REGULATOR_READ_BY_DEVELOPERS: dict[str, str] = {
    "Kids short on calcium risk fractures": "printed by a failing accuracy-floor assertion (session 11)",
    # session 14: the first 40 items of the FDA part were printed while the file's source addresses were listed
    # (19 of them test items); no rule or feature was changed for them, and they are train items from then on
    "Helps protect you from developing cancer": _LISTED,
    "Loosens stiff joints and calms the infla": _LISTED,
    "Brings high blood pressure back down.": _LISTED,
    "Lowers blood sugar for people living wit": _LISTED,
    "Promotes weight loss as part of a reduce": _LISTED,
    "Treats obesity safely and naturally.": _LISTED,
    "Eases the mild memory lapses that come w": _LISTED,
    "Relieves the mild mood swings, cramping ": _LISTED,
    "Lifts the severe depression some women g": _LISTED,
    "Clears stubborn cystic acne.": _LISTED,
    "Cools the hot flashes of menopause.": _LISTED,
    "Controls the relentless vomiting of hype": _LISTED,
    "Protects expectant mothers from toxemia ": _LISTED,
    "Helps spark sexual desire and improve se": _LISTED,
    "Restores firm erections for men with ere": _LISTED,
    "VeinCure capsules keep your circulation ": _LISTED,
    "Restful Nights, for the occasional eveni": _LISTED,
    "Each capsule contains 300 mg of St. John": _LISTED,
    "Printed on every bottle: the landmark st": _LISTED,
    # session 14: regulator_more.yaml's first two items were printed while its header was read
    "Mainstream doctors are at last adopting ": "printed with regulator_more.yaml's header (session 14)",
    "At very high doses, vitamin C works like": "printed with regulator_more.yaml's header (session 14)",
}


def regulator_split(text: str) -> str:
    """``"test"`` or ``"train"`` for a regulator item, from a salted SHA-256 of its text (fixed, half test),
    except the items in ``REGULATOR_READ_BY_DEVELOPERS``, which are train items."""
    if text.startswith(tuple(REGULATOR_READ_BY_DEVELOPERS)):
        return "train"
    digest = hashlib.sha256((REGULATOR_SALT + text).encode("utf-8")).hexdigest()
    return "test" if int(digest[:8], 16) % 2 == 0 else "train"


def _gold(rows: Iterable[dict[str, Any]]) -> list[GoldStatement]:
    return [
        GoldStatement(str(row["text"]), row["kind"], row["type"], row.get("days"), row.get("refund"), "days" in row)
        for row in rows
        if row.get("kind") not in (None, "none")
    ]


def own_pages(root: Path) -> Iterator[LabelledPage]:
    gold = yaml.safe_load((root / "gold.yaml").read_text(encoding="utf-8"))
    for entry in gold["pages"]:
        body = (root / "pages" / entry["file"]).read_text(encoding="utf-8")
        split = "train" if entry.get("split") == "tune" else "test"
        yield LabelledPage(entry["file"], "own", split, html_to_blocks(body), _gold(entry["statements"]),
                           tuple(entry.get("ignore", ())), body)


def blind_pages(root: Path) -> Iterator[LabelledPage]:
    for labels in sorted((root / "blind").glob("*.yaml")):
        entry = yaml.safe_load(labels.read_text(encoding="utf-8"))
        body = (labels.parent / entry["file"]).read_text(encoding="utf-8")
        page_id = labels.stem
        yield LabelledPage(page_id, "blind", blind_split(page_id), html_to_blocks(body),
                           _gold(entry.get("statements") or ()), tuple(entry.get("volatile") or ()), body,
                           {"style": entry.get("style", ""), "area": entry.get("area", ""),
                            "writer": int(page_id[1:].split("_", 1)[0])})


def regulator_pages(root: Path) -> Iterator[LabelledPage]:
    """``regulator.yaml``'s items, split by ``regulator_split``; then ``regulator_more.yaml``'s, part
    ``more_letters``: claims from other letters (session 14), all test items but those a developer saw."""
    for name, more in (("regulator.yaml", False), ("regulator_more.yaml", True)):
        path = root / name
        if not path.exists():
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for part in ("fda_101_93_g", "warning_letters"):
            for number, row in enumerate(data.get(part) or ()):
                text = str(row["text"])
                body = f"<p>{html_module.escape(text)}</p>"
                gold = _gold([{**row, "text": text}])
                if more:
                    split = "train" if text.startswith(tuple(REGULATOR_READ_BY_DEVELOPERS)) else "test"
                    part_name = "more_letters"
                else:
                    split, part_name = regulator_split(text), part
                yield LabelledPage(f"{part_name}#{number}", "regulator", split, [Block(text)], gold, (), body,
                                   {"part": part_name, "source": row.get("source", ""), "kind": row.get("kind"),
                                    "type": row.get("type")})


def seed_blocks(text: str) -> list[Block]:
    """Seed pages are plain text: one block per line; bullet lines ("\u2022 ...") are list items."""
    blocks: list[Block] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("\u2022"):
            item = stripped.lstrip("\u2022").strip()
            if item:
                blocks.append(Block(item, tag="li", context=frozenset({"list"})))
        else:
            blocks.append(Block(stripped))
    return blocks


def seed_pages(root: Path, seeds: Path) -> Iterator[LabelledPage]:
    gold_path = root / "seeds_gold.yaml"
    if not seeds.is_dir() or not gold_path.exists():
        return
    gold = yaml.safe_load(gold_path.read_text(encoding="utf-8"))
    for name, rows in gold["seeds"].items():
        path = seeds / name
        if path.is_file():
            yield LabelledPage(name, "seed", "test", seed_blocks(path.read_text(encoding="utf-8")), _gold(rows))


def load_corpus(root: Path, seeds: Path | None = None) -> list[LabelledPage]:
    """Every labelled page of every source under ``root`` (``tests/corpus``), seeds when given."""
    pages = [*own_pages(root), *blind_pages(root), *regulator_pages(root)]
    if seeds is not None:
        pages += list(seed_pages(root, seeds))
    return pages
