"""The text a Textual SVG screenshot shows, line by line, for assertions on what is visible.

Rich splits a line into one <text> element per style run and writes spaces as &#160;, so a
phrase (or a secret) may be cut across elements: search the rebuilt lines, never the raw SVG.
"""

from __future__ import annotations

import html
import re

CELL = 12.2  # width of one terminal cell in Rich's SVG export
TEXT = re.compile(
    r'<text class="[^"]*" x="([\d.]+)" y="[\d.]+" textLength="[\d.]+" '
    r'clip-path="url\(#[\w-]+-line-(\d+)\)">([^<]*)</text>'
)


def svg_text(svg: str) -> str:
    rows: dict[int, dict[int, str]] = {}
    for x, line, text in TEXT.findall(svg):
        rows.setdefault(int(line), {})[round(float(x) / CELL)] = html.unescape(text)
    lines = []
    for number in sorted(rows):
        line = ""
        for column, text in sorted(rows[number].items()):
            line = line.ljust(column) + text
        lines.append(line.replace("\xa0", " ").rstrip())
    return "\n".join(lines)
