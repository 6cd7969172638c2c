"""Extractive answers: the right sentence first, cited, readable, fast."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from assistant.answer.citations import parse_citations
from assistant.answer.extractive import MAX_CHARS, extractive_answer


@dataclass
class Hit:
    text: str
    doc: str = "notes.md"
    title: str = ""
    heading: str = ""
    line_start: int = 1
    line_end: int = 1
    page: int | None = None
    score: float = 1.0


def first_quote(answer: str) -> str:
    """The best sentence: everything before the first citation marker."""
    return re.split(r"\[\d+\]", answer, maxsplit=1)[0]


INFERENCE_TABLE = """\
| 编号 | 推理框架 | 团队 | 介绍 |
|:---:|:-------:|:---:|:---:|
| 1 | [vLLM](https://github.com/vllm-project/vllm) | UC Berkeley | vLLM 是一个开源的大模型推理加速框架, 通过 PagedAttention 高效地管理 attention 中缓存的张量, 实现了比 HuggingFace Transformers 高 14-24 倍的吞吐量. PagedAttention 是 vLLM 的核心技术. |
| 2 | [Text Generation Inference(TGI)](https://github.com/huggingface/text-generation-inference) | HuggingFace | Text Generation Inference(TGI)是 HuggingFace 推出的一个项目, 作为支持 HuggingFace Inference API 和 Hugging Chat 上的 LLM 推理的工具. |
| 3 | [FasterTransformer](https://github.com/NVIDIA/FasterTransformer) | NVIDIA | NVIDIA FasterTransformer (FT) 是一个用于实现基于 Transformer 的神经网络推理的加速引擎. |"""  # noqa: E501

PASSAGES = [
    Hit(
        "BF16 也叫 bfloat16, 是一种 16 位的浮点格式。最开始是Google Brain发明并应用在TPU上的。"
        "它和 FP32 有相同的指数位。",
        heading="精度 > BF16",
    ),
    Hit(
        "PagedAttention 的灵感来自于操作系统中虚拟内存和分页的经典思想。它把 KV 缓存分成块。\n"
        "vLLM 用它管理显存。",
        heading="推理 > vLLM",
    ),
    Hit(
        "1986年:David Rumelhart、Geoffrey Hinton 和 Ronald Williams 提出了反向传播算法。\n"
        "1997年:IBM 的深蓝战胜了国际象棋世界冠军。",
        heading="历史",
    ),
    Hit(
        "NVIDIA® TensorRT™ is an SDK for high-performance deep learning inference on NVIDIA "
        "GPUs. This repository contains the open source components of TensorRT.",
        heading="Tools > TensorRT",
    ),
]


@pytest.mark.parametrize(
    ("question", "answer", "cite"),
    [
        ("BF16 最早是由谁发明并用在什么硬件上的？", "Google Brain", 1),
        ("PagedAttention 的设计灵感来自哪里？", "虚拟内存", 2),
        ("反向传播算法是哪一年由谁提出的？", "1986", 3),
        ("What is TensorRT?", "SDK", 4),
    ],
)
def test_the_answer_sentence_comes_first_with_its_citation(question, answer, cite):
    out = extractive_answer(question, PASSAGES)
    best = first_quote(out)
    assert answer in best
    assert out[len(best) :].lstrip().startswith(f"[{cite}]")


def test_every_sentence_is_cited_with_its_passage_number():
    out = extractive_answer("PagedAttention 和 vLLM 的关系？", PASSAGES, max_sentences=3)
    parsed = parse_citations(out, len(PASSAGES))
    assert parsed.dropped == [] and parsed.text == out
    assert parsed.cited and set(parsed.cited) <= {1, 2, 3, 4}
    for sentence, n in re.findall(r"([^\[\]]+?)\s*\[(\d+)\]", out):
        assert sentence.strip().replace(" ", "") in PASSAGES[int(n) - 1].text.replace(" ", "")


def test_max_sentences():
    for k in (1, 2, 3):
        out = extractive_answer("vLLM PagedAttention 虚拟内存 KV 缓存", PASSAGES, max_sentences=k)
        assert 1 <= len(re.findall(r"\[\d+\]", out)) <= k
    assert extractive_answer("vLLM", PASSAGES, max_sentences=0) == ""


def test_nothing_to_quote():
    assert extractive_answer("任何问题", []) == ""
    assert extractive_answer("任何问题", [Hit(""), Hit("---\n<div></div>\n")]) == ""


def test_no_overlap_quotes_the_top_passage():
    out = extractive_answer("完全无关的问题", PASSAGES, max_sentences=2)
    assert out == "BF16 也叫 bfloat16, 是一种 16 位的浮点格式。[1]"


def test_table_row_comes_with_its_header():
    out = extractive_answer("vLLM 是哪个机构开发的推理框架？", [Hit(INFERENCE_TABLE)])
    lines = out.splitlines()
    assert lines[0] == "编号 | 推理框架 | 团队 | 介绍"
    assert lines[1].startswith("1 | vLLM | UC Berkeley | vLLM 是一个开源的大模型推理加速框架")
    assert lines[1].endswith("[1]")
    assert "https://" not in out  # links are shown as their text


def test_table_row_found_through_a_long_cell():
    question = "Text Generation Inference (TGI) 是哪家推出的？"
    out = extractive_answer(question, [Hit(INFERENCE_TABLE)])
    assert "HuggingFace" in first_quote(out)


def test_table_without_header_in_the_passage():
    rows = "\n".join(INFERENCE_TABLE.splitlines()[3:])  # a chunk from the middle of a table
    out = extractive_answer("FasterTransformer 是谁开发的？", [Hit("其他框架：\n" + rows)])
    assert "NVIDIA" in first_quote(out)


def test_tab_separated_table():
    text = (
        "Parameter\tDefault Value\tRange\n"
        "latency_ns\t24,000,000\t100,000~1,000,000,000 (1 s)\n"
        "nr_migrate\t32\t0~\n"
    )
    out = extractive_answer("nr_migrate 的默认值是多少？", [Hit(text)])
    assert out.splitlines()[:2] == ["Parameter | Default Value | Range", "nr_migrate | 32 | 0~ [1]"]


def test_near_duplicates_are_quoted_once():
    same = "LoRA 的核心思想是对大型模型的权重矩阵进行隐式的低秩转换。"
    hits = [Hit(same), Hit("## LoRA\n" + same + "\n另外，它很省显存。"), Hit(same.rstrip("。"))]
    out = extractive_answer("LoRA 的核心思想是什么？", hits, max_sentences=3)
    assert out.count("低秩转换") == 1
    assert out.startswith(same + "[1]")  # ties go to the higher-ranked passage


def test_markup_and_footnotes_are_not_quoted():
    text = (
        "---\n# 量化\n<img src='x.png'>\n![图](a.png)\n| --- | --- |\n"
        "**量化**是把 float32 转换成 int8 等低精度类型的技术[3]。\n"
    )
    out = extractive_answer("量化把 float32 转换成什么？", [Hit(text)])
    assert out == "量化是把 float32 转换成 int8 等低精度类型的技术。[1]"


def test_definition_questions_prefer_the_definition():
    hits = [
        Hit(
            "Triton 推理服务器支持多种后端。"
            "Triton 是一种用于编写高效自定义深度学习原语的语言和编译器。"
        )
    ]
    assert "深度学习原语" in first_quote(extractive_answer("Triton 是什么？", hits))


def test_english_passages_give_english_answers():
    hits = [
        Hit(
            "The tokenizer splits text into pieces. SentencePiece integrates BPE and unigram "
            "language model algorithms. It was released by Google."
        )
    ]
    out = extractive_answer("Which algorithms does SentencePiece integrate?", hits)
    best = "SentencePiece integrates BPE and unigram language model algorithms."
    assert first_quote(out).strip() == best
    assert out.startswith("SentencePiece integrates") and out.split("[1]")[0].endswith(". ")


def test_sentences_split_on_chinese_and_latin_ends_but_not_inside_urls_or_numbers():
    hits = [Hit("版本 3.5 很快！见 github.com/x/y 的说明；它支持 CPU。Really? Yes.")]
    out = extractive_answer("版本 3.5 github.com 说明 CPU", hits, max_sentences=5)
    quotes = [q.strip() for q in re.split(r"\[\d+\]", out) if q.strip()]
    assert "版本 3.5 很快！" in quotes
    assert "见 github.com/x/y 的说明；" in quotes


def test_long_sentences_are_cut_at_clauses():
    long = "，".join(f"第{i}个子句讲了一些关于模型压缩的事情" for i in range(20)) + "。"
    out = extractive_answer("模型压缩", [Hit(long)], max_sentences=1)
    assert len(first_quote(out)) <= MAX_CHARS


def test_a_labelled_line_answers_the_label():
    text = (
        "卡间互联\n"
        "定义:卡间互联是指在多GPU系统中,不同GPU之间进行数据传输和通信的技术。\n"
        "技术:PCIe、NVLink、Infinity Fabric、RDMA、NVSwitch 等。\n"
    )
    out = extractive_answer("GPU 卡间互联有哪些技术？", [Hit(text, heading="卡间互联")])
    assert "NVLink" in out


def test_a_header_repeated_at_the_top_of_a_chunk_is_not_quoted_as_a_row():
    # The chunker repeats a long table's header on each chunk, without the |---| line.
    chunk = "编号 | 推理框架 | 团队 | 介绍\n" + INFERENCE_TABLE.splitlines()[2]
    out = extractive_answer("vLLM 是哪个机构开发的推理框架？", [Hit(chunk)])
    assert out.splitlines()[0] == "编号 | 推理框架 | 团队 | 介绍"
    assert "UC Berkeley" in out.splitlines()[1]
    assert out.count("编号 | 推理框架") == 1


def test_a_first_row_holding_sentences_is_not_taken_for_a_header():
    rows = "\n".join(INFERENCE_TABLE.splitlines()[2:])  # no header: starts at row 1
    out = extractive_answer("vLLM 是哪个机构开发的？", [Hit(rows)])
    assert "UC Berkeley" in first_quote(out)


def test_headings_and_link_only_lines_are_not_quoted():
    text = (
        "## vLLM 推理框架\n"
        "[vLLM 推理框架架构概览](https://example.com/vllm)\n"
        "- [vLLM 推理框架源码解读](https://example.com/src)\n"
        "vLLM 推理框架由 UC Berkeley 开发。\n"
    )
    out = extractive_answer("vLLM 推理框架是谁开发的？", [Hit(text)], max_sentences=3)
    assert out == "vLLM 推理框架由 UC Berkeley 开发。[1]"


def test_abbreviations_do_not_end_sentences():
    text = "The cathedral stands on St. Mary Street, built by Dr. J. Smith in 1890. It is tall."
    out = extractive_answer("Who built the cathedral on St. Mary Street?", [Hit(text)],
                            max_sentences=1)
    assert first_quote(out).strip() == (
        "The cathedral stands on St. Mary Street, built by Dr. J. Smith in 1890.")


def test_all_quotes_come_from_the_passage_of_the_best_sentence():
    hits = [
        Hit("PagedAttention 把 KV 缓存分块管理。PagedAttention 的灵感来自虚拟内存和分页。"),
        Hit("PagedAttention 的设计借鉴了操作系统。vLLM 用 PagedAttention 管理显存。"),
    ]
    out = extractive_answer("PagedAttention 的设计灵感来自哪里？", hits, max_sentences=3)
    assert "虚拟内存" in first_quote(out)
    assert set(re.findall(r"\[(\d+)\]", out)) == {"1"}


def test_the_topic_in_the_title_does_not_outweigh_the_detail_asked():
    # The opening sentence names the fish; the answer sentence only names the detail.
    hit = Hit(
        "短齿天竺鲷，又名短牙天竺鲷，俗名大目侧仔，为天竺鲷科的其中一个种。"
        "本鱼分布于印度西太平洋区。体长可达12公分。",
        title="短齿天竺鲷",
    )
    out = extractive_answer("短齿天竺鲷体长可达多少公分？", [hit], max_sentences=1)
    assert first_quote(out).strip() == "体长可达12公分。"


def test_a_link_closing_a_cell_as_its_own_sentence_is_not_quoted():
    cell = ("类似老师教学生, 使用一个效果好的大模型指导一个小模型训练, 因为大模型可以提供更多的"
            "软分类信息量, 所以会训练出一个效果接近大模型的小模型, 这就是知识蒸馏的基本做法. "
            "[详解4种模型压缩技术、模型蒸馏算法](https://zhuanlan.zhihu.com/p/638092734)")
    table = f"| 技术 | 描述 |\n|:---:|:---:|\n| 蒸馏 | {cell} |"
    out = extractive_answer("模型压缩技术蒸馏算法是什么？", [Hit(table)], max_sentences=3)
    assert "蒸馏" in out and "详解4种模型压缩技术" not in out


def test_a_passage_of_headings_only_is_still_quoted():
    out = extractive_answer("How many GPUs per node?", [Hit("# of GPUs per node: 8")])
    assert out == "of GPUs per node: 8 [1]"


def test_a_short_header_ending_in_an_abbreviation_is_still_a_header():
    table = "| No. | Release |\n| 1 | vLLM 0.1 was released in June 2023 by UC Berkeley. |"
    out = extractive_answer("When was vLLM 0.1 released?", [Hit(table)])
    assert out.splitlines()[0] == "No. | Release"


def test_similarity_can_pick_the_sentence_that_answers_in_other_words():
    # Each sentence shares one word with the question: the embedder's cosines decide.
    hit = Hit("Its engine was improved later by Corliss himself. "
              "A patent for it was granted in 1849.")
    question = "When did the engine receive its patent?"

    def likes(word):  # stands in for an embedder that finds ``word``'s sentence closest
        return lambda q, sentences: [0.9 if word in s else 0.1 for s in sentences]

    assert "1849" in first_quote(extractive_answer(question, [hit], 1, likes("1849")))
    assert "Corliss" in first_quote(extractive_answer(question, [hit], 1, likes("Corliss")))


def test_a_failing_similarity_costs_the_bonus_not_the_answer():
    def broken(q, sentences):
        raise RuntimeError("embedder gone")

    out = extractive_answer("PagedAttention 的设计灵感来自哪里？", PASSAGES, similarity=broken)
    assert "虚拟内存" in first_quote(out)


def test_a_passage_naming_the_topic_beats_one_that_only_shares_the_detail_word():
    # From CMRC 2018: the college's title and text name "职业", the answer does not.
    hits = [
        Hit("赵鹏（），中国足球运动员，司职后卫。赵鹏于1997年便加入河南建业青年队。"
            "2012赛季，赵鹏未能帮助建业保级。", title="赵鹏"),
        Hit("2014年6月，赵鹏被租借到中超球队长春亚泰。2016年3月，中乙球队成都钱宝宣布赵鹏加盟。",
            title="赵鹏"),
        Hit("学校提出了高等职业教育办学应有的主要特征，即“服务性、职业性、开放式、大众化”。"
            "学校以“一技之长+综合素质”为人才培养目标的核心理念。", title="广州番禺职业技术学院"),
    ]
    question = "赵鹏的职业是什么？"
    first_cited = lambda out: re.search(r"\[(\d+)\]", out).group(1)  # noqa: E731
    assert first_cited(extractive_answer(question, hits)) == "3"
    out = extractive_answer(question, hits, topic="赵鹏")
    assert "足球运动员" in first_quote(out) and first_cited(out) == "1"
    # No passage names the topic: no passage is held back, the best sentence still wins.
    assert extractive_answer(question, hits, topic="王五") == extractive_answer(question, hits)


def test_a_numbered_topic_is_named_with_any_separator():
    from assistant.answer.extractive import _off_topic

    hits = [Hit("Claude-3 是一个大规模的语言模型。"), Hit("GLM-4 是一个大规模的语言模型。"),
            Hit("Claude 3 Opus 于 2024 年发布。")]
    assert _off_topic(hits, "claude 3") == {1}  # the abstain signal keys it "claude 3"
    assert _off_topic(hits, "gpt 5") == set()  # named nowhere: nothing is held back
    # Read as the abstain signal reads names: GPT-50 is not GPT-5, "said" does not name AI.
    assert _off_topic([Hit("GPT-50 发布了。"), Hit("GPT-5 发布了。")], "gpt 5") == {0}
    assert _off_topic([Hit("He said so."), Hit("AI 芯片。")], "ai") == {0}


def test_every_row_of_a_table_of_short_one_bar_rows_is_a_row():
    table = ("缩写名 | 描述 | 备注\nsft | Supervised Fine-Tuning\nlora | Low-Rank Adaptation\n"
             "qlora | Quantized LoRA\ndpo | Direct Preference Optimization")
    out = extractive_answer("lora 是什么？", [Hit(table)], max_sentences=1)
    assert out == "缩写名 | 描述 | 备注\nlora | Low-Rank Adaptation [1]"


def test_a_further_quote_needs_more_than_the_question_words_characters():
    hit = Hit("LoRA 的核心思想是低秩分解，冻结原有权重。初学者常问为什么要先做预训练。")
    assert extractive_answer("LoRA 的核心思想是什么？", [hit]) == (
        "LoRA 的核心思想是低秩分解，冻结原有权重。[1]")


def test_rows_of_two_cells_under_a_three_column_header_are_rows():
    # From the default corpus: the last column is empty, so each row holds one " | ".
    table = ("缩写名 | 描述 | 备注\n"
             "sft | Supervised Fine-Tuning,有监督微调,用高质量数据和理想输出再进行训练。\n"
             "LoRA | Low-Rank Adaption,大语言模型的低秩适应,其核心思想是对权重矩阵进行低秩转换")
    out = extractive_answer("LoRA 的核心思想是什么？", [Hit(table)])
    # The LoRA row under its header, and nothing else: not the header as a sentence of
    # its own, not the sft row, which shares only the character 想 (理想) with the question.
    assert out == ("缩写名 | 描述 | 备注\nLoRA | Low-Rank Adaption,大语言模型的低秩适应,"
                   "其核心思想是对权重矩阵进行低秩转换[1]")
