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
        if self.feature_names is None:
            self.feature_names = self.vectorizer.get_feature_names_out()
        self._labels = [str(label) for label in self.classifier.classes_]
        self._none = self._labels.index(NONE)

    @property
    def labels(self) -> list[str]:
        return list(self._labels)

    def predict(self, token_lists: Sequence[list[str]]) -> list[Prediction]:
        """One prediction per candidate, in order."""
        if not token_lists:
            return []
        import numpy

        matrix = self.vectorizer.transform(token_lists)
        probabilities = self.classifier.predict_proba(matrix)
        # "none" wins only when it is at least none_threshold probable; otherwise the likeliest statement type
        best = probabilities.argmax(axis=1)
        masked = probabilities.copy()
        masked[:, self._none] = -1.0
        runner_up = masked.argmax(axis=1)
        rows_index = numpy.arange(probabilities.shape[0])
        doubtful = ((best == self._none) & (probabilities[:, self._none] < self.none_threshold)
                    & (probabilities[rows_index, runner_up] >= self.min_probability))
        best[doubtful] = runner_up[doubtful]
        # every feature's contribution to the chosen label, all rows at once, then the largest few per row
        rows = numpy.repeat(numpy.arange(matrix.shape[0]), numpy.diff(matrix.indptr))
        contributions = matrix.data * self.classifier.coef_[best[rows], matrix.indices]
        order = numpy.lexsort((-contributions, rows))
        predictions: list[Prediction] = []
        for row in range(matrix.shape[0]):
            label_index = int(best[row])
            reasons: tuple[str, ...] = ()
            if label_index != self._none:
                start, end = matrix.indptr[row], matrix.indptr[row + 1]
                top = order[start:min(end, start + REASONS)]
                reasons = tuple(str(self.feature_names[matrix.indices[i]]) for i in top if contributions[i] > 0)
            predictions.append(Prediction(self._labels[label_index], float(probabilities[row, label_index]), reasons))
        return predictions


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
