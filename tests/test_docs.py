"""The README and docs/ as a reader meets them: the README stays short, every relative
link in them leads somewhere, and the README gives the commands CI runs."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 200  # the project's rule: the detail lives in docs/


def _prose(path: Path) -> str:
    """The page without its fenced code blocks (output shown there is not a link)."""
    return re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.M | re.S)


def _anchors(path: Path) -> set[str]:
    """The anchors GitHub gives the page's headings: lower case, punctuation dropped,
    spaces as hyphens, a repeated heading numbered."""
    seen: dict[str, int] = {}
    anchors = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *#* *$", _prose(path), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _relative_links(path: Path) -> list[str]:
    targets = re.findall(r"\]\(([^)\s]+)(?: \"[^\"]*\")?\)", _prose(path))
    return [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:", t)]  # no https:, mailto:


def test_the_readme_stays_short():
    lines = len(README.read_text(encoding="utf-8").splitlines())
    assert lines <= README_MAX_LINES, (
        f"README.md has {lines} lines, more than {README_MAX_LINES}: move detail into docs/ and link it")


def test_every_page_has_links_to_check():
    assert README in PAGES and len(PAGES) > 2
    assert _relative_links(README), "the README links nothing: the link check checks nothing"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    broken = []
    for link in _relative_links(page):
        target, _, anchor = link.partition("#")
        file = (page.parent / target).resolve() if target else page
        if not file.exists():
            broken.append(f"{link}: no file {file.relative_to(ROOT) if file.is_relative_to(ROOT) else file}")
        elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
            broken.append(f"{link}: no heading with anchor #{anchor} in {file.name}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_the_anchor_rule_matches_githubs():
    page = ROOT / "docs" / "methodology.md"
    anchors = _anchors(page)
    assert "timer-parked-waiters-and-the-famous-1m-tasks-figure" in anchors
    assert "other-interpreters---python" in anchors  # "Other interpreters: `--python`"


def test_the_two_commands_are_near_the_top_and_ci_runs_the_test_one():
    top = README.read_text(encoding="utf-8").splitlines()[:40]
    for command in ("bash scripts/bench.sh", "bash scripts/test.sh"):
        assert any(line.startswith(command) for line in top), f"README's first 40 lines lack {command!r}"
        assert (ROOT / command.split()[1]).is_file()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert "bash scripts/test.sh" in ci  # CI runs the README's test command, as given
