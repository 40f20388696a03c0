"""Review cards as shops and marketplaces mark them up: a byline is the reviewer, not a statement; the parts of
a card ("review-text", "review-meta") stay in its group; marketplace buttons are nothing; and the seller's
small print in a review wall (results vary, free product for a review) stands apart from the customer's
words as a disclaimer."""

from __future__ import annotations

import pytest

from monitor.extract import analyse_page, extract_statements
from monitor.extract.segmentation import _comment_meta, byline, segment
from monitor.normalize import html_to_blocks

SHOP_WALL = """<html><body><h2>Reviews</h2>
<article class="card"><div class="stars">\u2605\u2605\u2605\u2605\u2605</div><div class="title">Calm evenings</div>
<p class="quote">I stopped pacing the kitchen at night after about ten days on the drops.</p>
<div class="meta">Orla P. &middot; March 3, 2025 &middot; <span class="verified">Verified Buyer</span></div>
</article>
<article class="card"><div class="stars">\u2605\u2605\u2605\u2605\u2606</div><div class="title">Good value</div>
<p class="quote">My afternoon slump is gone and I no longer reach for a third coffee.</p>
<div class="meta">Theo W. &middot; Verified Buyer &middot; 4 days ago</div>
</article>
</body></html>"""

MARKETPLACE_CARD = """<html><body><div class="reviews">
<div class="review"><div class="profile">Wren S.</div>
<div><span class="stars">\u2605\u2605\u2605\u2605\u2605</span> <b>Easier mornings</b></div>
<div class="small">Reviewed in the United States on May 2, 2025</div>
<div class="small">Vine Customer Review of Free Product</div>
<div class="review-text">Flavor: Lemon | Size: 90 Count Verified Purchase My knees no longer creak on the stairs
after a month of these.</div>
<div class="small">31 people found this helpful</div>
<div class="small"><button>Helpful</button> Report</div>
</div></div></body></html>"""

SMALL_PRINT = """<html><body><section class="testimonials"><h2>Stories from our community</h2>
<blockquote>"Six weeks in, my joints feel ten years younger." - Bea L.</blockquote>
<blockquote>Individual results may vary. Some reviewers received a free jar in exchange for an honest review.
</blockquote></section></body></html>"""


def test_a_byline_after_the_quote_is_its_reviewer_not_a_statement() -> None:
    statements = extract_statements(html_to_blocks(SHOP_WALL))
    testimonials = [s for s in statements if s.type == "testimonial"]
    assert [s.attributes.get("reviewer") for s in testimonials] == ["Orla P.", "Theo W."]
    assert all(s.attributes.get("verified") is True for s in testimonials)
    assert not any("Verified Buyer" in s.text or "ago" in s.text for s in statements)


def test_a_marketplace_card_keeps_its_parts_together_and_its_notice_apart() -> None:
    statements = extract_statements(html_to_blocks(MARKETPLACE_CARD))
    (quote,) = [s for s in statements if s.type == "testimonial"]
    assert quote.text.startswith("My knees no longer creak")  # the variant line and badge are stripped
    assert quote.attributes["reviewer"] == "Wren S." and quote.attributes["stars"] == 5.0
    assert quote.attributes["title"] == "Easier mornings" and quote.attributes["verified"] is True
    notices = [s for s in statements if s.kind == "disclaimer"]
    assert [(s.type, s.text) for s in notices] == [("other", "Vine Customer Review of Free Product")]
    assert not any(s.text in ("Helpful", "Report") or "found this helpful" in s.text for s in statements)


def test_the_sellers_small_print_in_a_review_wall_is_a_disclaimer_not_a_testimonial() -> None:
    statements = extract_statements(html_to_blocks(SMALL_PRINT))
    assert [(s.kind, s.type) for s in statements] == [
        ("claim", "testimonial"), ("disclaimer", "results_vary"), ("disclaimer", "other")]
    assert statements[2].text.startswith("Some reviewers received a free jar")


@pytest.mark.parametrize(
    "text",
    [
        "Some customers received a complimentary bottle in exchange for an honest review.",
        "Dr. Lane was not paid for her comments.",
        "Paid partnership with Northwind Herbals",
        "Photos are of models; names have been changed to protect privacy.",
        "Reviewer received this product free through the Early Reviewer Program.",
        "Ferncrest is not affiliated with any hospital or clinic.",
    ],
)
def test_endorsement_notices_are_other_disclaimers(text: str) -> None:
    (statement,) = extract_statements(html_to_blocks(f"<p>{text}</p>"))
    assert (statement.kind, statement.type) == ("disclaimer", "other")


@pytest.mark.parametrize(
    ("text", "reviewer"),
    [
        ("Jo K. \u00b7 Verified Buyer \u00b7 2 weeks ago", "Jo K."),
        ("Walt J. \u00b7 \u2714 Verified Buyer \u00b7 1 day ago", "Walt J."),  # a check mark before the badge
        ("Sam D., Leeds | June 4, 2025 | Verified Purchase", "Sam D., Leeds"),
        ("Free shipping \u00b7 30-day returns", None),
        ("Magnesium Glycinate \u00b7 120 capsules", None),
        # commas for separators after a person's name and initial; the place stays with the name
        ("Ifeoma N., verified purchaser", "Ifeoma N."),
        ("Bernard K., Scranton PA, Verified Buyer", "Bernard K., Scranton PA"),
        ("Frank D., Terre Haute, Indiana", None),  # no date, no badge: a signature, not a byline on its own
        # a few words about the reviewer beside the badge or the date
        ("Priya K. \u00b7 Verified Buyer \u00b7 Mom of a 7-year-old", "Priya K."),
        ("Alana T. \u00b7 22 weeks \u00b7 reviewed 4 days ago", "Alana T."),
        ("Dana R. \u00b7 Verified Buyer \u00b7 This changed my life.", None),  # a sentence: the quote's
        ("Dana R. \u00b7 loved it \u00b7 so good", None),  # nothing that makes it a byline
    ],
)
def test_bylines(text: str, reviewer: str | None) -> None:
    found = byline(text)
    assert (found or {}).get("reviewer") == reviewer


COMMENTS = """<html><body><main><article><h1>How I beat my wheeze</h1><p>Our formula supports healthy airways.</p>
</article><section class="comments"><h3>Comments (2)</h3>
<ol class="comment-list"><li class="comment"><article class="comment-body"><footer class="comment-meta">
<div class="comment-author vcard"><b>Linda F.</b></div><div class="comment-metadata">March 3, 2025 at 10:14 am</div>
</footer><div class="comment-content"><p>My husband has not touched his inhaler since March. His lung doctor keeps
asking what he is doing differently!</p></div></article></li>
<li class="comment"><div class="comment-author">Gary M.</div><p>Three bottles in and I have not had a single attack
since Thanksgiving. Used to get one every six weeks like clockwork.</p></li></ol>
<form class="comment-form"><h3>Leave a comment</h3><label>Your comment</label></form></section></main></body></html>"""


def test_a_readers_comment_is_one_testimonial_with_its_author() -> None:
    """A comment under a post (WordPress markup: li.comment, comment-author, comment-metadata, comment-content)
    is a customer's words like a review card: the whole comment is one testimonial, its author the reviewer,
    and neither the date nor the comment form is a statement."""
    found = [(s.type, s.attributes.get("reviewer"), s.text) for s in analyse_page(COMMENTS).statements]
    assert found == [
        ("structure_function", None, "Our formula supports healthy airways."),
        ("testimonial", "Linda F.", "My husband has not touched his inhaler since March. His lung doctor keeps asking "
                                    "what he is doing differently!"),
        ("testimonial", "Gary M.", "Three bottles in and I have not had a single attack since Thanksgiving. Used to "
                                   "get one every six weeks like clockwork."),
    ]


SOCIAL_THREAD = """<html><body><main><p>Our tea calms the gut.</p>
<section class="comments"><h3>Comments</h3>
<div class="cm"><div class="u">juniper.hollow</div><div>this tea ended my IBS flare-ups in a week</div>
<div class="m">2d ago \u00b7 Reply \u00b7 \u2661 311</div></div>
<div class="cm"><div class="u">tom_wilde \u00b7 Creator</div><div>so glad it helped you!!</div>
<div class="m">1d ago \u00b7 Reply \u00b7 \u2661 12</div></div>
<div class="cm"><div class="u">maeve.k</div><div>no more 3am heartburn since I switched</div>
<div class="m">5h ago \u00b7 Reply</div></div>
<div class="more">View more comments</div></section></main></body></html>"""


def test_a_thread_of_comments_under_handles_is_one_quote_per_comment() -> None:
    """A social page's comments ("juniper.hollow", the comment, "2d ago \u00b7 Reply \u00b7 \u2661 311") are cut at each
    handle and each line of metadata: one quote per comment with its commenter, the short ones included
    (a comment has no title), and no counter or "View more comments" inside a quote."""
    quotes = [(s.attributes.get("reviewer"), s.text) for s in analyse_page(SOCIAL_THREAD).statements
              if s.type == "testimonial"]
    assert quotes == [("juniper.hollow", "this tea ended my IBS flare-ups in a week"),
                      ("maeve.k", "no more 3am heartburn since I switched")]
    units = segment(html_to_blocks(SOCIAL_THREAD))
    quoted = [u for u in units if u.testimonial]
    assert [u.text for u in quoted] == ["this tea ended my IBS flare-ups in a week",
                                        "no more 3am heartburn since I switched"]
    assert [(u.card or {}).get("reviewer") for u in quoted] == ["juniper.hollow", "maeve.k"]
    # the creator's reply ("tom_wilde \u00b7 Creator") is the seller's words, not a customer's: a unit of its own,
    # read like any sentence of the seller's (here no statement at all)
    (reply,) = [u for u in units if u.text == "so glad it helped you!!"]
    assert not reply.testimonial and reply.card is None


@pytest.mark.parametrize(("text", "meta"), [
    ("2d ago \u00b7 Reply \u00b7 \u2661 3,118", True), ("18h ago", True), ("\U0001f4cc Pinned", True),
    ("3 weeks ago \u00b7 Like", True), ("Great product \u00b7 5 stars", False), ("I felt it in 2 days", False),
])
def test_comment_metadata_lines(text: str, meta: bool) -> None:
    assert _comment_meta(text) is meta


# review cards whose class names say nothing (a framework's generated names): a row of stars, a title, the
# quote, the byline; and above them the shop's own rating summary and a claim of the seller's
UNNAMED_CARDS = """<html><body><main><h2>Reviews</h2>
<div class="x9f2a"><span>\u2605\u2605\u2605\u2605\u2605</span> 4.8 from 2,140 reviews</div>
<p class="k1">Our drops support restful sleep.</p>
<div class="x1a2b"><div class="x3c4d">\u2605\u2605\u2605\u2605\u2605</div><div class="x5e6f">Quiet at last</div>
<p>Twelve years of ringing in my ears. By week four it had faded. Now I barely notice it at night.</p>
<div class="x7g8h">Walt J. &middot; <span>\u2714 Verified Buyer</span> &middot; 1 day ago</div>
<div class="x9i0j">Shop replied: thank you, Walt!</div></div>
<div class="x1a2b"><div class="x3c4d">\u2605\u2605\u2605\u2605\u2606</div><div class="x5e6f">Slow start</div>
<p>Took a month. Then my afternoons were calmer. I sleep through most nights now.</p>
<div class="x7g8h">Ines R. &middot; Verified Buyer &middot; 3 weeks ago</div></div>
</main></body></html>"""


def test_a_card_its_markup_does_not_name_is_one_quote_with_its_reviewer_stars_and_title() -> None:
    units = segment(html_to_blocks(UNNAMED_CARDS))
    quotes = [unit for unit in units if unit.testimonial]
    assert [unit.text for unit in quotes] == [
        "Twelve years of ringing in my ears. By week four it had faded. Now I barely notice it at night.",
        "Took a month. Then my afternoons were calmer. I sleep through most nights now.",
    ]
    assert [unit.card for unit in quotes] == [
        {"stars": 5.0, "title": "Quiet at last", "reviewer": "Walt J.", "verified": True},
        {"stars": 4.0, "title": "Slow start", "reviewer": "Ines R.", "verified": True},
    ]
    texts = [unit.text for unit in units]
    # the rating summary (not stars alone) opens no card; the seller's claim and reply stay their own units
    assert "Our drops support restful sleep." in texts
    assert "Shop replied: thank you, Walt!" in texts
    assert not any("Verified Buyer" in text or text == "Walt J." for text in texts)


LETTER_CARDS = """<html><body><main>
<h2>Letters From Our Readers</h2>
<div class="letter-card"><div class="stars">\u2605\u2605\u2605\u2605\u2605</div><h3>Back on the Golf Course</h3>
<p>Dear Tallow Farm,</p>
<p>For three winters my knees locked up every morning. Since your capsules came in the post I walk the dog again.</p>
<p class="sig">Edna W., Mankato, Minnesota</p></div>
<div class="card"><div class="stars">\u2605\u2605\u2605\u2605</div>
<p>I take two a day with breakfast and I feel steadier on the stairs.</p>
<p>Harold B.</p></div>
<div class="card"><div class="stars">\u2605\u2605\u2605\u2605\u2605</div><h3>Tallow Joint Formula</h3>
<p>Supports flexible, comfortable joints.</p><p>$29.95</p></div>
</main></body></html>"""


def test_a_card_opened_by_stars_and_signed_by_a_person_is_a_customers_quote() -> None:
    """A card whose class names call no review ("letter-card", "card"): stars alone at its top and a person's
    signature ("Edna W., Mankato, Minnesota") make it a customer's card: one quote, the salutation no title; a
    product tile with stars and no signature stays the seller's."""
    units = segment(html_to_blocks(LETTER_CARDS))
    quotes = [unit for unit in units if unit.testimonial]
    assert [unit.text for unit in quotes] == [
        "For three winters my knees locked up every morning. Since your capsules came in the post I walk the dog "
        "again.",
        "I take two a day with breakfast and I feel steadier on the stairs.",
    ]
    assert [unit.card for unit in quotes] == [
        {"stars": 5.0, "title": "Back on the Golf Course", "reviewer": "Edna W., Mankato, Minnesota"},
        {"stars": 4.0, "reviewer": "Harold B."},
    ]
    texts = [unit.text for unit in units]
    assert "Supports flexible, comfortable joints." in texts  # the product tile: the seller's claim
    assert not any(text.startswith(("Dear Tallow", "Edna W.")) for text in texts)
