"""Train the statement model from the labelled corpus and write it into the package.

Run: ``.venv/bin/python scripts/train_model.py [--check]``

Reads every train-split page of tests/corpus (own ``tune`` pages, blind ``train`` pages, regulator ``train``
items; never a test split, never the seeds), fits the model (monitor.extract.training) and writes
monitor/extract/data/statement_model.npz (numpy arrays). The same data gives the same model: ``--check`` retrains and
fails when the result differs from the shipped model (version or predictions), without writing anything.
Bump RULES_VERSION in monitor/extract/__init__.py only for rule changes: the model's version is part of the
extractor version already.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="retrain and compare with the shipped model")
    args = parser.parse_args(argv)
    from monitor.extract.training import corpus_examples, fit, label_counts, pin_blas_kernels

    pin_blas_kernels()  # before numpy loads OpenBLAS
    import numpy

    from monitor.extract.corpus import load_corpus
    from monitor.extract.model import MODEL_FILE, load_model

    started = time.perf_counter()
    pages = [page for page in load_corpus(ROOT / "tests" / "corpus") if page.split == "train"]
    examples = corpus_examples(pages)
    model = fit(examples)
    counts = label_counts(examples)
    print(f"{len(pages)} pages, {len(examples)} examples ({sum(counts.values()) - counts['none']} statements), "
          f"model {model.version}, {time.perf_counter() - started:.1f} s", file=sys.stderr)
    target = ROOT / "monitor" / "extract" / "data" / MODEL_FILE
    if args.check:
        shipped = load_model()
        probe = [example.tokens for example in examples[:500]]
        same = shipped.version == model.version and numpy.allclose(
            shipped.probabilities(shipped.matrix(probe)), model.probabilities(model.matrix(probe)))
        print("the shipped model is what this data trains" if same else
              f"the shipped model ({shipped.version}) differs from a fresh one ({model.version})", file=sys.stderr)
        return 0 if same else 1
    model.save(target)
    print(f"wrote {target.relative_to(ROOT)} ({target.stat().st_size // 1024} KB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
