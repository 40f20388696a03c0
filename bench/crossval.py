"""Cross-validation of the statement model's parameters on the train splits only (never a test split).

Run: ``python bench/crossval.py [--folds 4] [--set KEY=VALUE ...]...``

The train pages (own ``tune`` pages, blind train pages, regulator train items) are cut into folds by page; for
each fold the model is trained on the other folds (``training.fit`` with the given parameters) and the
extraction pipeline, with that model, is scored on the held-out pages exactly as bench/accuracy.py scores
(bench/scoring.py). Prints the pooled figures per parameter set: kind P / R / F1, claim recall, disease recall
and precision, the regulator items found and typed right, and the guarantees with the right days. Each
``--set`` option is one parameter set (several ``KEY=VALUE`` separated by commas, e.g. ``--set
none_threshold=0.8,C=64``); the shipped parameters (``training.PARAMETERS``) are scored first, unless ``--no-shipped``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scoring import Scores, all_pages, score, score_sentences  # noqa: E402

import monitor.extract as extract  # noqa: E402
import monitor.extract.model as model_module  # noqa: E402
from monitor.extract.training import PARAMETERS, corpus_examples, fit, pin_blas_kernels  # noqa: E402

pin_blas_kernels()  # the same folds' fits on any AVX2 machine (numpy is not loaded yet)


def _value(text: str) -> object:
    if text in ("None", "none"):
        return None
    try:
        return float(text) if "." in text or "e" in text else int(text)
    except ValueError:
        return text


def parse(spec: str) -> dict[str, object]:
    pairs = (item.split("=", 1) for item in spec.split(",") if item)
    return {key: _value(value) for key, value in pairs}


def cross_validate(parameters: dict[str, object], folds: int) -> tuple[Scores, int, int]:
    pages = [p for p in all_pages(seeds=False) if p.split == "train"]
    names = sorted({p.name for p in pages})
    fold_of = {name: index % folds for index, name in enumerate(names)}
    examples = corpus_examples(pages)
    pooled = Scores()
    right = total = 0
    original = model_module.load_model
    try:
        for fold in range(folds):
            model = fit([e for e in examples if fold_of[e.page] != fold], parameters)
            model_module.load_model = lambda m=model: m  # type: ignore[assignment,misc]
            extract.load_model = model_module.load_model  # type: ignore[attr-defined]
            extract.clear_caches()
            held = [p for p in pages if fold_of[p.name] == fold]
            scores = score([p for p in held if p.source != "regulator"])
            pooled.errors += scores.errors
            pooled.days_right += scores.days_right
            pooled.days_total += scores.days_total
            for counts, into in ((scores.kinds, pooled.kinds), (scores.types, pooled.types)):
                into.tp.update(counts.tp)
                into.fp.update(counts.fp)
                into.fn.update(counts.fn)
            sentences = score_sentences([p for p in held if p.source == "regulator"])
            pooled.errors += [f"regulator: {error}" for error in sentences.errors]
            right, total = right + sentences.right, total + sentences.total
    finally:
        model_module.load_model = original
        extract.load_model = original  # type: ignore[attr-defined]
        extract.clear_caches()
    return pooled, right, total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--set", action="append", default=[], help="KEY=VALUE[,KEY=VALUE...]: one parameter set")
    parser.add_argument("--types", action="store_true", help="also P / R of the claim types that matter most")
    parser.add_argument("--errors", metavar="TEXT", help="list the held-out errors whose line contains TEXT "
                        "(e.g. 'disease'); train pages only, like every page here")
    parser.add_argument("--no-shipped", action="store_true",
                        help="score only the --set parameter sets (the shipped one's figures known already)")
    args = parser.parse_args(argv)
    print(f"{'parameters':44s} {'P':>6s} {'R':>6s} {'F1':>6s} {'claimR':>7s} {'disR':>6s} {'disP':>6s} "
          f"{'reg.':>9s} {'days':>9s}")
    for spec in ([] if args.no_shipped else [""]) + args.set:
        parameters = {**PARAMETERS, **parse(spec)}
        started = time.perf_counter()
        scores, right, total = cross_validate(parameters, args.folds)
        p, r, f = scores.kinds.prf()
        print(f"{spec or 'shipped':44s} {p:6.3f} {r:6.3f} {f:6.3f} {scores.claim_recall:7.3f} "
              f"{scores.disease_recall:6.3f} {scores.disease_precision:6.3f} {right:4d}/{total:<4d} "
              f"{scores.days_right:4d}/{scores.days_total:<4d}  ({time.perf_counter() - started:.0f} s)", flush=True)
        if args.types:
            for label in ("claim/testimonial", "claim/disease", "claim/structure_function", "claim/efficacy",
                          "guarantee/money_back", "guarantee/satisfaction"):
                tp, fp_, fn = scores.types.tp[label], scores.types.fp[label], scores.types.fn[label]
                print(f"    {label:28s} P {tp / max(1, tp + fp_):.3f}  R {tp / max(1, tp + fn):.3f}")
        if args.errors is not None:
            for error in scores.errors:
                if args.errors in error:
                    print("  -", error)
    return 0


if __name__ == "__main__":
    sys.exit(main())
