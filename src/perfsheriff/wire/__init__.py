"""The HTTP API's JSON bodies as pydantic models, shared by the server and its client.

The API's routes declare these as their request bodies and response models
(so ``/openapi.json`` describes every answer; ``docs/openapi.json`` is its
reviewed copy), and :mod:`perfsheriff.client` reads the answers with the same
models. The package imports only the core (``model``, ``stats``) and pydantic,
so an agent machine loads it without the server's dependencies.

- :mod:`~perfsheriff.wire.values`: the bases (strict bodies, lenient answers) and field types;
- :mod:`~perfsheriff.wire.requests`: what the API accepts;
- :mod:`~perfsheriff.wire.reads`: what its reads answer (projects, series, alerts, comparisons, summaries);
- :mod:`~perfsheriff.wire.stats`: how well the sheriffing works (``/stats``);
- :mod:`~perfsheriff.wire.queue`: what uploads, the job queue and tokens answer; health;
- :mod:`~perfsheriff.wire.errors`: the error envelope, and the one map from errors to HTTP statuses.

The wire is versioned by its path, ``/api/v1``: a field may be added to an
answer (clients ignore fields they do not know), none removed or changed.
"""

from perfsheriff.wire.errors import ErrorDetail, ErrorEnvelope, envelope, field_of, status_of
from perfsheriff.wire.queue import (
    BudgetStatus,
    Claim,
    ClaimedJob,
    Health,
    Job,
    JobBenchmark,
    JobCreated,
    JobList,
    JobStateAnswer,
    LeaseRenewed,
    Token,
    TokenCreated,
    TokenList,
    UploadResult,
)
from perfsheriff.wire.reads import (
    Alert,
    AlertList,
    AlertMade,
    Comparison,
    GraphAlert,
    NoteAdded,
    Project,
    ProjectList,
    RevisionPage,
    Series,
    SeriesData,
    SeriesList,
    Summary,
    SummaryDetail,
    SummaryList,
)
from perfsheriff.wire.requests import (
    AlertCreate,
    ClaimRequest,
    FailRequest,
    JobCreate,
    JobRef,
    NoteBody,
    ReassignBody,
    ReleaseRequest,
    RenewRequest,
    RunUpload,
    TokenCreate,
    TransitionBody,
)
from perfsheriff.wire.stats import SheriffingStats
from perfsheriff.wire.values import has_nul

__all__ = [
    "Alert",
    "AlertCreate",
    "AlertList",
    "AlertMade",
    "BudgetStatus",
    "Claim",
    "ClaimRequest",
    "ClaimedJob",
    "Comparison",
    "ErrorDetail",
    "ErrorEnvelope",
    "FailRequest",
    "GraphAlert",
    "Health",
    "Job",
    "JobBenchmark",
    "JobCreate",
    "JobCreated",
    "JobList",
    "JobRef",
    "JobStateAnswer",
    "LeaseRenewed",
    "NoteAdded",
    "NoteBody",
    "Project",
    "ProjectList",
    "ReassignBody",
    "ReleaseRequest",
    "RenewRequest",
    "RevisionPage",
    "RunUpload",
    "Series",
    "SeriesData",
    "SeriesList",
    "SheriffingStats",
    "Summary",
    "SummaryDetail",
    "SummaryList",
    "Token",
    "TokenCreate",
    "TokenCreated",
    "TokenList",
    "TransitionBody",
    "UploadResult",
    "envelope",
    "field_of",
    "has_nul",
    "status_of",
]
