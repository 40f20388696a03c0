"""The statement model: tokens of a candidate sentence -> "none" or a kind/type, with its reasons.

A multinomial logistic regression (scikit-learn) over TF-IDF weights of the tokens from
``monitor.extract.features``, trained by ``scripts/train_model.py`` from the labelled corpus in
``tests/corpus`` (see ``monitor.extract.training``). The fitted model ships as
``monitor/extract/data/statement_model.joblib``, written by that script and loaded once per process (no
network, no hub). Its ``version`` is a hash of the training data and parameters; it is part of
``EXTRACTOR_VERSION``, so ``claimwatch reextract`` applies a new model to stored pages.

Reasons: for the label it predicts, the model's largest contributions (TF-IDF weight x coefficient) are
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
MODEL_FILE = "statement_model.joblib"
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


def identity(tokens: list[str]) -> list[str]:
    """The vectorizer's analyzer: candidates arrive already tokenised (``features.candidate_tokens``)."""
    return tokens


@dataclass
class StatementModel:
    version: str
    vectorizer: Any  # sklearn TfidfVectorizer(analyzer=identity)
    classifier: Any  # sklearn LogisticRegression
    none_threshold: float  # "none" only when at least this probable: recall over precision
    feature_names: Any = None
    min_probability: float = 0.0  # ...and the statement type that would replace it at least this probable

    def __post_init__(self) -> None:
        import numpy

        if self.feature_names is None:
            self.feature_names = self.vectorizer.get_feature_names_out()
        self._labels = [str(label) for label in self.classifier.classes_]
        self._none = self._labels.index(NONE)
        # what ``predict`` needs of the fitted vectorizer and classifier, read once: it computes what their
        # ``transform`` and ``predict_proba`` compute (the same operations, in the same order, so the same
        # numbers) without their per-call validation, which costs more than the arithmetic on a page's batch
        self._vocabulary: dict[str, int] = {str(k): int(v) for k, v in self.vectorizer.vocabulary_.items()}
        self._width = len(self.feature_names)
        self._idf = numpy.asarray(self.vectorizer.idf_, dtype=numpy.float64)
        self._sublinear = bool(self.vectorizer.sublinear_tf)
        self._coef_t = numpy.ascontiguousarray(self.classifier.coef_.T)
        self._intercept = numpy.asarray(self.classifier.intercept_)
        self._names = [str(name) for name in self.feature_names]

    @property
    def labels(self) -> list[str]:
        return list(self._labels)

    def matrix(self, token_lists: Sequence[list[str]]) -> Any:
        """The TF-IDF rows of candidates: what ``vectorizer.transform(token_lists)`` gives (a CSR matrix).

        Token counts per row come from one ``numpy.unique`` over (row, column) pairs of the whole batch,
        which also sorts each row's columns, as scikit-learn's count vectorizer leaves them.
        """
        import numpy
        from scipy.sparse import csr_matrix
        from sklearn.utils.sparsefuncs_fast import inplace_csr_row_normalize_l2

        columns = list(map(self._vocabulary.get, chain.from_iterable(token_lists), repeat(-1)))
        lengths = list(map(len, token_lists))
        rows = len(lengths)
        width = self._width
        flat = numpy.array(columns, dtype=numpy.int64)
        row_of = numpy.repeat(numpy.arange(rows, dtype=numpy.int64), lengths)
        known = flat >= 0
        cells, counts = numpy.unique(row_of[known] * width + flat[known], return_counts=True)
        indices = (cells % width).astype(numpy.int32)
        indptr = numpy.zeros(rows + 1, dtype=numpy.int32)
        numpy.cumsum(numpy.bincount(cells // width, minlength=rows), out=indptr[1:])
        data = counts.astype(numpy.float64)
        if self._sublinear:
            numpy.log(data, data)
            data += 1.0
        data *= self._idf[indices]
        matrix = csr_matrix((data, indices, indptr), shape=(rows, width))
        inplace_csr_row_normalize_l2(matrix)
        return matrix

    def probabilities(self, matrix: Any) -> Any:
        """``classifier.predict_proba(matrix)``: the softmax of the linear scores (multinomial model)."""
        from sklearn.utils.extmath import softmax

        scores = matrix @ self._coef_t + self._intercept
        return softmax(scores, copy=False)

    def predict(self, token_lists: Sequence[list[str]]) -> list[Prediction]:
        """One prediction per candidate, in order."""
        if not token_lists:
            return []
        import numpy

        matrix = self.matrix(token_lists)
        probabilities = self.probabilities(matrix)
        # "none" wins only when it is at least none_threshold probable; otherwise the likeliest statement type
        best = probabilities.argmax(axis=1)
        masked = probabilities.copy()
        masked[:, self._none] = -1.0
        runner_up = masked.argmax(axis=1)
        rows_index = numpy.arange(probabilities.shape[0])
        doubtful = ((best == self._none) & (probabilities[:, self._none] < self.none_threshold)
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
            contributions = matrix.data[entries] * self.classifier.coef_[best[rows], columns]
            order = numpy.lexsort((-contributions, rows))
            rows, columns, contributions = rows[order], columns[order], contributions[order]
            rank = numpy.arange(rows.size) - numpy.searchsorted(rows, rows, side="left")
            top = (rank < REASONS) & (contributions > 0)
            names = self._names
            for row, column in zip(rows[top].tolist(), columns[top].tolist(), strict=True):
                reasons.setdefault(row, []).append(names[column])
        labels = self._labels
        return [Prediction(labels[label], probability, tuple(reasons[row]) if row in reasons else ())
                for row, (label, probability) in enumerate(zip(best.tolist(), chosen.tolist(), strict=True))]


@cache
def load_model() -> StatementModel:
    """The shipped model (loaded once per process)."""
    import joblib  # scikit-learn's own persistence; imported here so that importing claimwatch stays light

    with resources.as_file(resources.files("monitor.extract").joinpath("data", MODEL_FILE)) as path:
        if not path.exists():
            raise RuntimeError(f"the statement model is missing ({MODEL_FILE}): run scripts/train_model.py")
        payload = joblib.load(path)
    return StatementModel(payload["version"], payload["vectorizer"], payload["classifier"],
                          payload["none_threshold"], payload.get("feature_names"), payload.get("min_probability", 0.0))


def model_version() -> str:
    return load_model().version
