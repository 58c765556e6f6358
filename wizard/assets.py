"""Where the shipped assets (templates, terraform configuration, styles) are.

In a wheel they are packaged inside ``wizard/assets``; in a source checkout or an editable
install they are the top-level ``assets/`` directory beside ``wizard/``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path


class AssetsMissing(RuntimeError):
    """The installation is incomplete."""


@cache
def root() -> Path:
    package = Path(__file__).resolve().parent
    for candidate in (package / "assets", package.parent / "assets"):
        if (candidate / "templates").is_dir():
            return candidate
    raise AssetsMissing(
        f"analytics-wizard's assets are missing (looked in {package / 'assets'} and "
        f"{package.parent / 'assets'}); reinstall the package"
    )


def path(*parts: str) -> Path:
    return root().joinpath(*parts)


def text(*parts: str) -> str:
    return path(*parts).read_text(encoding="utf-8")
