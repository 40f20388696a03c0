"""The statement model: tokens of a candidate sentence -> "none" or a kind/type, with its reasons.

A multinomial logistic regression (scikit-learn) over TF-IDF weights of the tokens from
``monitor.extract.features``, blended with a small neural network over the same weights (scikit-learn's
``MLPClassifier``: one hidden layer of rectified units, which sees the pairs of features a linear model cannot:
a disease term *and* a product as subject), trained by ``scripts/train_model.py`` from the labelled corpus in
``tests/corpus`` (see ``monitor.extract.training``). The fitted model ships as numpy arrays in
``monitor/extract/data/statement_model.npz``, written by that script and loaded once per process (no
network, no hub, no pickle; predicting needs numpy and SciPy's sparse product only). Its ``version`` is a
hash of the training data and parameters; it is part of ``EXTRACTOR_VERSION``, so ``claimwatch reextract``
applies a new model to stored pages.

Reasons: for the label it predicts, the linear model's largest contributions (TF-IDF weight x coefficient) are
kept, e.g. ``("cure", "~arthri", "dz:musculoskeletal")``: what an analyst sees in the export and report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from itertools import chain, repeat
from typing import Any

NONE = "none"
MODEL_FILE = "statement_model.npz"
REASONS = 4


@dataclass(frozen=True, slots=True)
class Prediction:
    """The model's answer for one candidate: its label ("none" or "kind/type"), probability, reasons."""

    label: str
    probability: float
    reasons: tuple[str, ...]

    @property
    def kind(self) -> str:
        return self.label.split("/", 1)[0]

    @property
    def type(self) -> str:
        return self.label.split("/", 1)[1] if "/" in self.label else NONE


@dataclass(frozen=True, slots=True)
class Rows:
    """TF-IDF rows of a batch of candidates in CSR form (``data``, ``indices``, ``indptr``, as SciPy and
    scikit-learn lay them out), with each entry's row."""

    data: Any
    indices: Any
    indptr: Any
    row_of_entry: Any


def identity(tokens: list[str]) -> list[str]:
    """The vectorizer's analyzer: candidates arrive already tokenised (``features.candidate_tokens``)."""
    return tokens


@dataclass
class StatementModel:
    """The fitted model as plain arrays: what TF-IDF and the multinomial logistic regression need to predict.

    scikit-learn fits it (``training.fit``, ``StatementModel.fitted``); predicting needs numpy and
    ``scipy.sparse`` alone, so a crawl's analysis processes start without importing scikit-learn, and the shipped
    file is arrays (``numpy.load(allow_pickle=False)``), not a pickle that could run code when loaded.
    """

    version: str
    terms: Any  # column -> token (numpy str array)
    idf: Any  # column -> inverse document frequency
    sublinear: bool  # term counts as 1 + log(count)
    coef: Any  # (labels x columns) weights
    intercept: Any  # (labels,)
    labels: list[str]
    none_threshold: float  # "none" only when at least this probable: recall over precision
    min_probability: float = 0.0  # ...and the statement type that would replace it at least this probable
    # "none" against a claim other than a disease claim (efficacy, structure/function, testimonial...): only
    # when at least this probable (a missed claim costs more than a flagged sentence; disease keeps the lower
    # bar, its precision being the weaker figure)
    claim_none_threshold: float | None = None
    # the network beside the linear model (one hidden layer of rectified units, a softmax over the labels): its
    # probabilities are blended with the linear model's, ``blend`` their share; without it, the linear model alone
    hidden_coef: Any = None  # (columns x units), stored as float16
    hidden_intercept: Any = None  # (units,)
    output_coef: Any = None  # (units x labels)
    output_intercept: Any = None  # (labels,)
    blend: float = 0.0

    def __post_init__(self) -> None:
        import numpy

        self.labels = [str(label) for label in self.labels]
        self._none = self.labels.index(NONE)
        self._names = [str(term) for term in self.terms]
        self._vocabulary: dict[str, int] = {name: column for column, name in enumerate(self._names)}
        self._width = len(self._names)
        self.idf = numpy.asarray(self.idf, dtype=numpy.float64)
        self.coef = numpy.asarray(self.coef, dtype=numpy.float64)
        self.intercept = numpy.asarray(self.intercept, dtype=numpy.float64)
        self._coef_t = numpy.ascontiguousarray(self.coef.T)
        if self.hidden_coef is not None:
            # float16 on disk (half the file; the rounding is the same for a fresh fit and the shipped file, so
            # both predict alike), float32 to compute with
            self.hidden_coef = numpy.asarray(self.hidden_coef, dtype=numpy.float16).astype(numpy.float32)
            self.hidden_intercept = numpy.asarray(self.hidden_intercept, dtype=numpy.float64)
            self.output_coef = numpy.asarray(self.output_coef, dtype=numpy.float64)
            self.output_intercept = numpy.asarray(self.output_intercept, dtype=numpy.float64)
        if self.claim_none_threshold is None:
            self.claim_none_threshold = self.none_threshold
        # per label, the bar "none" must clear when that label is the runner-up
        self._none_bar = numpy.array([self.claim_none_threshold if label.startswith("claim/")
                                      and label != "claim/disease" else self.none_threshold
                                      for label in self.labels], dtype=numpy.float64)

    @classmethod
    def fitted(cls, version: str, vectorizer: Any, classifier: Any, none_threshold: float,
               min_probability: float = 0.0, claim_none_threshold: float | None = None, network: Any = None,
               blend: float = 0.0) -> StatementModel:
        """From a fitted scikit-learn ``TfidfVectorizer(analyzer=identity)`` and ``LogisticRegression``, and
        optionally an ``MLPClassifier`` with one hidden layer fitted on the same rows (``network``)."""
        labels = [str(label) for label in classifier.classes_]
        layers: dict[str, Any] = {}
        if network is not None:
            if [str(label) for label in network.classes_] != labels or len(network.coefs_) != 2:
                raise ValueError("the network must have one hidden layer and the linear model's labels")
            layers = {"hidden_coef": network.coefs_[0], "hidden_intercept": network.intercepts_[0],
                      "output_coef": network.coefs_[1], "output_intercept": network.intercepts_[1], "blend": blend}
        return cls(version, vectorizer.get_feature_names_out(), vectorizer.idf_, bool(vectorizer.sublinear_tf),
                   classifier.coef_, classifier.intercept_, labels, none_threshold, min_probability,
                   claim_none_threshold, **layers)

    def save(self, path: Any) -> None:
        """Write the model as a compressed numpy archive (no pickles)."""
        import numpy

        numpy.savez_compressed(
            path, version=numpy.str_(self.version), terms=numpy.asarray(self._names, dtype=str), idf=self.idf,
            sublinear=numpy.bool_(self.sublinear), coef=self.coef, intercept=self.intercept,
            labels=numpy.asarray(self.labels, dtype=str), none_threshold=numpy.float64(self.none_threshold),
            min_probability=numpy.float64(self.min_probability),
            claim_none_threshold=numpy.float64(self.claim_none_threshold),
            **({} if self.hidden_coef is None else {
                "hidden_coef": self.hidden_coef.astype(numpy.float16), "hidden_intercept": self.hidden_intercept,
                "output_coef": self.output_coef, "output_intercept": self.output_intercept,
                "blend": numpy.float64(self.blend)}))

    @classmethod
    def read(cls, path: Any) -> StatementModel:
        import numpy

        with numpy.load(path, allow_pickle=False) as arrays:
            claim_bar = float(arrays["claim_none_threshold"]) if "claim_none_threshold" in arrays.files else None
            layers: dict[str, Any] = {}
            if "hidden_coef" in arrays.files:
                layers = {name: arrays[name] for name in
                          ("hidden_coef", "hidden_intercept", "output_coef", "output_intercept")}
                layers["blend"] = float(arrays["blend"])
            return cls(str(arrays["version"]), arrays["terms"], arrays["idf"], bool(arrays["sublinear"]),
                       arrays["coef"], arrays["intercept"], arrays["labels"].tolist(),
                       float(arrays["none_threshold"]), float(arrays["min_probability"]), claim_bar, **layers)

    @property
    def feature_names(self) -> list[str]:
        return list(self._names)

    def matrix(self, token_lists: Sequence[list[str]]) -> Rows:
        """The TF-IDF rows of candidates: what scikit-learn's ``vectorizer.transform(token_lists)`` gives
        (the same CSR arrays, bit for bit: the same operations in the same order).

        Token counts per row come from one ``numpy.unique`` over (row, column) pairs of the whole batch,
        which also sorts each row's columns, as scikit-learn's count vectorizer leaves them.
        """
        import numpy

        columns = list(map(self._vocabulary.get, chain.from_iterable(token_lists), repeat(-1)))
        lengths = list(map(len, token_lists))
        rows = len(lengths)
        width = self._width
        flat = numpy.array(columns, dtype=numpy.int64)
        row_of = numpy.repeat(numpy.arange(rows, dtype=numpy.int64), lengths)
        known = flat >= 0
        cells, counts = numpy.unique(row_of[known] * width + flat[known], return_counts=True)
        indices = (cells % width).astype(numpy.int32)
        row_of_entry = cells // width
        indptr = numpy.zeros(rows + 1, dtype=numpy.int32)
        numpy.cumsum(numpy.bincount(row_of_entry, minlength=rows), out=indptr[1:])
        data = counts.astype(numpy.float64)
        if self.sublinear:
            numpy.log(data, data)
            data += 1.0
        data *= self.idf[indices]
        # each row scaled to unit length; ``bincount`` adds each row's squares in column order, as
        # scikit-learn's row normalisation does, so the sums are the same bits
        norms = numpy.sqrt(numpy.bincount(row_of_entry, weights=data * data, minlength=rows))
        norms[norms == 0.0] = 1.0
        data /= norms[row_of_entry]
        return Rows(data, indices, indptr, row_of_entry)

    def probabilities(self, matrix: Rows) -> Any:
        """The label probabilities of each row: the linear model's, blended with the network's when there is one.

        The linear model's are what ``classifier.predict_proba`` gives: the softmax of the linear scores
        (multinomial model), the scores SciPy's sparse product, as scikit-learn computes them
        (``safe_sparse_dot``), then the intercept, the softmax scikit-learn's, step by step. The network's are
        ``MLPClassifier.predict_proba``'s arithmetic: rectified hidden units, then a softmax.
        """
        import numpy
        from scipy.sparse import csr_matrix

        rows = len(matrix.indptr) - 1
        weights = csr_matrix((matrix.data, matrix.indices, matrix.indptr), shape=(rows, self._width))
        scores = numpy.asarray(weights @ self._coef_t, dtype=numpy.float64)
        scores += self.intercept
        linear = _softmax(scores)
        if self.hidden_coef is None or not self.blend:
            return linear
        # single precision on both sides: a float64 row times float32 weights would copy the weights to float64
        # at every call
        single = csr_matrix((matrix.data.astype(numpy.float32), matrix.indices, matrix.indptr),
                            shape=(rows, self._width))
        hidden = numpy.asarray(single @ self.hidden_coef, dtype=numpy.float64)
        hidden += self.hidden_intercept
        numpy.maximum(hidden, 0.0, out=hidden)
        network = _softmax(hidden @ self.output_coef + self.output_intercept)
        return self.blend * network + (1.0 - self.blend) * linear

    def predict(self, token_lists: Sequence[list[str]]) -> list[Prediction]:
        """One prediction per candidate, in order."""
        if not token_lists:
            return []
        import numpy

        matrix = self.matrix(token_lists)
        probabilities = self.probabilities(matrix)
        # "none" wins only when it is at least none_threshold probable (claim_none_threshold against a claim
        # other than disease); otherwise the likeliest statement type
        best = probabilities.argmax(axis=1)
        masked = probabilities.copy()
        masked[:, self._none] = -1.0
        runner_up = masked.argmax(axis=1)
        rows_index = numpy.arange(probabilities.shape[0])
        doubtful = ((best == self._none) & (probabilities[:, self._none] < self._none_bar[runner_up])
                    & (probabilities[rows_index, runner_up] >= self.min_probability))
        best[doubtful] = runner_up[doubtful]
        chosen = probabilities[rows_index, best]
        reasons: dict[int, list[str]] = {}
        statements = best != self._none
        if statements.any():
            # each feature's contribution to the chosen label (weight x coefficient), for the rows that are
            # statements only; the largest few per row (ties in column order) are its reasons
            entries = numpy.repeat(statements, numpy.diff(matrix.indptr))
            rows = numpy.repeat(rows_index, numpy.diff(matrix.indptr))[entries]
            columns = matrix.indices[entries]
            contributions = matrix.data[entries] * self.coef[best[rows], columns]
            # only what speaks for the label can be a reason: the positive contributions, largest first
            positive = contributions > 0
            rows, columns, contributions = rows[positive], columns[positive], contributions[positive]
            order = numpy.lexsort((-contributions, rows))
            rows, columns = rows[order], columns[order]
            rank = numpy.arange(rows.size) - numpy.searchsorted(rows, rows, side="left")
            top = rank < REASONS
            names = self._names
            for row, column in zip(rows[top].tolist(), columns[top].tolist(), strict=True):
                reasons.setdefault(row, []).append(names[column])
        labels = self.labels
        return [Prediction(labels[label], probability, tuple(reasons[row]) if row in reasons else ())
                for row, (label, probability) in enumerate(zip(best.tolist(), chosen.tolist(), strict=True))]


def _softmax(scores: Any) -> Any:
    """Row-wise softmax, in place (scikit-learn's steps)."""
    import numpy

    scores -= scores.max(axis=1).reshape((-1, 1))
    numpy.exp(scores, out=scores)
    scores /= scores.sum(axis=1).reshape((-1, 1))
    return scores


@cache
def load_model() -> StatementModel:
    """The shipped model (loaded once per process)."""
    with resources.as_file(resources.files("monitor.extract").joinpath("data", MODEL_FILE)) as path:
        if not path.exists():
            raise RuntimeError(f"the statement model is missing ({MODEL_FILE}): run scripts/train_model.py")
        return StatementModel.read(path)


def model_version() -> str:
    return load_model().version
