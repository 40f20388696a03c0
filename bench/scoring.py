"""Scoring extraction against the gold corpus: shared by bench/accuracy.py and the corpus tests.

Matching: predictions and gold labels of one page are aligned one to one, in page order. A prediction
matches a gold label when the gold text (a distinctive substring, normalised with ``statement_key``)
is contained in the predicted text, or - when the extractor cut a statement finer than the label - the
predicted text is contained in the gold text and covers at least half of it. A matched pair counts as
a true positive at kind level when the kinds agree (at type level when kind and type agree); otherwise
it is a false positive for the predicted label and a false negative for the gold one. Unmatched
predictions are false positives, unmatched gold labels false negatives. Predictions that contain a
gold ``ignore`` text (noise: counters, timers) and are social proof are left out of the counts; any
other kind for them is a false positive. Guarantee days are scored on gold guarantees that were
matched by a predicted guarantee (exact equality, None included).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from monitor.extract import extract_statements, statement_key
from monitor.normalize import html_to_blocks
from monitor.statements import Block, Statement

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "corpus"
SEEDS = ROOT.parent / "shared" / "seeds"

TARGETS = {
    "kind_f1": 0.92,
    "disease_recall": 0.90,
    "disease_precision": 0.85,
    "dshea_f1": 0.97,
    "days_exact": 0.95,
}


@dataclass(frozen=True)
class GoldStatement:
    text: str
    kind: str
    type: str
    days: int | None = None
    refund: str | None = None
    has_days: bool = False


@dataclass(frozen=True)
class Page:
    name: str
    split: str
    blocks: list[Block]
    gold: list[GoldStatement]
    ignore: tuple[str, ...] = ()


def _gold(rows: Iterable[dict[str, Any]]) -> list[GoldStatement]:
    return [
        GoldStatement(
            str(row["text"]), row["kind"], row["type"], row.get("days"), row.get("refund"), "days" in row
        )
        for row in rows
    ]


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
            continue
        blocks.append(Block(stripped))
    return blocks


def corpus_pages(split: str | None = None) -> list[Page]:
    """The original corpus pages (``split`` "tune" or "heldout"; None for all), parsed and normalised."""
    data = yaml.safe_load((CORPUS / "gold.yaml").read_text(encoding="utf-8"))
    pages = []
    for entry in data["pages"]:
        if split and entry["split"] != split:
            continue
        html = (CORPUS / "pages" / entry["file"]).read_bytes()
        pages.append(
            Page(
                entry["file"],
                entry["split"],
                html_to_blocks(html),
                _gold(entry["statements"]),
                tuple(entry.get("ignore") or ()),
            )
        )
    return pages


def seed_pages() -> list[Page]:
    """The five seed pages, or [] when ../shared/seeds/ is not there."""
    if not SEEDS.is_dir():
        return []
    data = yaml.safe_load((CORPUS / "seeds_gold.yaml").read_text(encoding="utf-8"))
    pages = []
    for name, rows in data["seeds"].items():
        path = SEEDS / name
        if path.is_file():
            pages.append(Page(name, "seed", seed_blocks(path.read_text(encoding="utf-8")), _gold(rows)))
    return pages


@dataclass
class Alignment:
    pairs: list[tuple[Statement, GoldStatement]] = field(default_factory=list)
    false_positives: list[Statement] = field(default_factory=list)
    false_negatives: list[GoldStatement] = field(default_factory=list)


def align(
    predicted: Sequence[Statement], gold: Sequence[GoldStatement], ignore: Sequence[str] = ()
) -> Alignment:
    """Pair predictions with gold labels (see the module docstring)."""
    keys = [statement_key(s.text) for s in predicted]
    ignore_keys = [statement_key(text) for text in ignore]
    used: set[int] = set()
    alignment = Alignment()
    for label in gold:
        wanted = statement_key(label.text)
        chosen = None
        for index, key in enumerate(keys):
            if index not in used and wanted in key:
                chosen = index
                break
        if chosen is None:
            for index, key in enumerate(keys):
                if index not in used and key and key in wanted and len(key) * 2 >= len(wanted):
                    chosen = index
                    break
        if chosen is None:
            alignment.false_negatives.append(label)
        else:
            used.add(chosen)
            alignment.pairs.append((predicted[chosen], label))
    for index, statement in enumerate(predicted):
        if index in used:
            continue
        if statement.type == "social_proof" and any(text in keys[index] for text in ignore_keys):
            continue
        alignment.false_positives.append(statement)
    return alignment


@dataclass
class Counts:
    tp: Counter[str] = field(default_factory=Counter)
    fp: Counter[str] = field(default_factory=Counter)
    fn: Counter[str] = field(default_factory=Counter)

    def add(self, predicted: str | None, gold: str | None) -> None:
        if predicted is not None and predicted == gold:
            self.tp[predicted] += 1
            return
        if predicted is not None:
            self.fp[predicted] += 1
        if gold is not None:
            self.fn[gold] += 1

    def prf(self, label: str | None = None) -> tuple[float, float, float]:
        if label is None:
            tp, fp, fn = sum(self.tp.values()), sum(self.fp.values()), sum(self.fn.values())
        else:
            tp, fp, fn = self.tp[label], self.fp[label], self.fn[label]
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return precision, recall, f1

    def labels(self) -> list[str]:
        return sorted(set(self.tp) | set(self.fp) | set(self.fn))


@dataclass
class Scores:
    kinds: Counts = field(default_factory=Counts)
    types: Counts = field(default_factory=Counts)
    days_right: int = 0
    days_total: int = 0
    refund_right: int = 0
    refund_total: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def kind_f1(self) -> float:
        return self.kinds.prf()[2]

    @property
    def disease_precision(self) -> float:
        return self.types.prf("claim/disease")[0]

    @property
    def disease_recall(self) -> float:
        return self.types.prf("claim/disease")[1]

    @property
    def dshea_f1(self) -> float:
        return self.types.prf("disclaimer/fda")[2]

    @property
    def days_exact(self) -> float:
        return self.days_right / self.days_total if self.days_total else 1.0

    def summary(self) -> dict[str, float]:
        return {
            "kind_f1": self.kind_f1,
            "disease_recall": self.disease_recall,
            "disease_precision": self.disease_precision,
            "dshea_f1": self.dshea_f1,
            "days_exact": self.days_exact,
        }

    def below_targets(self) -> dict[str, float]:
        return {name: value for name, value in self.summary().items() if value < TARGETS[name]}


def score(pages: Iterable[Page]) -> Scores:
    """Extract every page and count agreements with its gold labels."""
    scores = Scores()
    for page in pages:
        predicted = extract_statements(page.blocks)
        alignment = align(predicted, page.gold, page.ignore)
        for statement, label in alignment.pairs:
            scores.kinds.add(statement.kind, label.kind)
            scores.types.add(f"{statement.kind}/{statement.type}", f"{label.kind}/{label.type}")
            if statement.kind != label.kind or statement.type != label.type:
                scores.errors.append(
                    f"{page.name}: {statement.kind}/{statement.type} for gold "
                    f"{label.kind}/{label.type}: {statement.text[:100]!r}"
                )
            if label.kind == "guarantee" and statement.kind == "guarantee":
                if label.has_days:
                    scores.days_total += 1
                    if statement.attributes.get("days") == label.days:
                        scores.days_right += 1
                    else:
                        scores.errors.append(
                            f"{page.name}: days {statement.attributes.get('days')} for gold "
                            f"{label.days}: {statement.text[:100]!r}"
                        )
                scores.refund_total += 1
                scores.refund_right += statement.attributes.get("refund") == label.refund
        for statement in alignment.false_positives:
            scores.kinds.add(statement.kind, None)
            scores.types.add(f"{statement.kind}/{statement.type}", None)
            scores.errors.append(
                f"{page.name}: extra {statement.kind}/{statement.type} ({statement.rule}): "
                f"{statement.text[:100]!r}"
            )
        for label in alignment.false_negatives:
            scores.kinds.add(None, label.kind)
            scores.types.add(None, f"{label.kind}/{label.type}")
            scores.errors.append(f"{page.name}: missed {label.kind}/{label.type}: {label.text[:100]!r}")
    return scores
