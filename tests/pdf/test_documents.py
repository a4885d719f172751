"""What each printed document says, read back from the PDF with poppler."""

import hashlib
import re

import pytest

from server.pdf import KINDS, ViewModelError, render, render_html
from tests.pdf import poppler, samples

APPEAL_KINDS = sorted(k for k, kind in KINDS.items() if kind.appeal)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_prints_its_title_number_and_party(kind, rendered):
    vm = samples.view_model(kind)
    text = poppler.text(rendered(kind))
    assert KINDS[kind].title in text
    assert vm["number"] in text
    assert vm["agency"]["name"] in text
    assert vm["party"]["name"] in text
    if kind != "self_rectification_commitment":  # the owner signs it; no seal
        assert "（印章）" in text


@pytest.mark.parametrize("kind", sorted(k for k in KINDS if "hazards" in samples.view_model(k)))
def test_every_hazard_is_printed_with_its_location(kind, rendered):
    text = poppler.text(rendered(kind))
    for hazard in samples.view_model(kind)["hazards"]:
        assert re.sub(r"\s+", "", hazard["description"]) in text
        assert hazard["location"] in text


@pytest.mark.parametrize("kind", APPEAL_KINDS)
def test_kinds_that_order_something_print_the_appeal_rights(kind, rendered):
    text = poppler.text(rendered(kind))
    assert "六十日内依法向宁波市北仑区人民政府申请行政复议" in text
    assert "六个月内依法向宁波市北仑区人民法院提起行政诉讼" in text
    assert "不停止执行" in text


def test_appeal_kinds_are_the_ones_the_law_asks_for():
    assert set(APPEAL_KINDS) >= {"penalty_decision", "temporary_seal", "three_stop_notice",
                                 "deadline_rectification"}


def test_penalty_decision_says_how_to_pay_and_what_happens_if_not(rendered):
    text = poppler.text(rendered("penalty_decision"))
    assert "十五日内" in text and "中国工商银行宁波北仑支行" in text
    assert "每日按罚款数额的3%加处罚款" in text
    assert "申请人民法院强制执行" in text
    assert "8,000元" in text and "捌仟元整" in text
    for item in samples.view_model("penalty_decision")["evidence"]:
        assert item in text


def test_penalty_notice_offers_statement_defence_and_hearing(rendered):
    text = poppler.text(rendered("penalty_notice"))
    assert "陈述和申辩" in text and "三日内" in text
    assert "听证" in text and "五日内" in text


def test_service_receipt_prints_every_service_field(rendered):
    text = poppler.text(rendered("service_receipt"))
    for field in ("送达文书名称", "责令限期改正通知书", "北仑消限字〔2026〕第0001号", "受送达人",
                  "送达时间", "2026年3月3日10时20分", "送达地点", "送达方式", "直接送达",
                  "代收人与受送达人关系", "见证人", "送达人", "备注"):
        assert field in text


def test_three_stop_notice_prints_the_measures_it_is_given(rendered):
    text = poppler.text(rendered("three_stop_notice"))
    assert "停租停水停电" in text


def test_one_page_notice_numbers_its_page(rendered):
    pdf = rendered("deadline_rectification")
    assert poppler.info(pdf)["Pages"] == "1"
    assert "第1页共1页" in poppler.text(pdf)


def test_long_notice_counts_all_its_pages():
    vm = samples.view_model("deadline_rectification", n_hazards=40)
    pdf = render("deadline_rectification", vm)
    text = poppler.text(pdf)
    assert poppler.info(pdf)["Pages"] == "3"
    assert "第1页共3页" in text and "第3页共3页" in text


def test_hazard_photos_go_to_an_annex_page():
    photo, signature = samples.png_bytes(), samples.signature_png()
    loader, (photo_hash, signature_hash) = samples.blob_store(photo, signature)
    vm = samples.view_model("deadline_rectification", photo_hashes=[photo_hash])
    vm["inspectors"][0]["signature_hash"] = signature_hash
    pdf = render("deadline_rectification", vm, blob_loader=loader)
    text = poppler.text(pdf)
    assert poppler.info(pdf)["Pages"] == "2"
    assert "（照片见附件1）" in text and "附件：火灾隐患照片" in text
    assert poppler.image_count(pdf) == 3  # photo, signature, QR code


def test_svg_signatures_are_drawn():
    svg = (b'<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40">'
           b'<path d="M5 30 C30 5 50 40 80 10 S110 30 115 20" stroke="#000" fill="none"/></svg>')
    sha = hashlib.sha256(svg).hexdigest()
    vm = samples.view_model("deadline_rectification")
    vm["inspectors"][1]["signature_hash"] = sha
    pdf = render("deadline_rectification", vm, blob_loader={sha: (svg, "image/svg+xml")}.get)
    unsigned = render("deadline_rectification", samples.view_model("deadline_rectification"))
    # the signature's two Bézier segments are drawn as vector curves ("c" operators)
    assert poppler.curve_count(pdf) == poppler.curve_count(unsigned) + 2


def test_blank_fields_print_as_blanks_not_as_none():
    vm = samples.view_model("deadline_rectification")
    del vm["reinspection"], vm["receipt"]
    vm["inspectors"] = vm["inspectors"][:1]
    vm["party"]["responsible_person"] = None
    text = poppler.text(render("deadline_rectification", vm))
    assert "复查安排：" in text
    for leak in ("None", "Undefined", "undefined", "{{", "{%"):
        assert leak not in text


def test_refused_receipt_names_the_witness():
    vm = samples.view_model("deadline_rectification")
    vm["receipt"] = {"refused": True, "refusal_note": "称负责人不在", "witness": "张卫东"}
    text = poppler.text(render("deadline_rectification", vm))
    assert "当事人拒绝签收（称负责人不在），见证人：张卫东" in text


@pytest.mark.parametrize("key", ["number", "deadline", "hazards", "appeal"])
def test_missing_required_key_is_named(key):
    vm = samples.view_model("deadline_rectification")
    del vm[key]
    with pytest.raises(ViewModelError, match=key):
        render("deadline_rectification", vm)


def test_unknown_kind_is_refused():
    with pytest.raises(ViewModelError, match="unknown document kind"):
        render("warrant", samples.view_model("deadline_rectification"))


def test_html_preview_is_self_contained():
    html = render_html("deadline_rectification", samples.view_model("deadline_rectification"))
    assert "<style>" in html and "@page" in html
    assert "<svg" in html and "fs-qr:" not in html  # the QR code is inline
    assert "<title>责令限期改正通知书 北仑消限字〔2026〕第0001号</title>" in html


def test_html_preview_maps_blobs_through_the_callers_urls():
    loader, (photo_hash,) = samples.blob_store(samples.png_bytes())
    vm = samples.view_model("deadline_rectification", photo_hashes=[photo_hash])
    html = render_html("deadline_rectification", vm, blob_url=lambda sha: f"/api/v1/blobs/{sha}")
    assert f'src="/api/v1/blobs/{photo_hash}"' in html
