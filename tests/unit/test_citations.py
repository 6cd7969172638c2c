"""Citation markers: every shape a model writes, checked against the number of sources."""

from __future__ import annotations

import random

import pytest

from assistant.answer.citations import Citations, parse_citations


def check(answer: str, n: int, text: str, cited: list[int], dropped: list[str] | None = None):
    c = parse_citations(answer, n)
    assert (c.text, c.cited, c.dropped) == (text, cited, dropped or [])


@pytest.mark.parametrize(
    ("answer", "text", "cited"),
    [
        ("vLLM 来自 UC Berkeley[1]。", "vLLM 来自 UC Berkeley[1]。", [1]),
        ("A [2] and B [1].", "A [2] and B [1].", [2, 1]),
        ("见[1, 3]。", "见[1][3]。", [1, 3]),
        ("见[1,3]。", "见[1][3]。", [1, 3]),
        ("见[1 ,  3 ]。", "见[1][3]。", [1, 3]),
        ("见[1][2]。", "见[1][2]。", [1, 2]),
        ("见【2】。", "见[2]。", [2]),
        ("见［2］。", "见[2]。", [2]),
        ("见［２］。", "见[2]。", [2]),  # full-width digits too
        ("见[1-3]。", "见[1][2][3]。", [1, 2, 3]),
        ("见[1–3]。", "见[1][2][3]。", [1, 2, 3]),  # en dash
        ("见[1 - 3]。", "见[1][2][3]。", [1, 2, 3]),
        ("见[1、2]。", "见[1][2]。", [1, 2]),
        ("见[1，2]。", "见[1][2]。", [1, 2]),
        ("见【1，3】。", "见[1][3]。", [1, 3]),
        ("see [^2].", "see [2].", [2]),  # footnote style
        ("见[ 2 ]", "见[2]", [2]),
        ("[3] 开头", "[3] 开头", [3]),
        ("见[1-2, 4]。", "见[1][2][4]。", [1, 2, 4]),
    ],
)
def test_valid_shapes_are_normalised(answer, text, cited):
    check(answer, 4, text, cited)


@pytest.mark.parametrize(
    ("answer", "text", "dropped"),
    [
        ("见[0]。", "见。", ["[0]"]),
        ("见 [99]。", "见。", ["[99]"]),
        ("It is fast [5].", "It is fast.", ["[5]"]),
        ("见【9】。", "见。", ["【9】"]),
        ("见[3-9]。", "见。", ["[3-9]"]),  # a range is expanded only if all of it is valid
        ("见[4-2]。", "见。", ["[4-2]"]),  # backwards
        ("见[0-1]。", "见。", ["[0-1]"]),
        ("A [0] B", "A B", ["[0]"]),
        ("见[1000]。", "见。", ["[1000]"]),
    ],
)
def test_invalid_markers_are_dropped(answer, text, dropped):
    check(answer, 4, text, [], dropped)


def test_a_group_keeps_its_valid_numbers():
    check("见[1, 9]。", 3, "见[1]。", [1], ["[9]"])
    check("见[0、2]。", 3, "见[2]。", [2], ["[0]"])
    check("见[2, 5-7]。", 3, "见[2]。", [2], ["[5-7]"])


def test_each_source_is_listed_once_in_order_of_first_appearance():
    check("B[2] A[1] B again[2] C[3][1]", 3, "B[2] A[1] B again[2] C[3][1]", [2, 1, 3])
    check("见[2, 2, 1]", 3, "见[2][1]", [2, 1])


def test_repeated_adjacent_markers_collapse():
    check("见[1][1]。", 3, "见[1]。", [1])
    check("见[1] [1]。", 3, "见[1]。", [1])
    check("见[1,1][1]。", 3, "见[1]。", [1])
    # ...but not across a paragraph break.
    check("甲[1]\n\n[1] 乙", 3, "甲[1]\n\n[1] 乙", [1])


@pytest.mark.parametrize(
    "answer",
    [
        "unclosed [1 bracket",
        "unclosed 【2 bracket",
        "[a] [b1] [1a] [1.5] [1,] [,1] [-1] [] [ ]",
        "a link [text](http://x.y/1) stays",
        "数组 x[i] 与 y[j]",
        "an ID [12345] is not a source number",
        "[[",
        "]]1[[",
        "",
    ],
)
def test_things_that_are_not_markers_are_left_alone(answer):
    check(answer, 3, answer, [])


def test_markers_in_code_are_not_citations():
    answer = "Index it like `xs[1]` or:\n```python\nprint(xs[2])  # [9]\n```\nas the notes say [1]."
    check(answer, 3, answer, [1])
    check("用 ``a[9]`` 取值[2]", 3, "用 ``a[9]`` 取值[2]", [2])
    check("~~~\n[7]\n~~~\n后文[1]", 3, "~~~\n[7]\n~~~\n后文[1]", [1])


def test_an_unfinished_code_block_runs_to_the_end():
    # While an answer is still streaming its code block may be open.
    check("先[1]\n```\ncode[8]", 3, "先[1]\n```\ncode[8]", [1])


def test_an_unmatched_backtick_does_not_hide_markers():
    check("it's a ` quote [1] and [9]", 3, "it's a ` quote [1] and", [1], ["[9]"])


def test_inline_code_does_not_span_paragraphs():
    check("`a\n\nb[1]` c", 3, "`a\n\nb[1]` c", [1])


def test_no_sources_drops_every_marker():
    check("答案[1]。", 0, "答案。", [], ["[1]"])


def test_removing_a_marker_takes_the_space_before_it():
    check("one [9] two", 3, "one two", [], ["[9]"])
    check("end [9]\nnext", 3, "end\nnext", [], ["[9]"])
    check("tab\t[9].", 3, "tab.", [], ["[9]"])


def test_result_type():
    c = parse_citations("x[1]", 1)
    assert isinstance(c, Citations)
    with pytest.raises(AttributeError):
        c.text = "y"  # frozen


def test_parsing_its_own_output_changes_nothing():
    rng = random.Random(7)
    pieces = ["甲", "B ", "[1]", "[2,3]", "【4】", "[0]", "[1-2]", "`[5]`", "[9]", "。", "\n", "["]
    for _ in range(300):
        answer = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        first = parse_citations(answer, 4)
        again = parse_citations(first.text, 4)
        assert again.text == first.text
        assert again.cited == first.cited
        assert again.dropped == []
        assert all(1 <= n <= 4 for n in first.cited)
        assert len(set(first.cited)) == len(first.cited)


def test_long_input_is_parsed_whole():
    # Its speed is a benchmark's business; here, that nothing in 2,000 lines is lost.
    answer = ("据资料[1]，" + "文字" * 50 + "[2, 3]。`[4]`\n") * 2000
    c = parse_citations(answer, 3)
    assert c.cited == [1, 2, 3]
    assert c.text.count("[1]") == 2000 and c.text.count("`[4]`") == 2000


def test_the_quoted_sentence_is_marked_in_its_source_for_the_model():
    from assistant.answer.prompt import mark_best

    blocks = ['<source id="1" title="A">\nvLLM 很快。它由 UC Berkeley 开发。\n</source>',
              '<source id="2" title="B">\n它由 UC Berkeley 开发。\n</source>']
    marked = mark_best(blocks, "它由 UC Berkeley 开发。[2]\n另一句。[2]")
    assert marked == [blocks[0], blocks[1].replace("它由", "**它由").replace("开发。", "开发。**")]
    # Not verbatim in its source, no citation, or a number past the sources: unchanged.
    for quote in ("它由 Berkeley 开发。[2]", "它由 UC Berkeley 开发。",
                  "它由 UC Berkeley 开发。[3]"):
        assert mark_best(blocks, quote) == blocks
