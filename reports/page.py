"""What every HTML page of arbflow is built from: a plotly figure in the house layout,
figures as HTML fragments with plotly.js inlined once per page (so the page opens offline,
nothing is fetched), tables, and the page around them."""

import html
from collections.abc import Iterable
from typing import Any, Final

import plotly.graph_objects as go

STYLE: Final = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;"
                "margin:0.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f4f4f4}"
                "pre{white-space:pre-wrap;font-size:11px;background:#fafafa;padding:1em}")


def figure(title: str, y_title: str, *, height: int = 380) -> go.Figure:
    """An empty figure with the title, the y-axis title and the house layout."""
    made = go.Figure()
    made.update_layout(title=title, yaxis_title=y_title, height=height, margin={"l": 60, "r": 20, "t": 50, "b": 40},
                       template="plotly_white", legend={"orientation": "h"})
    return made


class Figures:
    """The figures of one page as HTML fragments: the first carries plotly.js, inlined; the
    others use it. A `div_id` makes the fragment deterministic (plotly draws a random one)."""

    def __init__(self) -> None:
        self.script_included = False

    def html(self, shown: go.Figure, div_id: str | None = None) -> str:
        fragment = shown.to_html(include_plotlyjs=not self.script_included, full_html=False, div_id=div_id)
        self.script_included = True
        return str(fragment)


def table(rows: Iterable[tuple[Any, ...]], header: tuple[str, ...]) -> str:
    """An HTML table; every cell is escaped."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def page(title: str, body: str, *, style: str = STYLE) -> str:
    """The whole document around `body` (HTML), with the title escaped."""
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>{body}</body></html>")
