"""Extraction accuracy on the labelled corpus: tuned, held-out and seed sets scored separately.

Run: ``python bench/accuracy.py [--errors]``

Prints precision/recall/F1 per kind and per type, disease-claim recall and precision (and the share
of "disease" labels that are wrong), DSHEA disclaimer F1 and guarantee-days exact accuracy, for each
set, then the targets the held-out and seed sets must meet (see TARGETS in bench/scoring.py).

Matching (bench/scoring.py has the details): predictions and gold labels of a page are aligned one to
one in page order; a prediction matches a gold label when the normalised gold text (a distinctive
substring of the statement) is contained in the predicted text, or the predicted text is contained in
the gold text and covers at least half of it. Pairs score at kind level when the kinds agree and at
type level when kind and type agree; unmatched predictions are false positives and unmatched labels
false negatives; social-proof predictions of gold ``ignore`` noise are not counted. Guarantee days are
compared exactly on gold guarantees matched by a predicted guarantee.
"""

from __future__ import annotations

import argparse
import sys

from scoring import TARGETS, Scores, corpus_pages, score, seed_pages


def _report(name: str, scores: Scores, show_errors: bool) -> None:
    print(f"\n=== {name} ===")
    print(f"{'label':34s} {'P':>6s} {'R':>6s} {'F1':>6s} {'TP':>4s} {'FP':>4s} {'FN':>4s}")
    for counts, title in ((scores.kinds, "kind"), (scores.types, "type")):
        for label in counts.labels():
            p, r, f = counts.prf(label)
            print(
                f"{title + ' ' + label:34s} {p:6.3f} {r:6.3f} {f:6.3f} "
                f"{counts.tp[label]:4d} {counts.fp[label]:4d} {counts.fn[label]:4d}"
            )
    p, r, f = scores.kinds.prf()
    print(f"{'ALL kinds (micro)':34s} {p:6.3f} {r:6.3f} {f:6.3f}")
    print(
        f"disease recall {scores.disease_recall:.3f}  precision {scores.disease_precision:.3f}  "
        f"wrong 'disease' labels {1 - scores.disease_precision:.3f}"
    )
    print(f"DSHEA disclaimer F1 {scores.dshea_f1:.3f}")
    print(
        f"guarantee days exact {scores.days_exact:.3f} ({scores.days_right}/{scores.days_total}); "
        f"refund exact {scores.refund_right}/{scores.refund_total}"
    )
    if show_errors:
        for error in scores.errors:
            print("  -", error)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--errors", action="store_true", help="list every disagreement")
    parser.add_argument(
        "--set",
        choices=["tune", "heldout", "seed"],
        action="append",
        help="score only these sets (default: all three)",
    )
    args = parser.parse_args(argv)
    wanted = args.set or ["tune", "heldout", "seed"]
    summaries: dict[str, dict[str, float]] = {}
    for name in wanted:
        pages = seed_pages() if name == "seed" else corpus_pages(name)
        if not pages:
            print(f"\n=== {name} === skipped: ../shared/seeds/ not found next to the repository")
            continue
        scores = score(pages)
        _report(f"{name} ({len(pages)} pages)", scores, args.errors)
        summaries[name] = scores.summary()
    print("\n=== summary (targets apply to heldout and seed) ===")
    print(f"{'set':8s} " + " ".join(f"{key:>17s}" for key in TARGETS))
    print(f"{'target':8s} " + " ".join(f"{value:17.2f}" for value in TARGETS.values()))
    for name, summary in summaries.items():
        print(f"{name:8s} " + " ".join(f"{summary[key]:17.3f}" for key in TARGETS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
