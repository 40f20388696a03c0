"""Scoring extraction against the labelled corpus: shared by bench/accuracy.py and the corpus tests.

Sources and splits are those of ``monitor.extract.corpus`` (own / blind / regulator / seed; train / test).
Matching: predictions and gold labels of one page are aligned one to one, in page order. A prediction
matches a gold label when the gold text (a distinctive substring, normalised with ``statement_key``)
is contained in the predicted text, or - when the extractor cut a statement finer than the label - the
predicted text is contained in the gold text and covers at least half of it. A matched pair counts as
a true positive at kind level when the kinds agree (at type level when kind and type agree); otherwise
it is a false positive for the predicted label and a false negative for the gold one. Unmatched
predictions are false positives, unmatched gold labels false negatives. Predictions that contain a
gold ``ignore``/``volatile`` text (noise: counters, timers) are left out of the counts when they are social
proof; any other kind for them is a false positive. Guarantee days are scored on gold guarantees that were
matched by a predicted guarantee (exact equality, None included), where for auto-ship terms with no window
either a null label or one equal to their ``cycle_days`` is taken as right (``days_agree``). Regulator
items are one sentence each: an item is right when the extractor finds one statement of the labelled kind
and type in it (for items labelled ``none``: no claim at all).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from monitor.extract import analyse_page, statement_key
from monitor.extract.corpus import GoldStatement, LabelledPage, load_corpus
from monitor.statements import Statement

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "corpus"
SEEDS = ROOT.parent / "shared" / "seeds"

TARGETS = {
    "kind_f1": 0.92,
    "claim_recall": 0.90,
    "disease_recall": 0.90,
    "disease_precision": 0.90,
    "dshea_f1": 0.97,
    "days_exact": 0.95,
}
Page = LabelledPage


def all_pages(seeds: bool = True) -> list[LabelledPage]:
    """Every labelled page (seeds too when ../shared/seeds is there)."""
    return load_corpus(CORPUS, SEEDS if seeds else None)


def pages_of(source: str, split: str | None = None, pages: Sequence[LabelledPage] | None = None) -> list[LabelledPage]:
    chosen = pages if pages is not None else all_pages(seeds=source == "seed")
    return [p for p in chosen if p.source == source and (split is None or p.split == split)]


def predict(page: LabelledPage) -> list[Statement]:
    if page.html and page.source != "regulator":
        return analyse_page(page.html, page.blocks).statements
    return analyse_page("", page.blocks).statements


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
    def claim_recall(self) -> float:
        tp = sum(n for label, n in self.types.tp.items() if label.startswith("claim/"))
        fn = sum(n for label, n in self.types.fn.items() if label.startswith("claim/"))
        return tp / (tp + fn) if tp + fn else 1.0

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
            "claim_recall": self.claim_recall,
            "disease_recall": self.disease_recall,
            "disease_precision": self.disease_precision,
            "dshea_f1": self.dshea_f1,
            "days_exact": self.days_exact,
        }

    def below_targets(self) -> dict[str, float]:
        return {name: value for name, value in self.summary().items() if value < TARGETS[name]}


def days_agree(statement: Statement, gold: int | None) -> bool:
    """Whether a guarantee's days agree with the gold label's.

    The brief defines ``days`` as a window, but the writers split on auto-ship terms ("ships every 30
    days"): some labelled the cycle as ``days``, others null. claimwatch keeps a cycle apart from a window
    (``cycle_days``, so "every 30 days" never reads as a 30-day guarantee), and for a statement with a cycle
    and no window either reading of the label is taken as right.
    """
    days = statement.attributes.get("days")
    if days == gold:
        return True
    cycle = statement.attributes.get("cycle_days")
    return days is None and cycle is not None and cycle == gold


def score(pages: Iterable[Page]) -> Scores:
    """Extract every page and count agreements with its gold labels."""
    scores = Scores()
    for page in pages:
        predicted = predict(page)
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
                    if days_agree(statement, label.days):
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


@dataclass
class SentenceScores:
    """Regulator items: how many sentences were found and typed as the regulator labelled them."""

    right: int = 0
    total: int = 0
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.right / self.total if self.total else 1.0


def sentence_label(page: LabelledPage) -> str:
    gold = page.gold[0] if page.gold else None
    return f"{gold.kind}/{gold.type}" if gold else "none"


def score_sentences(pages: Iterable[LabelledPage]) -> SentenceScores:
    scores = SentenceScores()
    for page in pages:
        wanted = sentence_label(page)
        found = [f"{s.kind}/{s.type}" for s in predict(page)]
        claims = [label for label in found if label.startswith("claim/")]
        got = found[0] if found else "none"
        if wanted == "none":
            ok = not claims
            got = claims[0] if claims else "none"
        else:
            ok = wanted in found
            got = wanted if ok else got
        scores.total += 1
        scores.right += ok
        scores.confusion[(wanted, got)] += 1
        if not ok:
            scores.errors.append(f"{page.name}: {got} for {wanted}: {page.blocks[0].text[:110]!r}")
    return scores
