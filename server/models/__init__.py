"""SQLAlchemy models, one module per aggregate. Persistence only: rules live in services."""
from server.models.accounts import AREA_LEVELS, ROLES, Area, User, owner_venues, user_areas  # noqa: F401
from server.models.cases import Case, FollowUp, Sanction, case_hazards  # noqa: F401
from server.models.documents import (Document, NumberCounter, NumberLease, ServiceRecord,  # noqa: F401
                                     VoidedNumber, document_hazards)
from server.models.field import (Campaign, CampaignDoor, FieldHistory, Hazard, HazardEvidence,  # noqa: F401
                                 Inspection, ItemResult, Task, campaign_areas,
                                 inspection_inspectors, task_assignees)
from server.models.reference import CalendarOverride, ChecklistItem, ChecklistTemplate, LegalBasis  # noqa: F401
from server.models.sync import (AuditEvent, Blob, ChangeCounter, Device, ProcessedMutation,  # noqa: F401
                                ScopeExit, take_server_seqs)
from server.models.venues import RISK_LEVELS, VENUE_TYPES, Venue  # noqa: F401

# Entity names used by sync, audit and the API, mapped to their models.
SYNC_ENTITIES = {
    "venue": Venue,
    "task": Task,
    "campaign": Campaign,
    "campaign_door": CampaignDoor,
    "inspection": Inspection,
    "item_result": ItemResult,
    "hazard": Hazard,
    "hazard_evidence": HazardEvidence,
    "document": Document,
    "service_record": ServiceRecord,
    "followup": FollowUp,
    "case": Case,
    "sanction": Sanction,
}
