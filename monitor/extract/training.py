"""Training the statement model from the labelled corpus: examples, fitting, the model's version.

Every unit that segmentation makes of a labelled page is an example: the gold statement it matches gives
its label ("kind/type"), a unit that matches none is "none". A unit that covers only a small part of a
gold statement (the second sentence of a two-sentence label) is left out rather than called "none". A gold
statement that no unit matches (segmentation cut it differently) is added as an example of its own.

Same data and parameters -> the same model: the solvers are deterministic (the network's shuffling and
initial weights come from a fixed seed) and the examples are ordered by page name; ``version`` hashes both.
Used by ``scripts/train_model.py``; scikit-learn is imported only here (the fitted model is plain arrays:
``model.StatementModel``).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from monitor.extract.corpus import LabelledPage
from monitor.extract.features import Candidate, candidate_tokens, rule_classification, sections_anchored
from monitor.extract.identity import product_names
from monitor.extract.keys import statement_key
from monitor.extract.model import NONE, StatementModel, identity
from monitor.extract.segmentation import segment

# chosen by 4-fold cross-validation over the train pages (grouped by page, scored as bench/accuracy.py scores),
# never on a test split: docs/extraction.md has the comparison
PARAMETERS: dict[str, object] = {
    "C": 64.0,
    "min_df": 2,
    "sublinear_tf": True,
    "class_weight": None,
    "none_threshold": 0.7,
    "claim_none_threshold": 0.85,  # against a claim other than disease (model.StatementModel)
    "min_probability": 0.0,
    "max_iter": 3000,
    # the network blended with the linear model (model.StatementModel): hidden units (0: none), passes over the
    # examples, examples per step, Adam's step size, its L2 penalty, and its share of the blended probabilities
    "hidden_units": 64,
    "epochs": 10,
    "batch_size": 1024,
    "learning_rate": 3e-3,
    "network_l2": 1e-4,
    "blend": 0.5,
}


@dataclass(frozen=True)
class Example:
    page: str
    text: str
    tokens: list[str]
    label: str


def _covers(unit_key: str, gold_key: str) -> bool:
    return bool(gold_key) and (gold_key in unit_key or (unit_key in gold_key and 2 * len(unit_key) >= len(gold_key)))


def page_examples(page: LabelledPage) -> list[Example]:
    """The labelled examples of one page (see the module docstring)."""
    product = product_names(page.html, page.blocks) if page.html else ()
    units = segment(page.blocks)
    keys = [statement_key(unit.text) for unit in units]
    gold_keys = [statement_key(gold.text) for gold in page.gold]
    labels: list[str | None] = [NONE] * len(units)
    used: set[int] = set()
    for number, gold_key in enumerate(gold_keys):
        gold = page.gold[number]
        for index, key in enumerate(keys):
            if index not in used and _covers(key, gold_key):
                labels[index] = f"{gold.kind}/{gold.type}"
                used.add(index)
                break
        else:
            gold_keys[number] = ""  # unmatched: added below as its own example
    for index, key in enumerate(keys):
        if labels[index] != NONE:
            continue
        # the same statement again on the page ("No side effects." under three products): the same label
        again = next((n for n, gk in enumerate(gold_keys) if gk and _covers(key, gk)), None)
        if again is not None:
            labels[index] = f"{page.gold[again].kind}/{page.gold[again].type}"
        elif any(key and key in gk for gk in gold_keys if gk):
            labels[index] = None  # a fragment of a labelled statement: neither it nor "none"
    examples: list[Example] = []
    anchored = sections_anchored([u.text for u in units], [u.section for u in units], product)
    for unit, label, anchor in zip(units, labels, anchored, strict=True):
        if label is None:
            continue
        candidate = Candidate(unit.text, unit.tag, unit.region, unit.context, unit.testimonial, unit.section, product,
                              anchor)
        examples.append(Example(page.name, unit.text, candidate_tokens(candidate, rule_classification(candidate)),
                                label))
    for number, gold in enumerate(page.gold):
        if not gold_keys[number]:
            candidate = Candidate(gold.text, product=product)
            examples.append(Example(page.name, gold.text, candidate_tokens(candidate, rule_classification(candidate)),
                                    f"{gold.kind}/{gold.type}"))
    return examples


def corpus_examples(pages: Iterable[LabelledPage]) -> list[Example]:
    examples: list[Example] = []
    for page in sorted(pages, key=lambda p: (p.source, p.name)):
        examples += page_examples(page)
    return examples


def data_version(examples: Sequence[Example], parameters: dict[str, object]) -> str:
    """A hash of what the model learns from: every example's page, text, tokens and label, and the parameters
    (the tokens too: a change of features alone changes the model, so it changes the version ``reextract``
    compares)."""
    digest = hashlib.sha256(json.dumps(parameters, sort_keys=True).encode())
    for example in examples:
        tokens = "\x01".join(example.tokens)
        digest.update(f"{example.page}\x00{example.text}\x00{tokens}\x00{example.label}\n".encode())
    return digest.hexdigest()[:12]


def pin_blas_kernels() -> None:
    """Make the fit the same on any x86-64 machine with AVX2: call before numpy is first imported.

    OpenBLAS picks its kernels by CPU (AVX-512 ones where the CPU has them), and the solver's sums then round
    differently: coefficients ~1e-3 apart, a borderline label in ~25,000 examples. Its Haswell kernels run on
    every AVX2 + FMA CPU, Intel or AMD, and the shipped model was fitted with them. An OPENBLAS_CORETYPE
    already set is left alone; other CPUs keep OpenBLAS's own choice.
    """
    import os
    from pathlib import Path

    try:
        flags = next((line.split(":", 1)[1].split() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("flags")), [])
    except OSError:
        return
    if "avx2" in flags and "fma" in flags:
        os.environ.setdefault("OPENBLAS_CORETYPE", "Haswell")


def fit_estimators(examples: Sequence[Example], parameters: dict[str, object] | None = None) -> tuple[Any, Any]:
    """The fitted scikit-learn ``TfidfVectorizer`` and ``LogisticRegression`` (deterministic)."""
    vectorizer, classifier, _ = _fit_linear(examples, parameters)
    return vectorizer, classifier


def _fit_linear(examples: Sequence[Example], parameters: dict[str, object] | None) -> tuple[Any, Any, Any]:
    """``fit_estimators``, and the examples' TF-IDF rows (the network learns from the same rows)."""
    import numpy
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    params = {**PARAMETERS, **(parameters or {})}
    vectorizer = TfidfVectorizer(analyzer=identity, lowercase=False, min_df=int(params["min_df"]),  # type: ignore[call-overload]
                                 sublinear_tf=bool(params["sublinear_tf"]), dtype=numpy.float64)
    matrix = vectorizer.fit_transform([example.tokens for example in examples])
    labels = [example.label for example in examples]
    classifier = LogisticRegression(C=float(params["C"]), class_weight=params["class_weight"],  # type: ignore[arg-type]
                                    max_iter=int(params["max_iter"]), solver="lbfgs")  # type: ignore[call-overload]
    classifier.fit(matrix, labels)
    return vectorizer, classifier, matrix


def fit_network(rows: Any, labels: Sequence[str], parameters: dict[str, object]) -> Any:
    """scikit-learn's ``MLPClassifier`` (one hidden layer of rectified units) on the examples' TF-IDF rows and
    labels, or None when ``hidden_units`` is 0. A fixed number of passes (``epochs``) with a fixed seed: the
    same data gives the same network (scikit-learn's warning that it has not converged is expected). It learns
    in single precision: twice as fast, and the shipped weights are stored rounded further (float16)."""
    params: dict[str, Any] = {**PARAMETERS, **parameters}
    units = int(params["hidden_units"])
    if units <= 0:
        return None
    import warnings

    import numpy
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    network = MLPClassifier(hidden_layer_sizes=(units,), alpha=float(params["network_l2"]),
                            max_iter=int(params["epochs"]), batch_size=int(params["batch_size"]),
                            learning_rate_init=float(params["learning_rate"]), random_state=0,
                            n_iter_no_change=1_000_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        network.fit(rows.astype(numpy.float32), list(labels))
    return network


def fit(examples: Sequence[Example], parameters: dict[str, object] | None = None) -> StatementModel:
    """Fit the model on examples (deterministic): its arrays, as the package ships them."""
    params = {**PARAMETERS, **(parameters or {})}
    vectorizer, classifier, rows = _fit_linear(examples, params)
    network = fit_network(rows, [example.label for example in examples], params)
    return StatementModel.fitted(data_version(examples, params), vectorizer, classifier,
                                 float(params["none_threshold"]), float(params["min_probability"]),  # type: ignore[arg-type]
                                 float(params["claim_none_threshold"]), network, float(params["blend"]))  # type: ignore[arg-type]


def label_counts(examples: Sequence[Example]) -> Counter[str]:
    return Counter(example.label for example in examples)
