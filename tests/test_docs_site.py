"""The docs site builds strictly, and README leads to every page of it in one click."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = (ROOT / "README.md").read_text()
README_MAX_LINES = 250
# Markdown links, inline or to a fragment: [text](target) with no scheme.
LINK = re.compile(r"\]\((?![a-z]+:)([^)\s]+)\)")
# One worker builds the site once, instead of each worker that runs some of its tests.
pytestmark = pytest.mark.xdist_group("docs-site")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`mkdocs build --strict`: a broken link or anchor, or a page left out of nav, fails it."""
    site_dir = tmp_path_factory.mktemp("site")
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    return site_dir


def _pages() -> list[str]:
    return sorted(page.relative_to(ROOT).as_posix() for page in DOCS.rglob("*.md"))


def test_the_site_builds_strictly(site: Path) -> None:
    assert (site / "index.html").is_file()
    for page in _pages():
        built = Path(page).relative_to("docs").with_suffix("")
        html = site / ("index.html" if built.name == "index" else built / "index.html")
        assert html.is_file(), f"{page} was not built"


def test_readme_is_at_most_250_lines() -> None:
    lines = len(README.splitlines())
    assert lines <= README_MAX_LINES, f"README has {lines} lines; move detail into docs/"


def test_readme_links_to_every_docs_page() -> None:
    linked = {target.split("#")[0] for target in LINK.findall(README)}
    missing = [page for page in _pages() if page not in linked]
    assert not missing, f"README does not link to {missing}"


def test_readme_links_lead_somewhere(site: Path) -> None:
    for target in LINK.findall(README):
        path, _, anchor = target.partition("#")
        assert (ROOT / path).exists(), f"README links to a missing {path}"
        if anchor and path.startswith("docs/"):
            html = site / Path(path).relative_to("docs").with_suffix("") / "index.html"
            assert f'id="{anchor}"' in html.read_text(), f"no #{anchor} in {path}"


def test_the_docs_stand_on_their_own() -> None:
    for page in ["README.md", *_pages()]:
        text = (ROOT / page).read_text()
        for outside in ("DESIGN.md", "../shared", "/work/"):
            assert outside not in text, f"{page} refers to {outside}, outside the repository"


def test_every_test_the_guarantees_name_exists() -> None:
    guarantees = (DOCS / "guarantees.md").read_text()
    sources = {path.stem: path.read_text() for path in (ROOT / "tests").glob("test_*.py")}
    for name in set(re.findall(r"\btest_\w+", guarantees)):
        assert name in sources or any(
            re.search(rf"def {name}", source) for source in sources.values()
        ), f"docs/guarantees.md names {name}, which no test file defines"
