"""A brief answer followed by the quoted sentence of its source that backs it."""

from __future__ import annotations

from assistant.answer.backing import backing_sentence, is_brief, with_backing

NAME = ("（）是上月司所著的轻小说。小学时因父母双亡而被叔父家收养的日野秋晴，决心进入"
        "白丽陵高中所新设的从育科就读。")
BEDS = ("The Maria Skłodowska-Curie Institute of Oncology is one of the largest oncological "
        "institutions in Europe. The institute has 700 beds.")


def test_a_phrase_is_brief_and_a_restated_question_is_not():
    assert is_brief("秋晴[1]", "《大小姐×执事！》的主角名字叫什么？")
    assert is_brief("Lenin [1]", "Who wrote that imperialism is the highest stage of capitalism?")
    assert not is_brief("推官在明代各府主要负责刑名，处理民刑讼事。[1]",
                        "推官在明代各府主要负责什么？")
    assert not is_brief("The school was renamed as Harvard College in 1639. [1]",
                        "In what year was the school renamed as Harvard College?")
    assert not is_brief("NVLink[1]\n- PCIe[1]", "GPU 卡间互联有哪些技术？")  # a list
    assert not is_brief("", "谁？")


def test_the_sentence_holding_what_the_answer_adds_is_chosen():
    assert backing_sentence("秋晴", "《大小姐×执事！》的主角名字叫什么？", NAME).startswith(
        "小学时因父母双亡")
    # The first sentence shares more of the answer's words; the second holds its number.
    assert backing_sentence("The Institute of Oncology has 700 beds.",
                            "How many beds does the Institute of Oncology have?", BEDS
                            ) == "The institute has 700 beds."
    assert backing_sentence("秋晴", "主角叫什么？", "本作没有主角。") is None


def test_a_brief_cited_answer_gets_its_sentence_quoted_with_the_marker():
    out = with_backing("秋晴[1]", "《大小姐×执事！》的主角名字叫什么？", ["无关。", NAME], [2])
    assert out == ("秋晴[1]\n\n> 小学时因父母双亡而被叔父家收养的日野秋晴，"
                   "决心进入白丽陵高中所新设的从育科就读。[2]")
    out = with_backing("700 [1]", "How many beds does the institute have?", [BEDS], [1])
    assert out == "700 [1]\n\n> The institute has 700 beds. [1]"


def test_left_as_it_is_without_a_citation_or_when_the_quote_would_repeat_it():
    assert with_backing("秋晴", "主角叫什么？", [NAME], []) == "秋晴"
    src = ['"Old Briton" ignored the warning.']
    assert is_brief("Old Briton ignored the warning. [1]", "What did the chief do?")
    assert with_backing("Old Briton ignored the warning. [1]", "What did the chief do?", src, [1]
                        ) == "Old Briton ignored the warning. [1]"
