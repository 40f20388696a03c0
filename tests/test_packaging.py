"""The distribution carries what a plain (non-editable) install needs: migrations, templates, demo sites."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_wheel_carries_migrations_templates_and_demo_sites(tmp_path: Path) -> None:
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w",
         str(tmp_path), str(REPO)],
        capture_output=True, text=True, timeout=300,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next(tmp_path.glob("claimwatch-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    data = next(n.split("/")[0] for n in names if ".data/" in n)
    share = f"{data}/data/share/claimwatch"
    for path in REPO.joinpath("alembic", "versions").glob("*.py"):
        assert f"{share}/alembic/versions/{path.name}" in names
    for path in REPO.joinpath("templates").rglob("*"):  # the web app's in templates/web/ too
        if path.is_file():
            assert f"{share}/templates/{path.relative_to(REPO / 'templates').as_posix()}" in names
    assert {f"{share}/alembic.ini", f"{share}/alembic/env.py", f"{share}/alembic/script.py.mako"} <= names
    assert "monitor/demo_sites/watchlist.yaml" in names
    assert any(n.startswith("monitor/demo_sites/v2/calmleg/") for n in names)
    assert {"crawler/settings.py", "crawler/__main__.py", "crawler/process.py", "pipelines/store.py",
            "pipelines/services.py", "monitor/cli/__init__.py"} <= names
