"""Citation markers in an answer: parsed, checked against the sources, normalised.

Sources are numbered ``[1]..[n]`` in the prompt, but a model writes what it likes:
``[1, 3]``, ``[1][2]``, ``【2】``, ``[1-3]``, ``[1、2]`` or a number that was never
given. :func:`parse_citations` keeps the valid ones (rewritten as ``[n]``), drops the
rest, and says which sources the answer actually cites. Text inside Markdown code
(fenced blocks and inline spans) is left untouched: ``a[1]`` there is code, not a citation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_OPEN = r"[\[【［]"
_CLOSE = r"[\]】］]"
_SEP = r"[,，、;；]"
_DASH = r"[-–—~～]"
# Up to 4 digits: anything longer is not a source number in any prompt we build.
_ITEM = rf"\d{{1,4}}(?:\s*{_DASH}\s*\d{{1,4}})?"
_MARKER = re.compile(rf"[ \t]*{_OPEN}\s*\^?\s*({_ITEM}(?:\s*{_SEP}\s*{_ITEM})*)\s*{_CLOSE}")
_ITEM_RE = re.compile(rf"(\d{{1,4}})(?:\s*{_DASH}\s*(\d{{1,4}}))?")

# Fenced blocks (``` or ~~~, to the closing fence or the end of an unfinished answer)
# and inline code spans (a run of backticks closed by a run of the same length).
_CODE = re.compile(
    r"^[ \t]*(?P<fence>`{3,}|~{3,})[^\n]*\n.*?(?:^[ \t]*(?P=fence)[ \t]*$|\Z)"
    r"|(?P<ticks>`+)(?!`)(?:(?!\n[ \t]*\n).)+?(?<!`)(?P=ticks)(?!`)",
    re.MULTILINE | re.DOTALL,
)


@dataclass(frozen=True)
class Citations:
    text: str  # the answer, valid markers as [n], invalid ones removed
    cited: list[int] = field(default_factory=list)  # 1-based, first appearance, once each
    dropped: list[str] = field(default_factory=list)  # invalid markers as written


def parse_citations(answer: str, n_sources: int) -> Citations:
    """Check and normalise the citation markers in ``answer``.

    >>> c = parse_citations("vLLM 来自 UC Berkeley【1】，见 [2, 9]。", 3)
    >>> c.text, c.cited, c.dropped
    ('vLLM 来自 UC Berkeley[1]，见 [2]。', [1, 2], ['[9]'])

    A marker is dropped whole when none of its numbers is a source; a group with some
    valid numbers keeps those and lists the others in ``dropped``. A range such as
    ``[1-3]`` is expanded only when every number in it is a source.
    """
    cited: list[int] = []
    dropped: list[str] = []
    out: list[str] = []
    pos = 0
    for m in _CODE.finditer(answer):
        out.append(_rewrite(answer[pos : m.start()], n_sources, cited, dropped))
        out.append(m.group(0))
        pos = m.end()
    out.append(_rewrite(answer[pos:], n_sources, cited, dropped))
    return Citations(text="".join(out), cited=cited, dropped=dropped)


def _rewrite(prose: str, n: int, cited: list[int], dropped: list[str]) -> str:
    def replace(m: re.Match[str]) -> str:
        lead = m.group(0)[: len(m.group(0)) - len(m.group(0).lstrip(" \t"))]
        numbers: list[int] = []
        bad: list[str] = []
        for item in _ITEM_RE.finditer(m.group(1)):
            nums = _expand(item, n)
            if nums is None:
                bad.append(f"[{item.group(0)}]")
            else:
                numbers.extend(x for x in nums if x not in numbers)
        if not numbers:
            dropped.append(m.group(0).strip())
            return ""
        dropped.extend(bad)
        cited.extend(x for x in numbers if x not in cited)
        return lead + "".join(f"[{x}]" for x in numbers)

    text = _MARKER.sub(replace, prose)
    # "[1][1]" (from "[1] [1]" or "[1,1][1]") reads as a stutter; keep one.
    return re.sub(r"(\[\d+\])(?:[ \t]*\1)+", r"\1", text)


def _expand(item: re.Match[str], n: int) -> list[int] | None:
    lo = int(item.group(1))
    hi = int(item.group(2)) if item.group(2) else lo
    if not (1 <= lo <= hi <= n):
        return None
    return list(range(lo, hi + 1))
