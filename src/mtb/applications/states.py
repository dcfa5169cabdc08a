"""Application statuses and the one table of allowed transitions (architecture.md).

`draft → submitted → in_review → approved | returned | rejected`; `returned → submitted` (resubmission);
`draft | submitted → withdrawn`. Only `service.set_status` changes a status.
"""

from __future__ import annotations

from enum import StrEnum


class ApplicationStatus(StrEnum):
    draft = "draft"
    submitted = "submitted"
    in_review = "in_review"
    approved = "approved"
    returned = "returned"
    rejected = "rejected"
    withdrawn = "withdrawn"


Status = ApplicationStatus  # the name used inside MTB; clients see ApplicationStatus


ALLOWED: dict[Status, frozenset[Status]] = {
    Status.draft: frozenset({Status.submitted, Status.withdrawn}),
    Status.submitted: frozenset({Status.in_review, Status.withdrawn}),
    Status.in_review: frozenset({Status.approved, Status.returned, Status.rejected}),
    Status.returned: frozenset({Status.submitted}),
    Status.approved: frozenset(),
    Status.rejected: frozenset(),
    Status.withdrawn: frozenset(),
}

# Statuses in which the person still has this application open (one per person and disease).
OPEN: frozenset[Status] = frozenset({Status.draft, Status.submitted, Status.in_review, Status.returned})
# Statuses in which the applicant may add, replace or remove materials.
EDITABLE: frozenset[Status] = frozenset({Status.draft, Status.returned})

LABELS: dict[Status, str] = {
    Status.draft: "草稿",
    Status.submitted: "已提交，待审核",
    Status.in_review: "审核中",
    Status.approved: "审核通过",
    Status.returned: "退回补正",
    Status.rejected: "不予通过",
    Status.withdrawn: "已撤回",
}
