"""What of a page counts as shown: hidden markup is dropped, what the reader opens with one click is kept."""

from __future__ import annotations

import pytest

from monitor.extract import analyse_page
from monitor.normalize import html_to_blocks

ACCORDION = """<html><body><main>
<section class="faq-group"><h2>Dosing</h2>
  <div class="faq-item">
    <button class="faq-q" aria-expanded="false" aria-controls="a5">How many capsules should I take?</button>
    <div class="faq-a" id="a5" hidden><p>StoneAway dissolves kidney stones in ten days.</p></div>
  </div>
  <div id="tab-2" role="tabpanel" hidden><p>Our 60-day money-back guarantee covers every order.</p></div>
</section>
</main></body></html>"""


def test_an_accordion_answer_and_a_tab_panel_waiting_to_be_opened_are_read() -> None:
    """A claim in a collapsed FAQ answer is on the page: one click shows it (an analyst's case)."""
    texts = " ".join(block.text for block in html_to_blocks(ACCORDION))
    assert "dissolves kidney stones" in texts and "60-day money-back guarantee" in texts
    statements = analyse_page(ACCORDION).statements
    assert ("claim", "disease") in {(s.kind, s.type) for s in statements}
    assert any(s.kind == "guarantee" and s.attributes.get("days") == 60 for s in statements)


@pytest.mark.parametrize(
    "markup",
    [
        '<div hidden><p>Cures arthritis in a week.</p></div>',
        '<div class="variant-data" hidden><p>Cures arthritis in a week.</p></div>',
        '<div class="faq-a" aria-hidden="true"><p>Cures arthritis in a week.</p></div>',
        '<div class="faq-a" hidden style="display:none"><p>Cures arthritis in a week.</p></div>',
        '<div style="visibility: hidden"><p>Cures arthritis in a week.</p></div>',
        '<div class="d-none"><p>Cures arthritis in a week.</p></div>',
    ],
)
def test_markup_that_is_never_shown_is_not_read(markup: str) -> None:
    blocks = html_to_blocks(f"<html><body><main><p>Visible.</p>{markup}</main></body></html>")
    assert [block.text for block in blocks] == ["Visible."]


@pytest.mark.parametrize(("html", "lines"), [
    # a row of badges: one line each, as the browser shows them
    ('<div class="badges"><span>Doctor Formulated</span> <span>GMP Certified</span> <span>Vegan</span> '
     '<span>4.8\u2605 from 12,400+ reviews</span></div>',
     ["Doctor Formulated", "GMP Certified", "Vegan", "4.8\u2605 from 12,400+ reviews"]),
    # one sentence split over spans stays one line
    ('<div><span>Our formula</span> <span>reverses</span> <span>arthritis in weeks</span></div>',
     ["Our formula reverses arthritis in weeks"]),
    # a headline in spans stays one headline; inline emphasis inside a sentence stays in it
    ('<h1><span>Reverse Arthritis</span> <span>Naturally</span> <span>In Days</span></h1>',
     ["Reverse Arthritis Naturally In Days"]),
    ('<p><b>Save 20%</b> today on <i>all</i> orders</p>', ["Save 20% today on all orders"]),
])
def test_a_row_of_badges_is_read_as_lines(html: str, lines: list[str]) -> None:
    assert [block.text.split("\n") for block in html_to_blocks(html)] == [lines]


def test_each_badge_of_a_row_is_a_statement_of_its_own() -> None:
    page = ('<html><body><div class="badges"><span>Made in an FDA-Registered Facility</span> '
            '<span>Doctor Formulated</span> <span>Rated 4.9 by 8,200 buyers</span></div></body></html>')
    statements = analyse_page(page).statements
    assert [s.text for s in statements] == ["Made in an FDA-Registered Facility", "Doctor Formulated",
                                            "Rated 4.9 by 8,200 buyers"]
    assert [s.type for s in statements][-1] == "social_proof"
