"""The extractor's fast paths give exactly what the plain versions give.

Speed work (docs/extraction.md, "Speed") replaced scikit-learn's per-call pipeline by the same arithmetic on a
page's batch, BeautifulSoup by lxml for the page's head, and added cheap pre-checks in front of slow
patterns. None of it may change a statement: each fast path is compared here with the plain version (kept
in this file, or in the module, as the reference) on every unit of the labelled corpus and on made-up cases.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import numpy
import pytest
from corpuskit import corpus_pages

from monitor.extract import is_volatile
from monitor.extract.corpus import LabelledPage
from monitor.extract.features import Candidate, candidate_tokens, rule_classification
from monitor.extract.identity import _head_names, _head_names_bs4, product_names
from monitor.extract.keys import fold
from monitor.extract.model import REASONS, StatementModel
from monitor.extract.rules import compiled
from monitor.extract.segmentation import segment
from monitor.extract.training import PARAMETERS, corpus_examples, fit, fit_estimators, fit_network
from monitor.extract.vocabulary import _first_words, _singular, disease_mentions, vocabulary
from monitor.statements import Block, Finding, Statement

ROOT = Path(__file__).resolve().parents[1]


def _pages() -> tuple[LabelledPage, ...]:
    return corpus_pages()


@cache
def _texts() -> tuple[str, ...]:
    """Every unit text of every labelled page (the extractor's inputs, not the labels)."""
    return tuple(dict.fromkeys(unit.text for page in _pages() for unit in segment(page.blocks)))


def _reference_mentions(folded: str) -> list[object]:
    """disease_mentions as first written: try every word, longest term first."""
    table, firsts = vocabulary(), _first_words()
    words = re.findall(r"[a-z0-9]+(?:['.-][a-z0-9]+)*'?", folded)
    found = []
    index, count = 0, len(words)
    while index < count:
        word = words[index]
        longest = firsts.get(word, 0)
        if not longest:
            index += 1
            continue
        for size in range(min(longest, count - index), 0, -1):
            mention = table.get(" ".join(words[index : index + size]) if size > 1 else word)
            if mention is None and size == 1:
                mention = table.get(_singular(word))
            if mention is not None:
                found.append(mention)
                index += size
                break
        else:
            index += 1
    return found


def test_disease_mentions_match_the_plain_word_by_word_scan() -> None:
    made_up = ["it lowers your a1c and calms arthritis", "for is i on the type 2 diabetes mellitus",
               "kidney stones and kidney stone pain", "chronic kidney disease stage 3", "cold sores, colds, flu"]
    # every third unit of the corpus (~20,000 texts): the scan is slow, and a third covers every kind of page
    texts = [fold(text) for text in (*_texts()[::3], *made_up)]
    assert len(texts) > 5000
    assert sum(bool(disease_mentions(t)) for t in texts) > 500  # the comparison covers real mentions
    for text in texts:
        assert disease_mentions(text) == _reference_mentions(text), text


def test_the_noise_pre_check_never_hides_a_ticker() -> None:
    rules = compiled()
    tickers = ["12 people are viewing this", "viewing this now", "others looking at this", "only 3 left in stock",
               "in stock", "only 4 bottles left", "5 left", "jane just ordered", "3 minutes ago",
               "212 bought this in the last 24 hours", "in the last 6 hours", "sale ends tonight", "ends in 04:12",
               "last updated jan 5", "updated: monday", "posted on may 3", "6 min read", "at 10:45 today",
               "countdown", "19 people joined the challenge", "1,204 readers are reading", "sold today",
               "signed up this week", "maria from austin just purchased"]
    for ticker in tickers:
        assert rules.noise.search(ticker), ticker
        assert rules.noise_hint.search(ticker), ticker
        assert is_volatile(ticker)
    folded = [fold(text) for text in _texts()]
    matched = [text for text in folded if rules.noise.search(text)]
    assert matched  # the corpus has tickers: the check below is not empty
    assert all(rules.noise_hint.search(text) for text in matched)


def _tokens_of(page: LabelledPage) -> list[list[str]]:
    product = product_names(page.html, page.blocks) if page.html else ()
    candidates = [Candidate(u.text, u.tag, u.region, u.context, u.testimonial, u.section, product)
                  for u in segment(page.blocks)]
    return [candidate_tokens(c, rule_classification(c)) for c in candidates]


@cache
def _fitted() -> tuple[Any, Any, StatementModel]:
    """scikit-learn's estimators fitted on the own train pages, and the model made of their arrays."""
    pages = [p for p in _pages() if p.source == "own" and p.split == "train"]
    vectorizer, classifier = fit_estimators(corpus_examples(pages))
    return vectorizer, classifier, StatementModel.fitted("test", vectorizer, classifier, 0.7)


def test_the_model_computes_what_scikit_learn_computes() -> None:
    vectorizer, classifier, model = _fitted()
    pages = [p for p in _pages() if p.source in ("own", "blind")][::4]
    batches = [_tokens_of(page) for page in pages]
    batches.append([["never", "seen", "tokens"], [], ["supports", "supports", "joint", "~joint"]])
    batches.append([[], ["never", "seen"]])
    for tokens in batches:
        fast = model.matrix(tokens)
        plain = vectorizer.transform(tokens)
        assert numpy.array_equal(fast.indptr, plain.indptr)
        assert numpy.array_equal(fast.indices, plain.indices)
        assert numpy.array_equal(fast.data, plain.data)  # the same operations: the same bits
        probabilities = model.probabilities(fast)
        assert numpy.array_equal(probabilities, classifier.predict_proba(plain))
        # reasons: the largest contributions to the chosen label, as first computed (all rows at once)
        predictions = model.predict(tokens)
        coef = classifier.coef_
        labels = [str(label) for label in classifier.classes_]
        for row, prediction in enumerate(predictions):
            if prediction.label == "none":
                assert prediction.reasons == ()
                continue
            start, end = plain.indptr[row], plain.indptr[row + 1]
            contributions = plain.data[start:end] * coef[labels.index(prediction.label), plain.indices[start:end]]
            order = numpy.lexsort((-contributions,))[:REASONS]
            expected = tuple(str(model.feature_names[plain.indices[start + i]]) for i in order
                             if contributions[i] > 0)
            assert prediction.reasons == expected


def test_the_saved_model_predicts_what_the_fitted_one_does(tmp_path: Path) -> None:
    _, _, model = _fitted()
    model.save(tmp_path / "model.npz")
    loaded = StatementModel.read(tmp_path / "model.npz")
    assert (loaded.version, loaded.labels, loaded.none_threshold) == ("test", model.labels, 0.7)
    tokens = [t for page in _pages()[::6] for t in _tokens_of(page)]
    assert loaded.predict(tokens) == model.predict(tokens)


@cache
def _fitted_with_network() -> tuple[Any, Any, Any, StatementModel]:
    """The own train pages' estimators with a small network beside the linear model, and their model."""
    vectorizer, classifier, _ = _fitted()
    examples = corpus_examples([p for p in _pages() if p.source == "own" and p.split == "train"])
    rows = vectorizer.transform([example.tokens for example in examples])
    network = fit_network(rows, [example.label for example in examples],
                          {"hidden_units": 8, "epochs": 3, "batch_size": 128})
    model = StatementModel.fitted("test", vectorizer, classifier, 0.7, network=network, blend=0.4)
    return vectorizer, classifier, network, model


def test_the_blended_model_computes_what_scikit_learn_computes() -> None:
    """The network's probabilities are MLPClassifier.predict_proba's (with its first layer's weights rounded as
    the shipped file stores them), blended with the linear model's in the model's proportion."""
    import copy

    vectorizer, classifier, network, model = _fitted_with_network()
    assert model.hidden_coef.shape == (len(model.feature_names), 8) and model.blend == 0.4
    rounded = copy.deepcopy(network)
    rounded.coefs_[0] = network.coefs_[0].astype(numpy.float16).astype(numpy.float32)
    tokens = [t for page in _pages()[::5] for t in _tokens_of(page)]
    plain = vectorizer.transform(tokens)
    expected = 0.4 * rounded.predict_proba(plain.astype(numpy.float32)) + 0.6 * classifier.predict_proba(plain)
    blended = model.probabilities(model.matrix(tokens))
    assert numpy.allclose(blended, expected, rtol=1e-5, atol=1e-6)
    # the network moves probabilities: a blend that equalled the linear model would test nothing
    assert not numpy.allclose(blended, classifier.predict_proba(plain), atol=1e-3)


def test_the_saved_blended_model_predicts_what_the_fitted_one_does(tmp_path: Path) -> None:
    _, _, _, model = _fitted_with_network()
    model.save(tmp_path / "model.npz")
    loaded = StatementModel.read(tmp_path / "model.npz")
    assert loaded.blend == 0.4 and loaded.hidden_coef.dtype == numpy.float32
    with numpy.load(tmp_path / "model.npz") as arrays:
        assert arrays["hidden_coef"].dtype == numpy.float16  # half the file
    tokens = [t for page in _pages()[::6] for t in _tokens_of(page)]
    assert loaded.predict(tokens) == model.predict(tokens)


def test_no_hidden_units_is_the_linear_model_alone() -> None:
    examples = corpus_examples([p for p in _pages() if p.source == "own" and p.split == "train"])
    model = fit(examples, {"hidden_units": 0})
    assert model.hidden_coef is None and model.blend == 0.0
    assert PARAMETERS["hidden_units"] > 0  # the shipped model has its network


def test_predicting_imports_sparse_product_but_not_scikit_learn() -> None:
    """A crawl's analysis processes load the shipped model and predict with numpy and SciPy's sparse product:
    scikit-learn (and with it joblib and the rest of SciPy) is never imported, which keeps start-up short."""
    import subprocess
    import sys

    probe = ("import sys\n"
             "from monitor.extract import analyse_page\n"
             "analyse_page('<html><body><p>Cures arthritis in days.</p></body></html>')\n"
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'joblib')))\n"
             "print(sorted(m for m in sys.modules if m in ('scipy.sparse', 'scipy.optimize', 'scipy.linalg')))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["[]", "['scipy.sparse']"]


HEADS = [
    '<head><title>Amber Root | Shop</title><meta property="og:title" content="Amber Root Joint Formula"></head>',
    '<head><meta property="og:type" content="product"><meta property="og:title" content="Calm Mind Gummies">'
    '<meta property="og:title" content="second"><meta property="product:brand" content="Brightmere"></head>',
    '<head><title></title><title>Second title</title></head>',
    '<head><title>  </title><!-- comment --><meta property="og:site_name" content="Shop.com"></head>',
    '<head><title>A &amp; B <b>bold</b> tail</title></head>',
    '<head><title><!--only a comment--></title></head>',
    '<head><script type="application/ld+json">{"@type": "Product", "name": "Flexa", "brand": {"name": "Acme"}}'
    '</script><script type="APPLICATION/LD+JSON"></script><script>var x = 1;</script></head>',
    '<script type="application/ld+json">[{"@graph": [{"@type": ["Product"], "name": "Graph Name"}]}]</script>',
    '<script type="application/ld+json">{not json</script><script type="application/ld+json">{"@type":"Drug",'
    '"name":"X"}</script>',
    "<head><meta property='og:title' content='Quote &quot;Name&quot;'><title>T</title></head>",
    "<head></head>",
]


@pytest.mark.parametrize("markup", HEADS)
def test_head_names_read_by_lxml_match_beautifulsoup(markup: str) -> None:
    assert _head_names(markup) == _head_names_bs4(markup)


def test_product_names_match_beautifulsoup_on_every_corpus_page(monkeypatch: pytest.MonkeyPatch) -> None:
    pages = [p for p in _pages() if p.html and p.source != "regulator"]
    fast = [product_names(p.html, p.blocks) for p in pages]
    import monitor.extract.identity as identity

    monkeypatch.setattr(identity, "_head_names", identity._head_names_bs4)
    assert fast == [product_names(p.html, p.blocks) for p in pages]
    assert sum(bool(names) for names in fast) > 50


def test_a_repeated_sentence_gets_the_same_statement_each_time() -> None:
    from monitor.extract import clear_caches, extract_statements

    clear_caches()
    blocks = [Block("No jitters, no crash, just steady energy for your day."), Block("Ships free."),
              Block("No jitters, no crash, just steady energy for your day.")]
    statements = extract_statements(blocks)
    assert len(statements) == 2 and statements[0].text == statements[1].text
    assert statements[0].type == statements[1].type and statements[0].position == 0 and statements[1].position == 1


def test_none_must_be_likelier_to_win_against_a_claim_than_against_a_disease_claim(tmp_path: Path) -> None:
    """"none" 0.8 probable: a sentence whose runner-up is an efficacy claim is still reported (the claim bar is
    0.85: a missed claim costs more than a flagged sentence), one whose runner-up is a disease claim is not (the
    general bar is 0.7: disease precision is the weaker figure). The bar survives saving and loading."""
    import math

    labels = ["claim/disease", "claim/efficacy", "none"]
    coef = numpy.array([[math.log(0.05), math.log(0.15)],
                        [math.log(0.15), math.log(0.05)],
                        [math.log(0.80), math.log(0.80)]])
    model = StatementModel("test", numpy.array(["x", "y"]), numpy.ones(2), True, coef, numpy.zeros(3), labels,
                           none_threshold=0.7, claim_none_threshold=0.85)
    predictions = model.predict([["x"], ["y"]])
    assert [p.label for p in predictions] == ["claim/efficacy", "none"]
    assert round(predictions[0].probability, 2) == 0.15
    model.save(tmp_path / "model.npz")
    loaded = StatementModel.read(tmp_path / "model.npz")
    assert loaded.claim_none_threshold == 0.85
    assert [p.label for p in loaded.predict([["x"], ["y"]])] == ["claim/efficacy", "none"]


@pytest.mark.parametrize(
    "value",
    [
        Block("Stops cramps tonight.", "li", "footer", frozenset({"list", "guarantee"}), 7),
        Statement("claim", "disease", "Stops cramps tonight.", "stops cramps tonight", "high",
                  {"terms": ["cramps"], "serious": False}, 3, "model", ("stops", "cramps")),
        Finding("sf_claim_without_dshea", "medium", "2 structure/function claims", (1, 4)),
    ],
    ids=["block", "statement", "finding"],
)
def test_values_cross_process_boundaries_whole(value: Any) -> None:
    """Blocks go to the analysis processes and statements and findings come back pickled, as their
    constructors' arguments (``__reduce__``): every field must survive, including one added later."""
    import dataclasses
    import pickle

    copy = pickle.loads(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))
    assert copy == value and type(copy) is type(value)
    _, arguments = value.__reduce__()
    assert len(arguments) == len(dataclasses.fields(value))  # a new field must be added to __reduce__ too
