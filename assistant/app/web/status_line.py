"""The status line: one row (model, index, a re-index going), and what is missing or
degraded as a few words, its details and fixing commands behind a click."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from assistant.app.i18n import t

if TYPE_CHECKING:
    from assistant.app.server import Service

_LABEL = {"model": "st_model", "index": "st_index"}


def render_status(service: Service, lang: str = "zh", fresh: bool = False) -> str:
    e = html.escape
    items = service.status(lang, fresh=fresh)
    row = ['<div class="row">']
    for it in items:
        if it.kind == "notice":
            continue
        key = f'<span class="k">{t(_LABEL[it.kind], lang)}</span>' if it.kind in _LABEL else ""
        row.append(f'<span class="item {it.kind}">{key}{_bar(it.progress)}'
                   f'<span class="{it.level}">{e(it.text)}</span></span>')
    row.append("</div>")
    worth = [it for it in items if it.level == "warn" and (it.detail or it.fix)]
    notes = [it for it in items if it.kind == "notice"]
    if not worth and not notes:
        return "".join(row)
    summary = " · ".join(e(it.text) for it in notes) or ""
    lines = []
    for it in worth:
        fix = (f'<br>{t("st_fix", lang)}<code>{e(it.fix)}</code>' if it.fix else "")
        detail = e(it.detail).replace("\n", "<br>")
        lines.append(f"<li><b>{e(it.text)}</b>{'：' if lang == 'zh' else ': '}{detail}{fix}</li>")
    head = f'⚠ {summary} · {t("st_details", lang)}' if summary else \
        f'⚠ {t("st_details", lang)}'
    row.append(f'<details class="more"><summary>{head}</summary><ul>{"".join(lines)}</ul>'
               "</details>")
    return "".join(row)


def _bar(progress: float | None) -> str:
    if progress is None:
        return ""
    if progress < 0:
        return "<progress></progress> "
    return f'<progress value="{progress:.3f}" max="1"></progress> '
