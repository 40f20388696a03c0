"""The crawl process: ``python -m crawler PLAN.json [PLAN.json ...] --log FILE`` (``crawler.process``)."""

from __future__ import annotations

import sys

from crawler.process import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
