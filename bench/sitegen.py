"""Generate a large, realistic supplement-seller site for the benchmarks.

``generate_site(root, pages=1000)`` writes an invented shop, "Brightmere Naturals", under ``root/shop/``: a
sitemap-like index at ``/shop/`` linking to every page, and ``pages - 1`` product, advertorial and FAQ pages
of about 50 KB each. Every page has a header nav, related-product links (40 to 130 links in all, mostly inside
``/shop/``, some with ``utm_*`` parameters or ``#fragments``, a few to ``/cart/``, ``/account/`` and other
hosts), product copy built from sentence templates (structure/function, efficacy, clinical, authority and the
odd disease claim), a money-back guarantee, testimonials, an FAQ, inline scripts and a footer with the DSHEA
and other disclaimers. Every page also holds noise placeholders and a ``<!-- shuffle -->`` block for
``monitor.siteserver``. ``robots.txt`` disallows ``/cart/`` and ``/account/``.

Serve with ``SiteServer(root)`` and crawl from ``{url}/shop/`` with ``allow: ["/shop/"]``.

Command line: ``python bench/sitegen.py DIR [--pages N] [--seed N]`` prints the number of pages written.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable
from pathlib import Path

PREFIX = "/shop/"
TARGET_BYTES = 50_000
TEXT_BYTES = 20_000  # visible copy per page; real shop pages are mostly markup, scripts and styles

BRAND = "Brightmere Naturals"
PRODUCT_NOUNS = [
    "Joint Ease", "Night Calm", "Gut Harmony", "Focus Bloom", "Heart Steady", "Vital Greens", "Bone Shield",
    "Sugar Balance", "Liver Renew", "Prostate Guard", "Vision Clear", "Immune Crest", "Calm Mind",
    "Energy Rise", "Skin Glow", "Leg Comfort", "Deep Rest", "Metabolic Fire", "Breath Easy", "Mood Lift",
]  # fmt: skip
FORMS = ["capsules", "gummies", "softgels", "powder", "tablets", "drops", "chewables"]
INGREDIENTS = [
    "magnesium glycinate", "turmeric root", "ashwagandha", "vitamin D3", "vitamin K2", "zinc picolinate",
    "L-theanine", "lemon balm", "saw palmetto", "milk thistle", "berberine", "chromium picolinate",
    "lutein", "zeaxanthin", "elderberry", "probiotic blend", "ginger root", "boswellia", "collagen peptides",
    "coenzyme Q10", "omega-3 fish oil", "beetroot powder", "green tea extract", "rhodiola", "valerian root",
    "quercetin", "N-acetyl cysteine", "bacopa", "hyaluronic acid", "potassium citrate",
]  # fmt: skip
BODY_PARTS = [
    "joints", "muscles", "digestion", "focus", "heart", "bones", "blood sugar", "liver", "prostate", "eyes",
    "immune system", "mood", "energy", "skin", "circulation", "sleep", "metabolism", "lungs", "memory",
]  # fmt: skip
DISEASES = [
    "arthritis", "diabetes", "high blood pressure", "insomnia", "osteoporosis", "fatty liver",
    "macular degeneration", "neuropathy", "migraines", "restless legs syndrome", "IBS",
]  # fmt: skip
NAMES = [
    "Marta", "Glen", "Aisha", "Ruben", "Colleen", "Ivan", "Noor", "Bernie", "Fumiko", "Dwayne", "Paz", "Olga",
    "Tariq", "Wendell", "Greta", "Luis", "Patrice", "Hank", "Sunita", "Eamon",
]  # fmt: skip
STATES = ["Ohio", "Texas", "Oregon", "Maine", "Iowa", "Nevada", "Florida", "Vermont", "Utah", "Kansas"]

SF_CLAIMS = [
    "Supports healthy {part} as part of your daily routine.*",
    "Helps maintain normal {part} function with {ing}.*",
    "Promotes comfortable {part} after a long day on your feet.*",
    "Nourishes your {part} with {ing} and {ing2}.*",
    "May help support balanced {part} when life gets busy.*",
    "Formulated to support {part} and overall wellbeing.*",
]
EFFICACY = [
    "The most powerful {part} formula we have ever made.",
    "Customers notice results in as little as {n} days.",
    "The only {form} that combines {ing} with {ing2}.",
    "Works fast, with no side effects.",
    "Maximum strength {ing} for visible results.",
]
CLINICAL = [
    "Clinically proven to support {part} in {n} days.",
    "Backed by {n} published studies on {ing}.",
    "Studies show {ing} supports healthy {part}.",
]
AUTHORITY = [
    "Recommended by Dr. {name} Whitlow, a board-certified physician.",
    "Made in an FDA-registered facility in the United States.",
    "Third-party tested and GMP certified.",
]
SOCIAL = [
    "Over {big} bottles sold since 2012.",
    "Rated 4.{d} stars by {big} verified buyers.",
    "Voted the #1 {part} supplement by our newsletter readers.",
]
DISEASE = [
    "Helps reverse {disease} naturally, without a prescription.",
    "Doctors are stunned: {ing} may ease {disease} in weeks.",
    "A natural alternative to {disease} medication.",
]
FACTS = [
    "{Ing} has been used in traditional diets for generations.",
    "Your {part} depend on a steady supply of nutrients from food.",
    "Most adults eat fewer leafy greens, nuts and seeds than nutrition guidelines suggest.",
    "Hydration, sleep and movement all play a part in how your {part} feel.",
    "{Ing} is found in small amounts in many everyday foods.",
    "Each batch is tested for identity and purity before it is bottled.",
    "Store in a cool, dry place away from direct sunlight.",
    "Take with a glass of water and a meal unless your doctor advises otherwise.",
]
STORY = [
    "When we started {brand}, we wanted {form} we would give our own parents.",
    "We visit our growers every season and test every lot of {ing} we buy.",
    "Our formulators spent two years balancing {ing} and {ing2} for this blend.",
    "Every bottle is packed by hand in our facility and shipped within one business day.",
    "We print the exact amount of every ingredient on the label: no proprietary blends.",
    "Thousands of customers wrote to us about their {part}, and this formula is our answer.",
]
TESTIMONIALS = [
    '"My {part} feel better than they have in years." &mdash; {name}, {state}',
    '"I was skeptical, but after {n} days I noticed the difference." &mdash; {name}, {state}',
    '"Finally a {form} that does not upset my stomach." &mdash; {name}, {state}',
    '"I recommend it to everyone in my walking group." &mdash; {name}, {state}',
    '"My doctor could not believe my {disease} results." &mdash; {name}, {state}',
    '"Easy to take and the customer service is lovely." &mdash; {name}, {state}',
]
GUARANTEES = [
    "Try it for {days} days. If you are not delighted, return the bottles, even empty, for a full refund.",
    "{days}-day money-back guarantee: full refund of the purchase price, less shipping.",
    "Backed by our {days}-day risk-free guarantee. Unopened bottles only; a 10% restocking fee applies.",
    "100% satisfaction guaranteed, or your money back within {days} days, no questions asked.",
    "Lifetime empty-bottle guarantee: love it or your money back, for life.",
]
FAQS = [
    ("How should I take {product}?", "Take two {form} daily with food, or as directed by your physician."),
    ("When will I notice results?", "Many customers report a difference within {n} days. Results vary."),
    ("Is {product} safe with medication?", "Ask your doctor before use if you take any prescription drug."),
    ("Where is it made?", "In our own facility, using {ing} from trusted suppliers."),
    ("How does shipping work?", "Orders ship within one business day; shipping is free on three bottles."),
    ("Can I cancel my subscription?", "Yes, any time from your account page or by calling us."),
    ("Is it vegan?", "The {form} contain no animal products unless stated on the label."),
]
FOOTER = """<footer class="site-footer">
<p class="dshea">* These statements have not been evaluated by the Food and Drug Administration.
This product is not intended to diagnose, treat, cure, or prevent any disease.</p>
<p>Individual results may vary. Testimonials are from customers who bought our products.</p>
<p>Consult your physician before using any supplement if you are pregnant, nursing, taking medication
or have a medical condition. Keep out of reach of children.</p>
<p>The information on this site is for educational purposes only and is not a substitute for medical
advice.</p>
<p>&copy; 2024 Brightmere Naturals &middot; <a href="/shop/#contact">Contact</a> &middot;
<a href="/account/">My account</a> &middot; <a href="https://social.example/brightmere">Follow us</a></p>
<p class="build">Rendered {{noise:timestamp}} &middot; request {{noise:token}}</p>
</footer>"""
STYLE = (
    "<style>\n"
    + "\n".join(
        f".c{i}{{margin:{i % 7}px {i % 11}px;padding:{i % 5}px;color:#{(i * 2654435761) % 0xFFFFFF:06x}}}"
        for i in range(60)
    )
    + "\n</style>"
)


def _page_name(index: int, pages: int) -> str:
    """The URL path of page ``index`` (0 is the index page)."""
    if index == 0:
        return PREFIX
    kind = "faq" if index % 17 == 3 else "article" if index % 5 == 2 else "product"
    return f"{PREFIX}{kind}-{index:04d}.html"


class _Writer:
    """Builds one page's HTML from templates with a seeded random source."""

    def __init__(self, rng: random.Random, paths: list[str]) -> None:
        self.rng = rng
        self.paths = paths

    def fill(self, template: str, product: str) -> str:
        rng = self.rng
        ing = rng.choice(INGREDIENTS)
        values: dict[str, str] = {
            "part": rng.choice(BODY_PARTS),
            "ing": ing,
            "Ing": ing[0].upper() + ing[1:],
            "ing2": rng.choice(INGREDIENTS),
            "form": rng.choice(FORMS),
            "n": str(rng.randint(7, 90)),
            "big": f"{rng.randint(10, 990) * 1000:,}",
            "d": str(rng.randint(5, 9)),
            "name": rng.choice(NAMES),
            "state": rng.choice(STATES),
            "disease": rng.choice(DISEASES),
            "days": str(rng.choice([30, 60, 90, 180, 365])),
            "product": product,
            "brand": BRAND,
        }
        return template.format(**values)

    def link(self, path: str, label: str) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.08:
            path += f"?utm_source=site&amp;utm_medium=related&amp;utm_content=s{rng.randint(1, 40)}"
        elif roll < 0.14:
            path += rng.choice(["#reviews", "#faq", "#ingredients", "#guarantee"])
        return f'<a href="{path}">{label}</a>'

    def nav(self, index: int) -> str:
        rng, paths = self.rng, self.paths
        total = rng.randint(40, 130)
        items = [f"<li>{self.link(PREFIX, 'Shop all')}</li>"]
        # the next pages keep every page reachable even without the index
        for step in range(1, 6):
            target = (index + step) % len(paths)
            items.append(f"<li>{self.link(paths[target], f'More {step}')}</li>")
        while len(items) < total - 4:
            target = rng.randrange(len(paths))
            label = f"{rng.choice(PRODUCT_NOUNS)} {rng.choice(FORMS)}"
            items.append(f"<li>{self.link(paths[target], label)}</li>")
        items += [
            '<li><a href="/cart/">Cart</a></li>',
            '<li><a href="/account/login">Sign in</a></li>',
            '<li><a href="https://help.example/brightmere">Help centre</a></li>',
        ]
        return '<nav class="menu"><ul>\n' + "\n".join(items) + "\n</ul></nav>"

    def paragraph(self, product: str, pools: list[list[str]], sentences: int) -> str:
        pool = [t for p in pools for t in p]
        return "<p>" + " ".join(self.fill(self.rng.choice(pool), product) for _ in range(sentences)) + "</p>"

    def page(self, index: int) -> str:
        rng = self.rng
        product = f"{rng.choice(PRODUCT_NOUNS)} {rng.choice(FORMS).title()}"
        parts: list[str] = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{product} | {BRAND}</title>",
            f'<meta name="description" content="{self.fill(rng.choice(SF_CLAIMS), product)}">',
            STYLE,
            "<script>window.dataLayer=window.dataLayer||[];"
            'dataLayer.push({"event":"view","page":' + str(index) + ',"csrf":"{{noise:token}}"});</script>',
            '<script type="application/ld+json">{"@type":"Product","name":"'
            + product
            + '","offers":{"price":"{{noise:price}}"}}</script>',
            "</head><body>",
            '<div class="promo">Free shipping today &middot; {{noise:counter}} people are viewing '
            + product
            + "</div>",
            f'<header><a href="{PREFIX}">{BRAND}</a></header>',
            self.nav(index),
            '<div id="cookie-consent" class="cookie-banner">We use cookies for analytics and ads. '
            "<button>Accept</button></div>",
            f'<main class="c{index % 60}">',
            f"<h1>{product}</h1>",
            '<p class="price">Today only: {{noise:price}} &middot; only {{noise:counter}} left</p>',
            self.paragraph(product, [SF_CLAIMS, EFFICACY, FACTS], 4),
            '<ul class="benefits">',
        ]
        parts += [f"<li>{self.fill(rng.choice(SF_CLAIMS), product)}</li>" for _ in range(rng.randint(3, 6))]
        parts.append("</ul>")
        if rng.random() < 0.15:
            parts.append(f'<p class="bold">{self.fill(rng.choice(DISEASE), product)}</p>')
        guarantee = self.fill(rng.choice(GUARANTEES), product)
        parts.append(f'<section id="guarantee"><h2>Our promise</h2><p>{guarantee}</p></section>')
        parts.append('<section id="reviews"><h2>Reviews</h2>\n<!-- shuffle -->')
        parts += [
            f'<blockquote class="review">{self.fill(rng.choice(TESTIMONIALS), product)}</blockquote>'
            for _ in range(rng.randint(4, 8))
        ]
        parts.append("<!-- /shuffle -->\n</section>")
        parts.append('<section id="faq"><h2>Questions</h2>')
        for question, answer in rng.sample(FAQS, 4):
            parts.append(f"<h3>{self.fill(question, product)}</h3><p>{self.fill(answer, product)}</p>")
        parts.append("</section>")
        size = sum(len(p) for p in parts) + len(FOOTER) + 40
        goal = TARGET_BYTES + rng.randint(-4000, 4000)
        # visible copy up to ~TEXT_BYTES, then the markup that makes up most of a real shop page:
        # product cards with image attributes, an icon sprite and the theme's product JSON
        text_goal = TEXT_BYTES + rng.randint(-2000, 2000)
        section = 0
        while size < text_goal:
            section += 1
            heading = self.fill(rng.choice(FACTS), product)
            block = [f'<section class="c{(index + section) % 60}"><h2>{heading}</h2>']
            block += [
                self.paragraph(product, [FACTS, STORY, SF_CLAIMS, CLINICAL, AUTHORITY, SOCIAL, EFFICACY], 5)
                for _ in range(2)
            ]
            block.append("</section>")
            size += sum(len(p) + 1 for p in block)
            parts += block
        markup = [_card_grid(rng, index), ICON_SPRITE]
        size += sum(len(p) + 1 for p in markup)
        parts += markup
        if size < goal:
            parts.append(_theme_json(rng, index, goal - size))
        parts += ["</main>", FOOTER, "</body></html>"]
        return "\n".join(parts) + "\n"


ICON_SPRITE = (
    '<svg xmlns="http://www.w3.org/2000/svg" style="display:none">'
    + "".join(
        f'<symbol id="icon-{name}" viewBox="0 0 24 24"><path d="M{n} 2.5l2.9 5.9 6.5.9-4.7 4.6 1.1 6.5L12 '
        f'17.3l-5.8 3.1 1.1-6.5L2.6 9.3l6.5-.9L12 2.5z M{n}.5 {n}h3v3h-3z" fill="currentColor"/></symbol>'
        for n, name in enumerate(("star", "cart", "user", "search", "close", "menu", "leaf", "truck", "shield",
                                  "heart", "chat", "gift", "check", "arrow", "plus", "minus"), start=1)
    )
    + "</svg>"
)


def _card_grid(rng: random.Random, index: int) -> str:
    """A 'you may also like' grid: the attribute-heavy markup of theme product cards."""
    cards = []
    for slot in range(8):
        number = (index + slot * 37) % 997 + 1
        cards.append(
            f'<div class="card card--product grid__item" data-product-id="{7_000_000 + number}" '
            f'data-variant-id="{40_000_000 + number * 13}" data-collection="best-sellers">'
            f'<div class="card__media"><img class="motion-reduce" loading="lazy" width="533" height="533" '
            f'alt="" src="/cdn/shop/files/p{number}_533x.jpg?v=17{number:04d}" '
            f'srcset="/cdn/shop/files/p{number}_165x.jpg?v=1 165w, /cdn/shop/files/p{number}_360x.jpg?v=1 360w, '
            f'/cdn/shop/files/p{number}_533x.jpg?v=1 533w" sizes="(min-width: 990px) 25vw, 50vw"></div>'
            f'<div class="card__rating"><svg class="icon"><use href="#icon-star"></use></svg></div>'
            f'<button type="button" class="quick-add__submit button button--full-width" '
            f'aria-label="Add to cart" data-qty="{rng.randint(1, 3)}"></button></div>'
        )
    return '<div class="product-grid grid grid--4-col-desktop" role="list">' + "".join(cards) + "</div>"


def _theme_json(rng: random.Random, index: int, size: int) -> str:
    """The theme's inline product JSON (variants, inventory policy...): not visible text."""
    variants = []
    length = 0
    number = 0
    while length < size - 80:
        number += 1
        item = (
            f'{{"id":{41_000_000 + index * 100 + number},"title":"{number * 30} count","option1":"{number * 30}",'
            f'"sku":"BM-{index:04d}-{number:03d}","requires_shipping":true,"taxable":true,'
            f'"inventory_policy":"deny","weight":{rng.randint(80, 400)},"barcode":"{rng.randint(10**11, 10**12)}"}}'
        )
        variants.append(item)
        length += len(item) + 1
    return ('<script type="application/json" id="ProductJson-' + str(index) + '">{"variants":['
            + ",".join(variants) + "]}</script>")


def generate_site(root: Path, pages: int = 1000, *, seed: int = 0) -> list[str]:
    """Write a ``pages``-page seller site under ``root`` and return its URL paths, index first.

    Example: ``paths = generate_site(tmp_path, 1000)``; crawl ``server.url + paths[0]`` with
    ``allow: ["/shop/"]``.
    """
    if pages < 1:
        raise ValueError("pages must be at least 1")
    rng = random.Random(seed)
    paths = [_page_name(i, pages) for i in range(pages)]
    shop = root / PREFIX.strip("/")
    shop.mkdir(parents=True, exist_ok=True)
    robots = "User-agent: *\nDisallow: /cart/\nDisallow: /account/\n"
    (root / "robots.txt").write_text(robots, encoding="utf-8")
    writer = _Writer(rng, paths)
    for index in range(1, pages):
        (root / paths[index].lstrip("/")).write_text(writer.page(index), encoding="utf-8")
    (shop / "index.html").write_text(_sitemap(paths, writer.fill), encoding="utf-8")
    return paths


def _sitemap(paths: list[str], fill: Callable[[str, str], str]) -> str:
    links = "\n".join(f'<li><a href="{path}">Page {i}</a></li>' for i, path in enumerate(paths) if i)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>All products | {BRAND}</title></head>
<body>
<h1>{BRAND}: every product and article</h1>
<p>{fill(SF_CLAIMS[0], "Brightmere")}</p>
<p>Updated {{{{noise:timestamp}}}}</p>
<ul>
{links}
</ul>
{FOOTER}
</body></html>
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate a benchmark seller site.")
    parser.add_argument("root", type=Path)
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    paths = generate_site(args.root, args.pages, seed=args.seed)
    print(len(paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
