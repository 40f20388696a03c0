"""The crawl process: ``python -m crawler crawl site -a plan=PLAN -s NAME=VALUE...``.

What ``claimwatch crawl`` runs for each site (``monitor.crawl.crawl_command``): Scrapy's command line,
after starting the crawl's page workers (``CLAIMWATCH_CRAWL_WORKERS``), so that their start-up (imports,
compiled extraction rules) runs while this process is still loading Scrapy instead of competing with the
first downloads. The item pipeline (``pipelines.workers``) adopts them.
"""

from __future__ import annotations

import logging
import os
import sys


def main(argv: list[str]) -> None:
    import gc

    from monitor.processes import die_with_parent

    die_with_parent()  # a killed `claimwatch crawl` takes its crawl (this process group) with it
    # Scrapy allocates ~200 container objects a page and frees nearly all of them itself: at Python's
    # default threshold (a collection every 700 net allocations) the collector ran ~330 times a
    # 1,000-page crawl, its full collections walking every object Scrapy and Twisted had loaded (~0.3 s of
    # CPU); every 50,000, a crawl collects a few times. The page workers do the same (pipelines/chain.py).
    gc.set_threshold(50_000, 20, 20)
    from monitor.config import ConfigError, load_settings

    try:
        workers = load_settings().crawl_workers
    except ConfigError:
        workers = 0  # the pipeline reports the bad setting
    if workers > 0 and os.name == "posix":
        from pipelines.chain import PRELOAD
        from pipelines.pagepool import prestart

        prestart(workers, PRELOAD)
    from scrapy.cmdline import execute

    from pipelines.pageworker import status_of

    status = status_of(execute, ["scrapy", *argv])  # Scrapy's command line ends with SystemExit
    # The crawl is over (the reactor stopped, the page workers reaped): end without the interpreter's
    # teardown, which frees Scrapy's and Twisted's objects one by one while `claimwatch crawl` waits.
    logging.shutdown()  # the crawl's log file
    os._exit(status)

if __name__ == "__main__":
    main(sys.argv[1:])
