"""One report writer: ``report.json`` for machines and ``index.html`` with plots for people.

A :class:`Report` is a list of :class:`Section` objects, each with headline figures (ours beside the
paper's), tables and matplotlib figures. Both files are stamped with the seed, package versions, host
and date, and written atomically.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dawn.core.env import collect_environment
from dawn.core.io import atomic_write_json, atomic_write_text, ensure_writable_dir, to_jsonable


@dataclass
class Headline:
    """One headline figure: what we measured beside what the paper reported."""

    name: str
    ours: float | str | None
    paper: float | str | None = None
    unit: str = ""
    note: str = ""


@dataclass
class Section:
    """A report section, usually one system's headline experiment.

    ``status`` is ``"ok"``, ``"not implemented yet"``, or ``"failed: <reason>"``.
    """

    title: str
    status: str = "ok"
    summary: str = ""
    headlines: list[Headline] = field(default_factory=list)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    figures: dict[str, bytes] = field(default_factory=dict)  # caption -> PNG bytes
    data: dict[str, Any] = field(default_factory=dict)  # machine-readable detail for report.json
    command: str = ""  # the command that reproduces this section alone

    def add_figure(self, caption: str, fig: Any) -> None:
        """Render a matplotlib figure to PNG and attach it; the figure is closed."""
        import matplotlib.pyplot as plt

        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        self.figures[caption] = buf.getvalue()

    def as_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "status": self.status,
            "summary": self.summary,
            "command": self.command,
            "headlines": [h.__dict__ for h in self.headlines],
            "tables": self.tables,
            "figures": list(self.figures),
            "data": self.data,
        }


@dataclass
class Report:
    """A titled list of sections with the provenance stamp."""

    title: str
    seed: int | None = None
    sections: list[Section] = field(default_factory=list)
    stamp: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "seed": self.seed,
            "environment": self.stamp,
            "sections": [s.as_dict() for s in self.sections],
        }

    def write(self, out_dir: str | Path, *, json_name: str = "report.json") -> tuple[Path, Path]:
        """Write ``out_dir/report.json`` and ``out_dir/index.html``; return both paths."""
        out = ensure_writable_dir(out_dir)
        if not self.stamp:
            self.stamp = collect_environment()
        json_path = atomic_write_json(out / json_name, to_jsonable(self.as_dict()))
        html_path = atomic_write_text(out / "index.html", render_html(self))
        return json_path, html_path


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _table_html(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p><em>empty</em></p>"
    cols: list[str] = []
    for r in rows:
        cols.extend(c for c in r if c not in cols)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>" for c in cols) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{border-bottom:2px solid #333}h2{margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}
.status{display:inline-block;padding:.1em .5em;border-radius:3px;font-size:.85em}
.ok{background:#d8f5d8}.todo{background:#eee}.failed{background:#f8d7d7}
figure{margin:1em 0}figcaption{font-size:.85em;color:#555}img{max-width:100%;height:auto}
table{display:block;overflow-x:auto;max-width:100%}
code{background:#f5f5f5;padding:.1em .3em}.stamp{font-size:.8em;color:#555}
"""


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page (plots embedded as PNG data URIs)."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(report.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(report.title)}</h1>",
    ]
    st = report.stamp
    pk = st.get("packages", {})
    parts.append(
        "<p class='stamp'>"
        + html.escape(
            f"seed {report.seed} · {st.get('date_utc', '')} · host {st.get('host', '')} · "
            f"{st.get('cpu', '')} ({st.get('cpu_count', '')} cores) · python {st.get('python', '')} · "
            + ", ".join(f"{k} {v}" for k, v in pk.items() if v)
        )
        + "</p>"
    )
    if len(report.sections) > 1:
        parts.append("<ul>")
        for i, s in enumerate(report.sections):
            parts.append(f"<li><a href='#s{i}'>{html.escape(s.title)}</a> — {html.escape(s.status)}</li>")
        parts.append("</ul>")
    for i, s in enumerate(report.sections):
        cls = "ok" if s.status == "ok" else "failed" if s.status.startswith("failed") else "todo"
        parts.append(
            f"<h2 id='s{i}'>{html.escape(s.title)} "
            f"<span class='status {cls}'>{html.escape(s.status)}</span></h2>"
        )
        if s.summary:
            parts.append(f"<p>{html.escape(s.summary)}</p>")
        if s.command:
            parts.append(f"<p>Reproduce: <code>{html.escape(s.command)}</code></p>")
        if s.headlines:
            rows = [
                {"figure": h.name, "dawn": h.ours, "paper": h.paper, "unit": h.unit, "note": h.note}
                for h in s.headlines
            ]
            parts.append(_table_html(rows))
        for name, rows in s.tables.items():
            parts.append(f"<h3>{html.escape(name)}</h3>{_table_html(rows)}")
        for caption, png in s.figures.items():
            b64 = base64.b64encode(png).decode("ascii")
            parts.append(
                f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{b64}'>"
                f"<figcaption>{html.escape(caption)}</figcaption></figure>"
            )
    parts.append("</body></html>")
    return "\n".join(parts)
