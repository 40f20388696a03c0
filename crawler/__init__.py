"""claimwatch's Scrapy project: the site spider, its middlewares and the PageItem contract."""
