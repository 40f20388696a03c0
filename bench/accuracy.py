"""Extraction accuracy on the labelled corpus, per source (own / blind / regulator / seed) and split.

Run: ``python bench/accuracy.py [--errors] [--source own|blind|regulator|seed]``

Prints, for each source and split, precision/recall/F1 per kind and per type, claim recall, disease-claim
recall and precision, DSHEA disclaimer F1 and guarantee-days exact accuracy; for regulator items (one
sentence each) the share found and typed as the regulator labelled them. Then the issue's targets against
the blind test split, the figures that count.

``--errors`` lists disagreements for the train splits, the own pages and the seeds only: the blind and
regulator test splits are never read item by item to change a rule or a feature (docs/extraction.md).
Matching is documented in bench/scoring.py.
"""

from __future__ import annotations

import argparse
import sys
import time

from scoring import TARGETS, Scores, all_pages, score, score_sentences

FIRST_WRITERS = 11  # w12-w51 were commissioned in session 9; their test pages joined the split by the same hash


def _report(name: str, scores: Scores, show_errors: bool, per_type: bool) -> None:
    print(f"\n=== {name} ===")
    if per_type:
        print(f"{'label':34s} {'P':>6s} {'R':>6s} {'F1':>6s} {'TP':>4s} {'FP':>4s} {'FN':>4s}")
        for counts, title in ((scores.kinds, "kind"), (scores.types, "type")):
            for label in counts.labels():
                p, r, f = counts.prf(label)
                print(f"{title + ' ' + label:34s} {p:6.3f} {r:6.3f} {f:6.3f} "
                      f"{counts.tp[label]:4d} {counts.fp[label]:4d} {counts.fn[label]:4d}")
    p, r, f = scores.kinds.prf()
    print(f"{'ALL kinds (micro) P / R / F1':34s} {p:6.3f} {r:6.3f} {f:6.3f}")
    print(f"claim recall {scores.claim_recall:.3f}  disease recall {scores.disease_recall:.3f}  "
          f"precision {scores.disease_precision:.3f}  DSHEA F1 {scores.dshea_f1:.3f}  "
          f"days exact {scores.days_exact:.3f} ({scores.days_right}/{scores.days_total})")
    if show_errors:
        for error in scores.errors:
            print("  -", error)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--errors", action="store_true", help="list disagreements (train splits, own, seeds)")
    parser.add_argument("--source", action="append", choices=["own", "blind", "regulator", "seed"])
    parser.add_argument("--brief", action="store_true", help="no per-type tables")
    args = parser.parse_args(argv)
    sources = args.source or ["own", "blind", "regulator", "seed"]
    started = time.perf_counter()
    pages = all_pages(seeds="seed" in sources)
    summaries: dict[str, dict[str, float]] = {}
    for source in sources:
        for split in ("train", "test"):
            chosen = [p for p in pages if p.source == source and p.split == split]
            if not chosen:
                continue
            name = f"{source}/{split}"
            errors = args.errors and (split == "train" or source in ("own", "seed"))
            if source == "regulator":
                for part in ("fda_101_93_g", "warning_letters", "more_letters"):
                    items = [p for p in chosen if p.meta.get("part") == part]
                    result = score_sentences(items)
                    print(f"\n=== {name} {part} ({len(items)} sentences) ===")
                    print(f"found and typed as the regulator labelled them: {result.right} of {result.total} "
                          f"({result.accuracy:.3f})")
                    if errors:
                        for error in result.errors:
                            print("  -", error)
                continue
            scores = score(chosen)
            labels = sum(len(p.gold) for p in chosen)
            _report(f"{name} ({len(chosen)} pages, {labels} labels)", scores, errors, not args.brief)
            summaries[name] = {**scores.summary(), "pages": len(chosen)}
            if source == "blind" and split == "test":
                # the first test split (writers w1-w11, scored since session 6): the before/after comparison
                first = [p for p in chosen if p.meta.get("writer", 99) <= FIRST_WRITERS]
                if len(first) < len(chosen):
                    summaries[f"{name} w1-w{FIRST_WRITERS}"] = {**score(first).summary(), "pages": len(first)}
    print("\n=== summary (the targets apply to blind/test) ===")
    print(f"{'set':16s} " + " ".join(f"{key:>17s}" for key in TARGETS))
    print(f"{'target':16s} " + " ".join(f"{value:17.2f}" for value in TARGETS.values()))
    for name, summary in summaries.items():
        print(f"{name:16s} " + " ".join(f"{summary[key]:17.3f}" for key in TARGETS))
    print(f"\n({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
