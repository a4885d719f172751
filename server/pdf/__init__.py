"""Enforcement documents as PDF: `render(kind, view_model) -> bytes`, from data only.

The view-model contract is README.md in this package.
"""

from .fonts import FontsMissing
from .kinds import KINDS
from .render import AssetError, ViewModelError, render, render_html

__all__ = ["KINDS", "AssetError", "FontsMissing", "ViewModelError", "render", "render_html"]
