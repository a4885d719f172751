"""Embedded subset CJK fonts, rare characters, and the number formats documents use."""

import io
import re
from decimal import Decimal

import pytest
from fontTools.ttLib import TTFont

from server.pdf import fonts, render
from server.pdf.render import citation, cn_date, cn_datetime, cn_int, rmb_upper, yuan
from tests.pdf import poppler, samples

RARE = "䶮堃喆𠮷碶"  # outside GB 2312; 䶮 is in CJK Ext. A, 𠮷 in Ext. B


def test_pdf_embeds_only_subset_cjk_fonts(rendered):
    rows = poppler.fonts(rendered("deadline_rectification"))
    assert {row["name"].split("+", 1)[1] for row in rows} == {
        "Noto-Serif-CJK-SC", "Noto-Sans-CJK-SC-Bold"}
    for row in rows:
        assert re.fullmatch(r"[A-Z]{6}\+.+", row["name"])
        assert (row["emb"], row["sub"], row["uni"]) == ("yes", "yes", "yes")
        assert row["type"].startswith("CID Type 0C")


def test_rare_characters_in_names_render_as_themselves(rendered):
    vm = samples.view_model("deadline_rectification")  # names with 碶 堃 喆 䶮 𠮷
    text = poppler.text(rendered("deadline_rectification"))
    for name in (vm["party"]["name"], vm["party"]["responsible_person"],
                 vm["inspectors"][1]["name"]):
        assert set(name) & set(RARE)
        assert name in text


@pytest.mark.parametrize("key", sorted(fonts.FACES))
def test_rare_characters_have_real_glyphs_in_the_subset(key):
    codepoints = frozenset(map(ord, RARE))
    assert codepoints <= fonts.coverage(key)
    font = TTFont(io.BytesIO(fonts.subset(key, codepoints)))
    cmap = font.getBestCmap()
    charstrings = font["CFF "].cff.topDictIndex[0].CharStrings
    for char in RARE:
        glyph = cmap[ord(char)]
        assert glyph != ".notdef"
        charstrings[glyph].decompile()
        assert len(charstrings[glyph].program) > 10, f"{char} has an empty outline"


def test_subset_is_small_and_renumbered():
    data = fonts.subset("serif", frozenset(map(ord, "消防救援大队0123")))
    font = TTFont(io.BytesIO(data))
    assert len(font.getGlyphOrder()) < 20
    assert len(data) < 10_000


def test_characters_no_noto_face_has_fall_back_to_a_system_font():
    vm = samples.view_model("deadline_rectification")
    vm["hazards"][0]["description"] = "标志牌写有⁋符号"  # U+204B, not in Noto CJK
    assert ord("⁋") not in fonts.coverage("serif")
    pdf = render("deadline_rectification", vm)
    assert "标志牌写有⁋符号" in poppler.text(pdf)
    assert any("DejaVu" in row["name"] for row in poppler.fonts(pdf))


@pytest.mark.parametrize("value, words", [
    (0, "零"), (1, "一"), (10, "十"), (15, "十五"), (60, "六十"), (105, "一百零五"),
    (110, "一百一十"), (1001, "一千零一"), ("第六十条", "第六十条")])
def test_cn_int(value, words):
    assert cn_int(value) == words


@pytest.mark.parametrize("amount, words", [
    (8000, "捌仟元整"), (500, "伍佰元整"), (250000, "贰拾伍万元整"), (10050, "壹万零伍拾元整"),
    (100000, "壹拾万元整"), ("1234.5", "壹仟贰佰叁拾肆元伍角"), (Decimal("30000.05"), "叁万元零伍分"),
    (300000000, "叁亿元整"), (0, "零元整")])
def test_rmb_upper(amount, words):
    assert rmb_upper(amount) == words


def test_money_and_dates_formats():
    assert yuan(8000) == "8,000元" and yuan("1234.5") == "1,234.50元"
    assert cn_date("2026-03-02") == "2026年3月2日"
    assert cn_datetime("2026-03-02T09:05") == "2026年3月2日9时05分"
    assert cn_datetime("2026-03-02") == "2026年3月2日"
    assert citation({"law": "中华人民共和国消防法", "article": 60, "clause": 1, "item": 3}) == \
        "《中华人民共和国消防法》第六十条第一款第三项"
