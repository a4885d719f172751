"""How each document kind is printed: template, title, and what the view model must carry.

Who may issue a kind, its number prefix and whether it needs approval are service rules
(server/services/); this table only says what the paper looks like.
"""

from dataclasses import dataclass

# Keys every kind needs; the per-kind tuples below add to these.
COMMON_REQUIRED = ("agency", "number", "issued_on", "verify_url")


@dataclass(frozen=True)
class DocumentKind:
    """The printing side of a document kind."""

    name: str
    title: str  # default for view_model["kind_title"]
    required: tuple = ()
    photo_annex: bool = False  # hazard photos on an annex page
    appeal: bool = False  # prints the 行政复议 / 行政诉讼 paragraph

    @property
    def template(self):
        return f"{self.name}.html"


KINDS = {kind.name: kind for kind in (
    DocumentKind("inspection_record", "消防监督检查记录",
                 ("party", "venue", "inspection_date", "inspectors"), photo_annex=True),
    DocumentKind("immediate_rectification", "责令立即改正通知书",
                 ("party", "venue", "inspection_date", "hazards", "inspectors"),
                 photo_annex=True),
    DocumentKind("deadline_rectification", "责令限期改正通知书",
                 ("party", "venue", "inspection_date", "hazards", "deadline", "inspectors",
                  "appeal"), photo_annex=True, appeal=True),
    DocumentKind("major_hazard_rectification", "重大火灾隐患整改通知书",
                 ("party", "venue", "hazards", "deadline", "inspectors", "appeal"),
                 photo_annex=True, appeal=True),
    DocumentKind("reinspection_opinion", "复查意见书",
                 ("party", "venue", "hazards", "inspectors")),
    DocumentKind("temporary_seal", "临时查封决定书",
                 ("party", "venue", "facts", "legal_bases", "seal", "appeal"), appeal=True),
    DocumentKind("penalty_notice", "行政处罚告知书",
                 ("party", "facts", "legal_bases", "sanctions", "rights")),
    DocumentKind("penalty_decision", "行政处罚决定书",
                 ("party", "facts", "evidence", "legal_bases", "sanctions", "payment",
                  "appeal"), appeal=True),
    DocumentKind("three_stop_notice", "“三停”措施通知书",
                 ("party", "venue", "facts", "measures", "appeal"), appeal=True),
    DocumentKind("self_rectification_commitment", "自行整改承诺书",
                 ("party", "venue", "hazards", "deadline")),
    DocumentKind("service_receipt", "送达回证", ("service",)),
)}
