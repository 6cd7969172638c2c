"""Citations decided after generation (assistant/answer/attribution.py).

The answers are real ones of Qwen2.5-Coder-1.5B-Instruct Q4_K_M at temperature 0 over the
default corpus, CMRC 2018 and SQuAD (the sources shortened to the lines that matter), so
the rules are held to what a small model really writes.
"""

from __future__ import annotations

import numpy as np
import pytest

from assistant.answer import attribution
from assistant.answer.attribution import attribute, support_matrix, unsupported_claims

# Sources as the prompt numbered them for "vLLM 是哪个机构开发的推理框架？" and
# "Text Generation Inference (TGI) 是哪家推出的？" (default corpus).
VLLM_ROW = (
    "编号 | 推理框架 | 团队 | 介绍\n"
    "1 | [vLLM](https://github.com/vllm-project/vllm) | UC Berkeley | vLLM 是一个开源的大模型"
    "推理加速框架，通过PagedAttention高效地管理attention中缓存的张量"
)
TGI_ROW = (
    "编号 | 推理框架 | 团队 | 介绍\n"
    "2 | [Text Generation Inference](https://github.com/huggingface/text-generation-inference)"
    " | HuggingFace | Text Generation Inference(TGI)是 HuggingFace 推出的一个项目，作为支持"
    " HuggingFace Inference API 和 Hugging Chat 上的LLM 推理的工具"
)
LMDEPLOY_ROW = (
    "编号 | 推理框架 | 团队 | 介绍\n"
    "6 | [LMDeploy](https://github.com/InternLM/lmdeploy) | [MMDeploy](https://github.com/"
    "open-mmlab/mmdeploy) 和 [MMRazor](https://github.com/open-mmlab/mmrazor) 团队联合开发"
)
TOKENIZER_ROW = (
    "编号 | 分词器 | 团队 | 详情\n"
    "1 | [sentencepiece](https://github.com/google/sentencepiece) | Google | Unsupervised "
    "text tokenizer for Neural Network-based text generation."
)
# CMRC 2018: "2007年亚足联冠军联赛是第多少届亚洲冠军联赛？" (passage 00721 and a distractor).
ACL_2007 = (
    "2007年亚足联冠军联赛 是第 26 届亚洲冠军联赛，在2007年3月7日展开小组赛，这届是首次有澳洲"
    "球队参与，分别是：FC悉尼及阿德莱德联，作为卫冕冠军 韩国的全北现代汽车自动晋级八强。"
)
MANGA = (
    "张静美是台湾的漫画家，出生于台北市，稻江家职（稻江护家前身）家政科毕业，代表作为《代战天使》、"
    "《青春小鸟》。19岁时（1980年）进入伊士曼小咪出版社（大然文化前身）所举办的小咪漫画培训班。"
)


def test_a_sentence_without_a_marker_gets_the_source_that_holds_it():
    # The model's answer carried no marker; the source with "UC Berkeley" is [2].
    a = attribute("vLLM 是 UC Berkeley 开发的推理框架。", [TGI_ROW, VLLM_ROW, LMDEPLOY_ROW])
    assert a.text == "vLLM 是 UC Berkeley 开发的推理框架。[2]"
    assert (a.cited, a.added, a.kept, a.moved) == ([2], 1, 0, 0)


def test_a_model_marker_whose_source_supports_the_sentence_stays():
    a = attribute("Text Generation Inference (TGI) 是 HuggingFace 推出的。[1]",
                  [TGI_ROW, VLLM_ROW, TOKENIZER_ROW])
    assert a.text == "Text Generation Inference (TGI) 是 HuggingFace 推出的。[1]"
    assert (a.cited, a.kept, a.moved, a.added) == ([1], 1, 0, 0)


def test_a_model_marker_on_the_wrong_source_moves_to_the_right_one():
    a = attribute("Text Generation Inference (TGI) 是 HuggingFace 推出的。[3]",
                  [TGI_ROW, VLLM_ROW, TOKENIZER_ROW])
    assert a.text == "Text Generation Inference (TGI) 是 HuggingFace 推出的。[1]"
    assert (a.cited, a.kept, a.moved) == ([1], 0, 1)


def test_chinese_paraphrase_meets_its_source_by_shared_characters():
    # "第26届" where the passage has "第 26 届"; the distractor shares only "年" and digits.
    a = attribute("2007年亚足联冠军联赛是第26届亚洲冠军联赛。[1]", [ACL_2007, MANGA])
    assert a.cited == [1] and a.kept == 1
    a = attribute("2007年亚足联冠军联赛是第26届亚洲冠军联赛。[2]", [ACL_2007, MANGA])
    assert a.text.endswith("[1]") and a.moved == 1


def test_framing_is_not_cited_and_a_marker_after_the_sentence_belongs_to_it():
    a = attribute("根据资料：\nvLLM 是 UC Berkeley 开发的推理框架。 [2]", [TGI_ROW, VLLM_ROW])
    assert a.text == "根据资料：\nvLLM 是 UC Berkeley 开发的推理框架。 [2]"
    assert (a.kept, a.added) == (1, 0)


def test_a_marker_on_no_supporting_source_is_dropped():
    a = attribute("这是一个与资料无关的说法，比如天气很好。[1]", [VLLM_ROW, TGI_ROW])
    assert a.text == "这是一个与资料无关的说法，比如天气很好。"
    assert a.cited == [] and (a.kept, a.moved, a.added) == (0, 0, 0)


def test_code_is_never_cited_and_its_brackets_are_not_markers():
    answer = (
        "vLLM 是 UC Berkeley 开发的 `vllm` 推理框架。\n"
        "```python\nx = a[1]  # vLLM UC Berkeley 推理框架\n```\n"
    )
    a = attribute(answer, [TGI_ROW, VLLM_ROW])
    assert a.text.startswith("vLLM 是 UC Berkeley 开发的 `vllm` 推理框架。[2]\n```python\n")
    assert "x = a[1]  # vLLM UC Berkeley 推理框架\n```" in a.text
    assert a.cited == [2] and a.added == 1


def test_cited_lists_sources_once_in_first_appearance_order():
    answer = (
        "Text Generation Inference (TGI) 是 HuggingFace 推出的。"
        "vLLM 是 UC Berkeley 开发的推理框架。TGI 是 HuggingFace 推出的一个项目。"
    )
    a = attribute(answer, [VLLM_ROW, TGI_ROW])
    assert a.cited == [2, 1]
    assert a.text.count("[2]") == 2 and a.added == 3


def test_english_sentences_are_cited_after_their_full_stop():
    sources = [
        "In 1939, c. 1,300,000 people lived in Warsaw, but in 1945 – only 420,000.",
        "The adoption of compounding was common for industrial units after 1880.",
    ]
    a = attribute("In 1945 only 420,000 people lived in Warsaw.", sources)
    assert a.text == "In 1945 only 420,000 people lived in Warsaw. [1]"


def test_no_sources_or_no_answer_change_nothing():
    assert attribute("", [VLLM_ROW]).text == ""
    answer = "vLLM 是 UC Berkeley 开发的。[1]"
    assert attribute(answer, []).text == answer


def test_similarity_adds_its_say_to_the_words():
    sentences = ["vLLM 是 UC Berkeley 开发的推理框架。"]

    def similarity(s, p):
        assert s == sentences and len(p) == 2
        return np.array([[0.9, 0.1]])

    plain = support_matrix(sentences, [VLLM_ROW, LMDEPLOY_ROW])
    blended = support_matrix(sentences, [VLLM_ROW, LMDEPLOY_ROW], similarity=similarity)
    assert blended[0, 1] < plain[0, 1]
    assert blended[0, 0] > blended[0, 1]


def test_numbers_and_names_that_no_source_holds_are_listed():
    bf16 = "BF16 的指数位与 FP32 一样，是 8 位，尾数只有 7 位。"
    assert unsupported_claims("BF16 的尾数有 23 位 [1]。", [bf16]) == ["23"]
    assert unsupported_claims("BF16 的尾数有 7 位。", [bf16]) == []
    fix = "FixAgent 修复了 80 个缺陷中的 79 个，准确率 4.5% 以上。"
    assert unsupported_claims("FixAgent 修复了 79/80 个缺陷，4.5 %。", [fix]) == []
    assert unsupported_claims("FixAgent 修复了 78/80 个，TGI 也可以。", [fix]) == ["78/80", "TGI"]
    # A list's own numbering is not a claim; a name the source spells with a space is held.
    assert unsupported_claims("1. HuggingFace 推出了它。\n2. 见上。", ["Hugging Face 推出"]) == []
    # In English, a capital that only opens a sentence is not a name.
    assert unsupported_claims("Warsaw grew. It had 420,000 people.", ["Warsaw: 420000"]) == []


# SQuAD: "When did the European Anti-Fraud Office investigate John Dalli?"; the model cited
# [3], a passage on freedom of establishment.
ANTI_FRAUD = (
    "This led to the creation of the European Anti-fraud Office. In 2012 it investigated the "
    "Maltese Commissioner for Health, John Dalli, who quickly resigned after allegations that "
    "he received a €60m bribe in connection with a Tobacco Products Directive."
)
FRANCOVICH = (
    "Francovich, the former employee of a bankrupt Venetian firm, was therefore allowed to "
    "claim 6 million Lira from the Italian government in damages for his loss."
)
ESTABLISHMENT = (
    "The Court of Justice has held that both a member state government and a private party "
    "can hinder freedom of establishment, so article 49 has both \"vertical\" and "
    "\"horizontal\" direct effect."
)


def test_an_english_marker_on_an_unrelated_passage_moves_to_the_one_that_holds_it():
    a = attribute("The European Anti-Fraud Office investigated John Dalli in 2012. [3]",
                  [ANTI_FRAUD, FRANCOVICH, ESTABLISHMENT])
    assert a.text == "The European Anti-Fraud Office investigated John Dalli in 2012. [1]"
    assert (a.cited, a.moved, a.unsupported) == ([1], 1, [])


def test_an_abbreviation_does_not_end_the_sentence():
    lawrence = ("The French population was heavily concentrated along the St. Lawrence River "
                "valley, with some also in Acadia.")
    a = attribute("French fur trappers traveled along the St. Lawrence River valley. [1]",
                  [lawrence, FRANCOVICH])
    assert (a.text.count("[1]"), a.kept, a.added) == (1, 1, 0)


def test_a_marker_on_a_neighbouring_row_of_the_same_table_moves():
    # Every row shares the table's header and topic words; only one names UC Berkeley.
    neighbour = ("编号 | 推理框架 | 团队 | 介绍\n[vLLM(二) 架构概览](https://zhuanlan.zhihu.com/p/"
                 "681716326)\n" + TGI_ROW.split("\n", 1)[1])
    a = attribute("vLLM 是 UC Berkeley 开发的推理框架。[1]", [neighbour, VLLM_ROW])
    assert a.text == "vLLM 是 UC Berkeley 开发的推理框架。[2]"
    assert (a.kept, a.moved) == (0, 1)


def test_a_dropped_marker_takes_its_space_with_it_and_nothing_else_changes():
    answer = "这是一个与资料无关的说法。 [1]  \n第二行也无关。"
    assert attribute(answer, [VLLM_ROW]).text == "这是一个与资料无关的说法。  \n第二行也无关。"


def test_the_model_citing_its_framing_sentence_instead_of_the_fact():
    # SQuAD, as the model wrote it: the marker sits on a sentence that states nothing.
    nasser = ("The Brotherhood has suffered periodic repression in Egypt and has been banned "
              "several times, in 1948 and several years later following confrontations with "
              "Egyptian president Gamal Abdul Nasser, who jailed thousands of members.")
    intifada = ("For some decades prior to the First Palestine Intifada in 1987, the Muslim "
                "Brotherhood in Palestine took a quiescent stance towards Israel.")
    answer = ("The Egyptian president who jailed thousands of members of the Brotherhood was "
              "Gamal Abdul Nasser. This is stated in the source [1][2].")
    a = attribute(answer, [nasser, intifada])
    assert a.text == ("The Egyptian president who jailed thousands of members of the Brotherhood"
                      " was Gamal Abdul Nasser. [1] This is stated in the source.")
    assert (a.cited, a.added, a.kept, a.moved) == ([1], 1, 0, 0)


def test_a_quoted_table_keeps_its_markers_and_its_header_gets_none():
    # An extractive answer (the no-model path) over the real row: nothing to change.
    quote = ("编号 | 推理框架 | 团队 | 介绍\n1 | vLLM | UC Berkeley | vLLM 是一个开源的大模型推理"
             "加速框架，通过PagedAttention高效地管理attention中缓存的张量. [2]")
    a = attribute(quote, [TGI_ROW, VLLM_ROW])
    assert a.text == quote and (a.kept, a.added) == (1, 0)
    # Without the marker, the row (not its header, not its first sentence) gets it.
    bare = quote.removesuffix(" [2]")
    assert attribute(bare, [TGI_ROW, VLLM_ROW]).text == bare + " [2]"
    piped = "| 编号 | 团队 |\n|---|---|\n| 1 | vLLM 由 UC Berkeley 开发，推理加速框架 |"
    assert attribute(piped, [TGI_ROW, VLLM_ROW]).text == piped[:-2] + "[2] |"


def test_a_supported_marker_stays_where_the_model_put_it():
    answer = ("In 2012 it investigated the Maltese Commissioner for Health, John Dalli, [1] "
              "who resigned.")
    a = attribute(answer, [ANTI_FRAUD, FRANCOVICH])
    assert a.text == answer and a.kept == 1


def test_a_bare_answer_keeps_the_marker_of_the_source_that_holds_it():
    # SQuAD: "How many people did Hamas kill between 2000 to 2007?" answered "542 [1]";
    # one number is too little to weigh, but the source holds it whole.
    sources = ["From 2000 to 2007, 542 people were killed in 140 suicide bombing attacks.",
               "Hamas won the 2006 Palestinian legislative elections."]
    a = attribute("542 [1]", sources)
    assert (a.text, a.cited) == ("542 [1]", [1])
    assert attribute("542 [2]", sources).cited == [1]  # the marker moves to the holder
    assert attribute("Yes.", sources).cited == []  # framing stays uncited
    # SQuAD: "... on sharia. This is stated in [1][3]." Its capital opens the sentence and
    # names nothing: the framing sentence keeps no marker.
    salafi = ["The Salafi movement put emphasis on sharia.",
              "As stated by its scholars, Salafism rejects innovation."]
    framing = attribute("It put emphasis on sharia [1]. This is stated in [1][2].", salafi)
    assert framing.text == "It put emphasis on sharia [1]. This is stated in."


def test_e5_cosines_count_from_their_floor():
    from assistant.answer import pipeline
    from assistant.embed.base import profile

    vectors = {"a": [1.0, 0.0], "b": [0.85, (1 - 0.85**2) ** 0.5]}  # cosine 0.85

    class Embedder:
        name = "intfloat/multilingual-e5-small"

        def embed_passages(self, texts):
            return np.array([vectors[t] for t in texts])

    searcher = type("S", (), {"embedder": Embedder()})()
    cosines = pipeline._sentence_similarity(searcher, "Who wrote it?", pairwise=True)
    floor = profile(Embedder.name).cosine_floor
    assert 0 < floor < 0.85
    assert np.allclose(cosines(["a"], ["b"]), (0.85 - floor) / (1 - floor))
    assert np.allclose(cosines(["a"], ["a"]), 1.0)


def test_a_names_plural_is_the_same_name():
    # d26 of dev: the source says "比其他现有 DSL 更高的灵活性", the answer "existing DSLs".
    triton = ("Triton 的目标是以比 CUDA 更高的生产力编写快速代码，"
              "同时具有比其他现有 DSL 更高的灵活性。")
    assert unsupported_claims("It is more flexible than other DSLs and CUDA.", [triton]) == []
    assert unsupported_claims("vLLM serves LLM requests.", ["vLLM serves many LLMs."]) == []
    # ... but another name is still another name.
    assert unsupported_claims("It is faster than TVMs.", [triton]) == ["TVMs"]


def test_a_sentence_goes_on_citing_the_answers_source_when_it_supports_it_as_well():
    # SQuAD (Pauli repulsion): the second sentence went to a neighbour that shares one more
    # of its words; the source already cited holds 0.83 of what the neighbour holds.
    pauli = ("Pauli repulsion: when the electron clouds of atoms overlap, the electrons, "
             "being fermions, resist sharing one quantum state.")
    fermions = ("Electrons are fermions: two electrons cannot share one quantum state in an "
                "atom (the exclusion principle).")
    second = "Electrons are fermions that cannot share one quantum state in atoms."
    a = attribute(f"Pauli repulsion occurs when electron clouds overlap [1]. {second}",
                  [pauli, fermions])
    assert a.cited == [1] and a.text.endswith(f"{second} [1]")
    # Alone, the sentence goes to the source that holds the most of it.
    assert attribute(second, [pauli, fermions]).cited == [2]


def test_the_source_that_holds_a_sentences_number_with_its_unit_wins(monkeypatch):
    # CMRC 2018: "单线天竺鲷体长可达多少公分？" The article's first passage has the fish's
    # long name, its next passage the length; the third is another fish's ("12公分").
    sources = [
        "单线天竺鲷（学名：），俗名外斑天竺鲷、大目侧仔，为辐鳍鱼纲鲈形目鲈亚目天竺鲷科的其中"
        "一个种。本鱼分布于印度太平洋区、包括红海、东非、泰国、台湾、印尼、菲律宾。",
        "由吻尖端到尾鳍基底有一黑色暗带；尾鳍基底有一暗斑点。体长可达10公分。喜单独在礁隙或"
        "礁洞中栖息。",
        "背鳍硬棘8枚、软条9枚；臀鳍硬棘2枚、软条8枚。体长可达12公分。本鱼栖息在岩礁中。",
    ]
    a = attribute("单线天竺鲷体长可达10公分。[1]", sources)
    assert (a.text, a.moved) == ("单线天竺鲷体长可达10公分。[2]", 1)
    # A number right after a Chinese character is a number ("可达10"): an invented one
    # is listed.
    assert attribute("单线天竺鲷体长可达15公分。", sources).unsupported == ["15"]
    # No source holds "10 cm" with its unit: the number alone decides, and the source
    # with another length in cm counts half.
    sentence, other = ["It grows to 10 cm long."], ["It is 10 years old.", "It is 8 cm long."]
    row = support_matrix(sentence, other)
    monkeypatch.setattr(attribution, "CLAIM_SHARE", 0.0)
    assert row[0, 1] == pytest.approx(support_matrix(sentence, other)[0, 1] / 2)


def test_a_bare_chinese_answer_is_found_by_its_characters():
    # CMRC 2018: "《大小姐×执事！》的主角名字叫什么？" answered "秋晴". The index cuts the first
    # passage's "日野秋晴" into other words; the second names him by his given name alone.
    sources = [
        "《大小姐×执事！》是上月司所著的轻小说。小学时因父母双亡而被叔父家收养的日野秋晴，决心"
        "进入原为女子学校的超名门学校──白丽陵高中所新设的从育科就读。",
        "结果让学生们造成误会（大多都是女生），对其感到害怕。之后，秋晴阴错阳差的再度与小学时的"
        "青梅竹马──彩京朋美重逢。",
    ]
    assert attribute("秋晴", sources).text == "秋晴[1]"  # both hold it: the first-ranked

    def second_is_closer(sentences, passages):  # a cosine that prefers the other passage
        return np.array([[0.3, 0.9] for _ in sentences])

    assert attribute("秋晴", sources, similarity=second_is_closer).cited == [1]
    assert attribute("彩京", sources).cited == [2]


def test_the_source_that_holds_a_sentences_name_wins(monkeypatch):
    # SQuAD-like: the sentence's words are in both passages on imperialism, its name in one.
    sources = [
        "Theories regarding imperialism are often based on the British experience; the "
        "term imperialism was used for the policies of capitalism.",
        "Lenin argued that imperialism is the highest stage of capitalism.",
    ]
    sentence = ["It was Lenin who wrote that imperialism is a stage of capitalism."]
    row = support_matrix(sentence, sources)
    monkeypatch.setattr(attribution, "CLAIM_SHARE", 0.0)
    words_only = support_matrix(sentence, sources)
    assert row[0, 0] == pytest.approx(words_only[0, 0] / 2)  # half of it was the name's
    assert row[0, 1] == pytest.approx(words_only[0, 1])
