"""The learned extractor: every sentence a candidate, testimonial cards split per quote, volatile tickers
never statements, the product named on the page anchored, disease words from ICD-10-CM, reasons kept, and
the same data always training the same model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from corpuskit import corpus_pages

from monitor.extract import analyse_page, extract_statements, extractor_version
from monitor.extract.corpus import TRAIN_ONLY_FROM_WRITER, blind_split, own_pages
from monitor.extract.identity import product_names
from monitor.extract.model import load_model
from monitor.extract.reasons import describe_reason
from monitor.extract.segmentation import segment
from monitor.extract.training import PARAMETERS, corpus_examples, data_version, fit
from monitor.extract.vocabulary import disease_mentions
from monitor.normalize import html_to_blocks
from monitor.statements import Block

ROOT = Path(__file__).resolve().parents[1]

REVIEW_WALL = """<html><body><h2>What our customers say</h2>
<div class="review-card"><div class="stars">\u2605\u2605\u2605\u2605\u2605</div><h4>Finally sleeping</h4>
<p>I used to lie awake until 3 a.m. every night. Now I'm out within twenty minutes.</p>
<p class="author">- Dana R., Ohio</p></div>
<div class="review-card"><div class="stars">\u2605\u2605\u2605\u2605\u2606</div><h4>My sugar numbers</h4>
<p>My A1C dropped from 7.9 to 6.1 and my doctor cut my metformin in half.</p>
<p class="author">- Mark T.</p></div>
</body></html>"""


def test_a_review_wall_gives_one_testimonial_per_quote_with_reviewer_stars_and_title() -> None:
    statements = [s for s in extract_statements(html_to_blocks(REVIEW_WALL)) if s.type == "testimonial"]
    assert len(statements) == 2
    first, second = statements
    assert first.text.startswith("I used to lie awake") and "Dana" not in first.text and "\u2605" not in first.text
    assert first.attributes["reviewer"] == "Dana R., Ohio"
    assert first.attributes["stars"] == 5.0
    assert first.attributes["title"] == "Finally sleeping"
    assert second.attributes["stars"] == 4.0 and second.attributes["reviewer"] == "Mark T."
    # a disease outcome reported by a customer is a high-severity testimonial
    assert second.attributes["disease_outcome"] is True and second.severity == "high"


def test_section_headings_are_context_not_statements() -> None:
    html = "<h2>Our guarantee</h2><p>Try it for sixty days. If you are not happy, we refund every penny.</p>"
    statements = extract_statements(html_to_blocks(html))
    assert all(statement.text != "Our guarantee" for statement in statements)
    assert [unit.section for unit in segment(html_to_blocks(html))][-1] == "Our guarantee"


@pytest.mark.parametrize(
    ("text", "units"),
    [
        # an advertiser's teaser question and its short answer: one sentence, the disease named in it
        ("Gout flare? Flush the crystals.", ["Gout flare? Flush the crystals."]),
        ("Tired? Stressed? Try NightCalm tonight.", ["Tired? Stressed? Try NightCalm tonight."]),
        # a question of more words, or a longer answer, stays apart
        ("Is it safe with my blood pressure pills? Ask your doctor first.",
         ["Is it safe with my blood pressure pills?", "Ask your doctor first."]),
        ("Stiff knees? Most people in our survey said the cold weather made their knees ache more.",
         ["Stiff knees?", "Most people in our survey said the cold weather made their knees ache more."]),
    ],
)
def test_a_teaser_question_and_its_answer_are_one_unit(text: str, units: list[str]) -> None:
    assert [unit.text for unit in segment([Block(text)])] == units


def test_a_teaser_and_its_answer_are_read_as_the_disease_claim_they_make() -> None:
    found = extract_statements([Block("Gout flare? Flush the crystals.", tag="li")])
    assert [(s.kind, s.type) for s in found] == [("claim", "disease")]


@pytest.mark.parametrize("ticker", [
    "19 people joined the challenge this week",
    "Maria from Austin just ordered 2 bottles",
    "Only 4 left in stock",
    "212 bought in the past 24 hours",
])
def test_live_tickers_never_become_statements(ticker: str) -> None:
    assert extract_statements([Block(ticker)]) == []


def test_a_changing_ticker_changes_no_statement() -> None:
    page = "<p>Supports restful sleep.*</p><p>{n} people joined the challenge this week</p>"
    before = extract_statements(html_to_blocks(page.format(n=19)))
    after = extract_statements(html_to_blocks(page.format(n=23)))
    assert [s.key for s in before] == [s.key for s in after] and before


def test_product_identity_from_json_ld_and_open_graph() -> None:
    html = """<html><head><title>Shop</title>
    <script type="application/ld+json">{"@context": "https://schema.org", "@type": "Product",
     "name": "Amber Root\u00ae Joint Formula", "brand": {"@type": "Brand", "name": "Amber Root"}}</script>
    <meta property="og:type" content="product"></head><body><h1>Welcome</h1></body></html>"""
    names = product_names(html, html_to_blocks(html))
    assert "amber root joint formula" in names and "amber root" in names


@pytest.mark.parametrize("title", ["Returns &amp; Guarantee | Harbor Nutrition", "Shipping and Refund Policy - Amber",
                                   "FAQ | Amber Root", "About Us"])
def test_a_page_named_for_what_it_is_names_no_product(title: str) -> None:
    """"Returns & Guarantee" is the page's name: read as a product, it would stand for the product in every
    sentence that says "returns" or "guarantee"."""
    html = f"<html><head><title>{title}</title></head><body><p>Send it back within 60 days.</p></body></html>"
    assert product_names(html, html_to_blocks(html)) == ()


@pytest.mark.parametrize("heading", ["We\u2019ll be back soon!", "Say goodbye to joint pain!", "Why your knees ache",
                                     "Is it arthritis or just age?"])
def test_a_main_heading_that_reads_as_a_sentence_names_no_product(heading: str) -> None:
    """A headline is no name: read as the product's name, its words would all become ``<product>`` and the model
    would see "<product> !" (a maintenance page's "We'll be back soon!" came out as a disease claim)."""
    html = f"<html><body><h1>{heading}</h1><p>Sorry for the inconvenience.</p></body></html>"
    assert product_names(html, html_to_blocks(html)) == ()
    named = "<html><body><h1>Amber Root Joint Formula</h1></body></html>"
    assert product_names(named, html_to_blocks(named)) == ("amber root joint formula", "amber root")


def test_a_plainly_named_product_is_the_subject_of_its_claims() -> None:
    html = """<html><head><script type="application/ld+json">{"@type": "Product", "name": "Amber Root"}</script>
    </head><body><p>Amber Root treats the swelling of arthritis in days.</p></body></html>"""
    analysis = analyse_page(html)
    assert analysis.product[0] == "amber root"
    (statement,) = analysis.statements
    assert (statement.kind, statement.type) == ("claim", "disease")
    assert "arthritis" in statement.attributes["terms"]


def test_disease_vocabulary_comes_from_icd10cm_with_lay_words() -> None:
    found = {m.term: (m.code, m.group, m.serious) for m in disease_mentions("lowers your a1c, calms tinnitus and "
                                                                            "shrinks tumours")}
    assert found["a1c"][1] == "endocrine" and found["a1c"][2] is True
    assert found["tinnitus"][0].startswith("H93")  # from the ICD-10-CM tabular list, not the lay list
    assert found["tumours"][1] == "neoplasm"
    assert disease_mentions("magnesium is found in spinach and almonds") == []


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("her fibroids shrank in three months", "D25"),
        ("dissolves salt deposits in the joints", "M10.9"),  # gout, as translated pages name it
        ("regrows receding gums", "K06.0"),
        ("a lifeline for long-haulers", "U09.9"),
        ("improves reading in kids with dyslexia", "R48.0"),
        ("lemon balm smothers the lip blister", "B00.1"),
        ("works on hsv-1 outbreaks", "B00.9"),
        ("prevents rhabdo after hard workouts", "M62.82"),
        ("knocks out calf cramps in seconds", "R25.2"),
        ("safe for coeliac disease", "K90.0"),
    ],
)
def test_lay_words_of_translated_and_folk_pages_name_their_disease(text: str, code: str) -> None:
    assert [m.code for m in disease_mentions(text)] == [code]


@pytest.mark.parametrize(
    ("text", "term", "code"),
    [
        ("ends the bone-deep tiredness of anaemia", "anaemia", "D64.9"),
        ("the oedema of the ankles disappears", "oedema", "R60"),
        ("shrinks haemorrhoids in a week", "haemorrhoids", "K64"),
        ("no more diarrhoea", "diarrhoea", "R19.7"),
        ("ischaemic colitis", "ischaemic colitis", "K55"),
    ],
)
def test_icd10cm_terms_are_found_in_british_spelling(text: str, term: str, code: str) -> None:
    """ICD-10-CM spells the American way; British, Irish, Australian, Indian and translated pages do not."""
    assert [(m.term, m.code[:len(code)]) for m in disease_mentions(text)] == [(term, code)]


@pytest.mark.parametrize("text", ["an academia of herbalists", "endemic to the Andes", "systemic support",
                                  "hemp seed oil"])
def test_british_spelling_makes_no_disease_of_ordinary_words(text: str) -> None:
    assert disease_mentions(text) == []


def test_the_vocabulary_file_is_what_the_pinned_icd10cm_package_gives(tmp_path: Path) -> None:
    shipped = (ROOT / "monitor" / "extract" / "data" / "icd10cm_terms.tsv").read_text(encoding="utf-8")
    code = (
        "import sys; sys.path.insert(0, 'scripts'); import build_vocabulary as b; "
        "release, rows = b.build(); print(len(rows)); print(release)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    count, release = result.stdout.split()
    assert release in shipped
    assert int(count) == sum(1 for line in shipped.splitlines() if line and not line.startswith("#"))


def test_the_drug_file_is_what_the_pinned_drug_package_gives() -> None:
    shipped = (ROOT / "monitor" / "extract" / "data" / "drug_names.tsv").read_text(encoding="utf-8")
    code = (
        "import sys; sys.path.insert(0, 'scripts'); import build_vocabulary as b; "
        "version, rows = b.build_drugs(); print(version); print('\\n'.join(f'{n}\\t{g}' for n, g in rows))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    version, _, rows = result.stdout.partition("\n")
    assert f"drug-named-entity-recognition {version}" in shipped
    assert rows.splitlines() == [line for line in shipped.splitlines() if line and not line.startswith("#")]


def test_every_statement_keeps_its_reason() -> None:
    statements = extract_statements([Block("Kiss your blood-pressure pills goodbye with HeartRise."),
                                     Block("These statements have not been evaluated by the Food and Drug "
                                           "Administration.")])
    assert statements and all(s.rule and s.matched for s in statements)
    reasons = [describe_reason(s.rule, s.matched) for s in statements]
    assert reasons[-1].startswith("rule dshea_")
    assert all(reasons)


def test_export_and_report_show_the_reason(run_cli, sqlite_url, site_server, tmp_path) -> None:
    from crawlkit import crawl, setup_site

    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text(
        "<html><body><p>Kiss your blood-pressure pills goodbye with HeartRise.</p>"
        "<p>Supports healthy circulation.*</p></body></html>", encoding="utf-8")
    server = site_server(site)
    setup_site(run_cli, sqlite_url, "heart", f"{server.url}/")
    crawl(run_cli, sqlite_url)
    exported = run_cli("export", "--format", "json", "--site", "heart", db=sqlite_url)
    assert exported.exit_code == 0, exported.stderr
    (page,) = json.loads(exported.stdout)["pages"]
    assert page["statements"] and all(s["reason"] for s in page["statements"])
    csv_out = run_cli("export", "--format", "csv", "--site", "heart", db=sqlite_url)
    assert csv_out.stdout.splitlines()[0].endswith(",reason")


def test_extractor_version_names_the_model() -> None:
    assert extractor_version().endswith(load_model().version)


def test_training_is_deterministic() -> None:
    pages = [p for p in own_pages(ROOT / "tests" / "corpus") if p.split == "train"]
    examples = corpus_examples(pages)
    first, second = fit(examples), fit(examples)
    assert first.version == second.version
    assert (first.coef == second.coef).all() and (first.intercept == second.intercept).all()
    assert first.hidden_coef is not None and second.hidden_coef is not None
    assert (first.hidden_coef == second.hidden_coef).all() and (first.output_coef == second.output_coef).all()


def test_the_shipped_model_is_what_the_corpus_trains() -> None:
    """The shipped model's version is the hash of the train split's examples (tokens and labels) and the training
    parameters: labelled data, features or parameters changed without retraining fail here. That this data
    trains the shipped arrays bit for bit is ``scripts/train_model.py --check``, a full retraining (~1.5-3 min)
    that CI runs after the test suite (.ci/run); ``test_training_is_deterministic`` fits twice on part of it."""
    pages = [page for page in corpus_pages() if page.split == "train"]
    assert pages and all(page.source != "seed" for page in pages)
    version = data_version(corpus_examples(pages), dict(PARAMETERS))
    assert version == load_model().version, (
        f"the shipped model ({load_model().version}) is not what tests/corpus trains ({version}): "
        "run scripts/train_model.py")


def test_the_blind_test_split_is_fixed() -> None:
    # the split is a salted hash of the page id: it never depends on what a page says
    assert [blind_split(f"w1_p{n:02d}") for n in range(1, 6)] == [blind_split(f"w1_p{n:02d}") for n in range(1, 6)]
    # (counts only: a failure must not print a test page)
    splits = {p.name: p.split for p in corpus_pages() if p.source == "blind"}
    hashed = [split for name, split in splits.items() if int(name[1:].split("_")[0]) < TRAIN_ONLY_FROM_WRITER]
    share = hashed.count("test") / len(hashed)
    assert 0.3 <= share <= 0.5, share
    # batches commissioned as training data never join the test split, whatever their hash says
    assert blind_split("w60_p01") == blind_split("w60_p03") == "train"  # both would be test by hash
    later = [split for name, split in splits.items() if int(name[1:].split("_")[0]) >= TRAIN_ONLY_FROM_WRITER]
    assert later and set(later) == {"train"}
    tests = list(splits.values()).count("test")
    assert tests == 118, f"the test split changed ({tests} pages): the figures that count are on a fixed split"


def test_training_pins_blas_kernels_only_where_they_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped model was fitted with OpenBLAS's Haswell kernels: on a CPU with AVX-512 OpenBLAS would pick
    others and the check above would fail by rounding alone. An explicit choice is left alone."""
    from monitor.extract.training import pin_blas_kernels

    monkeypatch.setenv("OPENBLAS_CORETYPE", "Sandybridge")
    pin_blas_kernels()
    assert os.environ["OPENBLAS_CORETYPE"] == "Sandybridge"
    monkeypatch.delenv("OPENBLAS_CORETYPE")
    pin_blas_kernels()
    flags = Path("/proc/cpuinfo").read_text().split() if Path("/proc/cpuinfo").exists() else []
    assert os.environ.get("OPENBLAS_CORETYPE") == ("Haswell" if {"avx2", "fma"} <= set(flags) else None)
