"""docs/ARCHITECTURE.md's layout names every module of every package, under its own package."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bmc", "sensors", "launchers", "protocols", "hil")


def _layout() -> dict[str, str]:
    """The layout block's text per top-level package (from its line to the next package's)."""
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    block = text.split("## Layout", 1)[1].split("```")[1]
    parts = re.split(r"^(\w+)/ ", block, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def _modules(package: str) -> list[Path]:
    return sorted(
        p
        for p in (ROOT / package).rglob("*.py")
        if "generated" not in p.parts and not (p.name == "__init__.py" and p.parent.name == package)
    )


def test_every_module_is_named_in_its_package_s_part_of_the_layout() -> None:
    layout = _layout()
    assert set(PACKAGES) <= set(layout), sorted(layout)
    missing = []
    for package in PACKAGES:
        for module in _modules(package):
            # A sub-package by its folder name, a module by its file name.
            name = f"{module.parent.name}/" if module.name == "__init__.py" else module.name
            if not re.search(rf"(?<![\w.]){re.escape(name)}", layout[package]):
                missing.append(str(module.relative_to(ROOT)))
    assert not missing, f"not in docs/ARCHITECTURE.md's layout: {missing}"


def test_the_layout_names_no_module_that_is_gone() -> None:
    layout = _layout()
    gone = []
    for package in PACKAGES:
        names = {p.name for p in _modules(package)} | {f"{p.parent.name}/" for p in _modules(package)}
        for named in re.findall(r"(?<![\w./])(\w+\.py)\b", layout[package]):
            if named not in names:
                gone.append(f"{package}: {named}")
    assert not gone, f"named in docs/ARCHITECTURE.md's layout but not in the tree: {gone}"
