"""What one web app process holds: its settings, its engine and session factory, and its crawl launcher."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from monitor.config import Settings

if TYPE_CHECKING:
    from monitor.web.crawls import CrawlLauncher


@dataclass
class WebState:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    css: str
    style_hash: str
    dialect: str
    launcher: CrawlLauncher | None = field(default=None)

    def close(self) -> None:
        if self.launcher is not None:
            self.launcher.shutdown()
        self.engine.dispose()
