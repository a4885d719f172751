"""Complete view models for every document kind, as the document service would build them.

Shared by tests/pdf and bench/bench_pdf.py. Periods and article numbers are in the data,
as DOMAIN.md asks, never in the templates.
"""

import copy
import hashlib
import io

AGENCY = {"name": "宁波市北仑区消防救援大队", "short_name": "北仑消"}

PARTY = {
    "name": "宁波市北仑区新碶街道堃喆五金加工厂",
    "address": "宁波市北仑区新碶街道明州路588号",
    "responsible_person": "王䶮",
    "responsible_title": "经营者",
    "id_label": "统一社会信用代码",
    "id_number": "92330206MA2H4K7X3B",
    "phone": "0574-86801234",
    "role": "经营者",
}

VENUE = {
    "name": "堃喆五金加工厂（三合一场所）",
    "address": "宁波市北仑区新碶街道明州路588号",
    "type_label": "三小场所",
}

INSPECTORS = [
    {"name": "李明", "enforcement_id": "33020600123", "signature_hash": None},
    {"name": "陈𠮷", "enforcement_id": "33020600456", "signature_hash": None},
]

# Six hazards, as on the one-page notice SETUP-NOTES measured.
HAZARDS = [
    ("一层生产车间", "车间内东侧安全出口被成品货架堵塞，无法正常开启",
     "《中华人民共和国消防法》第二十八条", "清除货架，保持安全出口畅通"),
    ("地下室", "地下室应急照明系统失效，断电后灯具不亮",
     "《中华人民共和国消防法》第十六条第一款第二项", "维修应急照明，确保断电后正常启用"),
    ("二层住宿区", "二层员工住宿区与生产车间未采取防火分隔措施，形成“三合一”",
     "《中华人民共和国消防法》第十九条第二款", "住宿区与车间用防火墙分隔，设独立疏散通道"),
    ("楼梯间", "楼梯间内停放电动自行车3辆并私拉电线充电",
     "《高层民用建筑消防安全管理规定》第三十七条", "移出电动自行车，拆除私拉电线"),
    ("一层仓库", "仓库内灭火器压力不足（指针位于红区）共4具",
     "《中华人民共和国消防法》第十六条第一款第二项", "更换或充装灭火器"),
    ("办公室", "消防安全责任人未组织防火检查，无检查记录",
     "《中华人民共和国消防法》第十六条第一款第五项", "建立防火检查制度并如实记录"),
]


def hazards(n=6, photo_hashes=()):
    """n hazard rows (cycling the six above); the first gets `photo_hashes`."""
    rows = []
    for i in range(n):
        location, description, basis, requirement = HAZARDS[i % len(HAZARDS)]
        rows.append({
            "seq": i + 1,
            "location": location,
            "description": description,
            "legal_basis_text": basis,
            "requirement": requirement,
            "photo_hashes": list(photo_hashes) if i == 0 else [],
        })
    return rows


APPEAL = {
    "review_body": "宁波市北仑区人民政府",
    "review_days": 60,
    "court": "宁波市北仑区人民法院",
    "litigation_months": 6,
}

ART_60 = {"law": "中华人民共和国消防法", "article": 60, "clause": 1, "item": 1,
          "text": "消防设施、器材或者消防安全标志的配置、设置不符合国家标准、行业标准，"
                  "或者未保持完好有效的"}
ART_60_3 = {"law": "中华人民共和国消防法", "article": 60, "clause": 1, "item": 3,
            "text": "占用、堵塞、封闭疏散通道、安全出口或者有其他妨碍安全疏散行为的"}


def base(kind_serial, **extra):
    vm = {
        "agency": dict(AGENCY),
        "number": f"北仑消{kind_serial}字〔2026〕第0001号",
        "party": dict(PARTY),
        "venue": dict(VENUE),
        "inspection_date": "2026-03-02",
        "issued_on": "2026-03-03",
        "verify_url": "https://firesweep.example.cn/verify/K7Q2-9XWD-3MPA",
        "verify_code": "K7Q2-9XWD-3MPA",
        "inspectors": copy.deepcopy(INSPECTORS),
        "party_signature_hash": None,
        "receipt": {"name": "王䶮", "signed_at": "2026-03-03T10:20"},
    }
    vm.update(extra)
    return vm


def view_model(kind, *, n_hazards=6, photo_hashes=(), serial=1):
    """A complete view model of `kind`; `serial` changes the document number."""
    builders = {
        "inspection_record": lambda: base(
            "检", hazards=hazards(n_hazards, photo_hashes),
            inspection={
                "started_at": "2026-03-02T09:30", "ended_at": "2026-03-02T10:40",
                "type_label": "日常消防监督检查", "accompanied_by": "王䶮（经营者）",
                "checks": [{"item": "安全出口、疏散通道是否畅通", "result": "不合格"},
                          {"item": "应急照明、疏散指示标志是否完好有效", "result": "不合格"},
                          {"item": "灭火器配置及有效期", "result": "不合格"},
                          {"item": "消防安全制度及防火检查记录", "result": "不合格"},
                          {"item": "电气线路敷设", "result": "合格"}],
                "summary": "现场检查发现火灾隐患6处，已当场告知负责人。",
                "party_opinion": "对检查情况无异议。",
            }),
        "immediate_rectification": lambda: base(
            "立", hazards=hazards(min(n_hazards, 2), photo_hashes), legal_bases=[ART_60_3],
            reinspection="上述违法行为已责令当场改正，检查人员现场确认。"),
        "deadline_rectification": lambda: base(
            "限", hazards=hazards(n_hazards, photo_hashes), legal_bases=[ART_60, ART_60_3],
            deadline="2026-03-17",
            reinspection="本大队将于改正期限届满之日起三个工作日内进行复查；你单位（场所）"
                         "也可在改正完毕后通过系统申请复查。",
            appeal=dict(APPEAL)),
        "major_hazard_rectification": lambda: base(
            "重改", hazards=hazards(min(n_hazards, 3), photo_hashes),
            legal_bases=[{"law": "中华人民共和国消防法", "article": 55}],
            determination={"method": "集体讨论", "date": "2026-03-05",
                           "basis": "《重大火灾隐患判定方法》（GB 35181—2017）第6.2条"},
            deadline="2026-04-30", interim_measures="住宿区人员全部撤离，每日两次防火巡查",
            report_to="北仑区人民政府",
            reinspection="整改完毕后向本大队申请复查。", appeal=dict(APPEAL)),
        "reinspection_opinion": lambda: base(
            "复", hazards=[dict(h, result=("已改正" if h["seq"] != 3 else "未改正"))
                          for h in hazards(n_hazards)],
            application_date="2026-03-16", reinspection_date="2026-03-18",
            original={"name": "责令限期改正通知书", "number": "北仑消限字〔2026〕第0001号"},
            conclusion="第1、2、4、5、6项已改正，第3项未改正。",
            followup="对未改正的违法行为，本大队将依法予以处罚。"),
        "temporary_seal": lambda: base(
            "封", facts="你单位二层员工住宿区与生产车间未采取防火分隔，且车间内安全出口被堵塞，"
                       "人员密集时发生火灾可能造成群死群伤。",
            hazards=hazards(min(n_hazards, 2)),
            hearing="本机关已于2026年3月5日听取你单位意见。",
            legal_bases=[{"law": "中华人民共和国消防法", "article": 54},
                         {"law": "消防监督检查规定", "article": 22}],
            seal={"decided_by": "集体研究决定", "scope": "二层员工住宿区及一层生产车间",
                  "starts_on": "2026-03-06", "ends_on": "2026-04-05",
                  "release_conditions": "火灾隐患消除，经复查合格"},
            appeal=dict(APPEAL)),
        "penalty_notice": lambda: base(
            "罚告", facts="2026年3月2日，本大队检查发现你单位安全出口被货架堵塞，"
                         "经责令限期改正后逾期未改正。",
            evidence=["现场检查笔录", "现场照片6张", "询问笔录"],
            legal_bases=[ART_60_3],
            sanctions=[{"kind_label": "罚款", "amount": 8000, "basis": ART_60_3}],
            rights={"statement_days": 3, "hearing": True, "hearing_days": 5,
                    "contact": "李明 0574-86805119"}),
        "penalty_decision": lambda: base(
            "罚决", facts="2026年3月2日，本大队检查发现你单位安全出口被货架堵塞；"
                         "3月18日复查时仍未改正。",
            evidence=["《消防监督检查记录》一份", "《责令限期改正通知书》一份",
                      "现场照片6张", "当事人询问笔录一份"],
            case={"opened_on": "2026-03-19"},
            statement="当事人在法定期限内未提出陈述、申辩。",
            legal_bases=[ART_60_3],
            sanctions=[{"kind_label": "罚款", "amount": 8000, "basis": ART_60_3},
                       {"kind_label": "警告", "amount": None, "basis": ART_60_3}],
            payment={"days": 15, "bank": "中国工商银行宁波北仑支行", "late_fee_percent": 3},
            appeal=dict(APPEAL)),
        "three_stop_notice": lambda: base(
            "停", facts="你处出租房屋存在违规搭建隔断、电动自行车室内充电等重大火灾隐患，"
                       "经责令改正后拒不改正。",
            legal_bases=[{"law": "浙江省消防条例", "article": 51}],
            measures=["停租", "停水", "停电"], scope="北仑区新碶街道明州路588号出租房",
            effective_from="2026-03-20T08:00", appeal=dict(APPEAL)),
        "self_rectification_commitment": lambda: base(
            "诺", hazards=hazards(min(n_hazards, 3)), deadline="2026-03-17",
            commitments=["整改完毕后主动申请复查"], receipt={"signed_at": "2026-03-03"}),
        "service_receipt": lambda: base(
            "送", service={
                "document_name": "责令限期改正通知书",
                "document_number": "北仑消限字〔2026〕第0001号",
                "serving_body": "宁波市北仑区消防救援大队",
                "addressee": PARTY["name"],
                "served_at": "2026-03-03T10:20",
                "place": PARTY["address"],
                "method": "直接送达",
                "recipient_name": "王䶮",
                "recipient_relation": "本人",
                "witness": "",
                "servers": [{"name": "李明"}, {"name": "陈𠮷"}],
                "remarks": "",
            }),
    }
    vm = builders[kind]()
    vm["number"] = vm["number"].replace("第0001号", f"第{serial:04d}号")
    return vm


def png_bytes(color=(200, 60, 40), size=(320, 240)):
    """A small real PNG (a photo or signature stand-in)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def signature_png(seed=1):
    """A stroke on a transparent background, like the PWA's signature pad produces."""
    from PIL import Image, ImageDraw

    img = Image.new("RGBA", (360, 120), (255, 255, 255, 0))
    draw = ImageDraw.Draw(img)
    points = [(20 + 32 * i, 60 + ((i * 37 * seed) % 50) - 25) for i in range(11)]
    draw.line(points, fill=(10, 10, 60, 255), width=6, joint="curve")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def blob_store(*blobs):
    """(loader, hashes) for a dict-backed blob store holding `blobs` as PNGs."""
    store = {hashlib.sha256(b).hexdigest(): (b, "image/png") for b in blobs}
    return store.get, list(store)
