"""The source's own words put back where the model nearly copied them (verbatim.py)."""

import pytest

from assistant.answer.verbatim import restore

ALLISON = ("后来艾莉森发现，卡尔对她先前的种种海誓山盟都不过是反射性的应允，"
           "并非真正发自内心的爱，愤而提出分手。")


@pytest.mark.parametrize(("answer", "source", "restored"), [
    # A dropped comma, a swapped pair of quotes, an added character, a changed word.
    ("艾莉森发现卡尔对她先前的种种海誓山盟都不过是反射性的应允。[1]", ALLISON,
     "艾莉森发现，卡尔对她先前的种种海誓山盟都不过是反射性的应允。[1]"),
    ("相对于和语词，汉语词较多用于“理性”领域。[1]",
     "相对于和语词，汉语词较多用于「理性」领域，和语词则用于感性。",
     "相对于和语词，汉语词较多用于「理性」领域。[1]"),
    ("上海豫园足球俱乐部总部设在上海市南市区的城隍庙豫园旁。[2]",
     "俱乐部成立于1994年，总部设在上海南市区的城隍庙豫园旁。",
     "上海豫园足球俱乐部总部设在上海南市区的城隍庙豫园旁。[2]"),
    ("泰国皇家军队的主要职责是保护泰王国的主权和领土完整。",
     "泰国皇家军队的主要职能是保护泰王国的主权和领土完整，以及对抗威胁。",
     "泰国皇家军队的主要职能是保护泰王国的主权和领土完整。"),
])
def test_a_near_copy_gets_the_sources_words(answer, source, restored):
    assert restore(answer, ["无关的资料：天气很好。", source]) == restored


@pytest.mark.parametrize(("answer", "sources"), [
    # A different figure is a different claim: never bridged, whichever source has it.
    ("单线天竺鲷体长可达10公分，栖息在珊瑚礁。", ["单线天竺鲷体长可达12公分，栖息在珊瑚礁。"]),
    # The model joined two source sentences, or a list's items: the layout stays out.
    ("垃圾堆放场则在市区之外围，有些又称为垃圾堆填区，是非露天的地方。",
     ["垃圾堆放场则在市区之外围，有些又称为垃圾堆填区。它是非露天的地方。"]),
    ("LAKE 是支持机器学习辅助的内核系统，提供一套API和机制用于收集特征。",
     ["LAKE 是支持机器学习辅助的内核系统\n- 提供一套API和机制用于收集特征"]),
    # A paraphrase, and a short answer, are the model's own.
    ("这场战役最后是法国军队打赢了。", ["罗克鲁瓦战役以法国军队的获胜而告终，西班牙步兵覆灭。"]),
    ("秋晴[1]", ["小学时被叔父家收养的日野秋晴，决心进入白丽陵高中。"]),
    # English is left as written: a word changed there is grammar (measured: "drugs that
    # prevent" put back into "Cyclosporin ... prevents" broke the sentence).
    ("Warsaw was the most diverse of in Poland.", ["Warsaw was the most diverse city in Poland."]),
])
def test_what_is_not_a_near_copy_stays_as_written(answer, sources):
    assert restore(answer, sources) == answer


def test_a_verbatim_copy_in_one_source_is_kept_over_a_near_copy_in_another():
    answer = "成年钩鼻海蛇体长约1.1米，栖息在浅海。"
    sources = ["成年钩鼻海蛇体长约为1.1米，栖息在浅海。", "成年钩鼻海蛇体长约1.1米，栖息在浅海。"]
    assert restore(answer, sources) == answer


def test_framing_and_markers_outside_the_copy_stay():
    answer = ("根据资料，[1]艾莉森发现卡尔对她先前的种种海誓山盟都不过是反射性的应允。[1][2]"
              "\n- 另见 [2]")
    out = restore(answer, [ALLISON])
    assert out == ("根据资料，[1]艾莉森发现，卡尔对她先前的种种海誓山盟都不过是反射性的应允。"
                   "[1][2]\n- 另见 [2]")
