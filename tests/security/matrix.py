"""Who may do what: the expected answer of every route for every actor.

"ok" means access granted (the route then answers by its own rules: 2xx, a redirect, 409, 422 ...);
401/403/404 are exact; "login" and "staff_login" are redirects to those login pages.
"""

from __future__ import annotations

from typing import Literal

Expect = int | Literal["ok", "login", "staff_login"]
Row = dict[str, Expect]

ALL_OK: Row = {a: "ok" for a in ("anonymous", "applicant", "beneficiary", "other", "reviewer",
                                 "reviewer_other_region", "window", "admin", "hospital")}


def api(*, persons: Expect, other: Expect, reviewer: Expect, reviewer_other: Expect, window: Expect,
        admin: Expect, beneficiary: Expect | None = None, hospital: Expect = 401) -> Row:
    return {"anonymous": 401, "applicant": persons, "beneficiary": persons if beneficiary is None else beneficiary,
            "other": other, "reviewer": reviewer, "reviewer_other_region": reviewer_other, "window": window,
            "admin": admin, "hospital": hospital}


ANY_TOKEN = api(persons="ok", other="ok", reviewer="ok", reviewer_other="ok", window="ok", admin="ok")
APP_READ = api(persons="ok", other=404, reviewer="ok", reviewer_other=404, window="ok", admin="ok")
APP_WRITE = api(persons="ok", other=404, reviewer=403, reviewer_other=403, window=403, admin=403)
APP_CREATE = api(persons="ok", other="ok", reviewer=403, reviewer_other=403, window="ok", admin=403)
PERSON_ONLY = api(persons="ok", other="ok", reviewer=403, reviewer_other=403, window=403, admin=403)
# Filing Q and message N are the beneficiary's: the agent and the other person do not see them.
PERSON_OWN = api(persons=404, beneficiary="ok", other=404, reviewer=403, reviewer_other=403, window=403, admin=403)
REVIEW_LIST = api(persons=403, other=403, reviewer="ok", reviewer_other="ok", window=403, admin="ok")
REVIEW_ONE = api(persons=403, other=403, reviewer="ok", reviewer_other=404, window=403, admin="ok")
ADMIN_ONLY = api(persons=403, other=403, reviewer=403, reviewer_other=403, window=403, admin="ok")
# A filing read through FHIR: its owner (not an agent) and every staff member of its region.
FILING_READ = api(persons=404, beneficiary="ok", other=404, reviewer="ok", reviewer_other=404, window="ok", admin="ok")
HOSPITAL_ONLY = api(persons=401, other=401, reviewer=401, reviewer_other=401, window=401, admin=401,
                    hospital="ok")


def page(*, persons: Expect, other: Expect, staff: Expect) -> Row:
    return {"anonymous": "login", "applicant": persons, "beneficiary": persons, "other": other,
            "reviewer": staff, "reviewer_other_region": staff, "window": staff, "admin": staff, "hospital": "login"}


PERSON_PAGE = page(persons="ok", other="ok", staff="login")
APP_PAGE = page(persons="ok", other=404, staff="login")
OWN_FILING_PAGE = {**page(persons=404, other=404, staff="login"), "beneficiary": "ok"}


def staff_page(*, reviewer: Expect, reviewer_other: Expect, window: Expect, admin: Expect) -> Row:
    return {"anonymous": "staff_login", "applicant": "staff_login", "beneficiary": "staff_login",
            "other": "staff_login", "reviewer": reviewer, "reviewer_other_region": reviewer_other,
            "window": window, "admin": admin, "hospital": "staff_login"}


STAFF_ANY = staff_page(reviewer="ok", reviewer_other="ok", window="ok", admin="ok")
STAFF_REVIEW_ONE = staff_page(reviewer="ok", reviewer_other=404, window=403, admin="ok")
STAFF_FILE = staff_page(reviewer="ok", reviewer_other=404, window="ok", admin="ok")
# The window pages (and the window entry W): the region's clerks and administrators.
STAFF_WINDOW = staff_page(reviewer=403, reviewer_other=403, window="ok", admin="ok")
STAFF_ADMIN = staff_page(reviewer=403, reviewer_other=403, window=403, admin="ok")

MATRIX: dict[tuple[str, str], Row] = {
    ("GET", "/api/v1/health"): ALL_OK,
    ("GET", "/docs"): ALL_OK,  # the API's documentation page (mtb/apidocs)
    ("GET", "/api/v1/health/ready"): ALL_OK,
    # Allowed by network (the matrix's clients are on loopback) or token; tests/test_observability.py refuses
    # the others.
    ("GET", "/metrics"): ALL_OK,
    ("GET", "/api/v1/regions"): ALL_OK,
    ("GET", "/api/v1/regions/{region_code}"): ALL_OK,
    ("GET", "/api/v1/regions/{region_code}/diseases"): ALL_OK,
    ("GET", "/api/v1/regions/{region_code}/hospitals"): ALL_OK,
    ("GET", "/api/v1/calendar/{year}"): ALL_OK,
    ("POST", "/api/v1/auth/real-name"): ALL_OK,
    ("POST", "/api/v1/auth/staff"): ALL_OK,
    ("POST", "/api/v1/auth/channel"): ALL_OK,  # a channel's signed assertion is the credential
    ("GET", "/api/v1/admin/channels"): ADMIN_ONLY,
    ("POST", "/api/v1/admin/channels"): ADMIN_ONLY,
    ("PUT", "/api/v1/admin/channels/{channel_id}/keys"): ADMIN_ONLY,
    ("POST", "/api/v1/admin/channels/{channel_id}/disable"): ADMIN_ONLY,
    ("POST", "/api/v1/admin/channels/{channel_id}/enable"): ADMIN_ONLY,
    ("GET", "/api/v1/admin/channels/{channel_id}/webhooks"): ADMIN_ONLY,
    ("POST", "/api/v1/admin/channels/{channel_id}/webhooks"): ADMIN_ONLY,
    ("POST", "/api/v1/admin/webhooks/{endpoint_id}/disable"): ADMIN_ONLY,
    ("POST", "/api/v1/admin/webhooks/{endpoint_id}/enable"): ADMIN_ONLY,
    ("GET", "/api/v1/admin/webhook-messages"): ADMIN_ONLY,
    ("POST", "/api/v1/admin/webhook-messages/{message_id}/redeliver"): ADMIN_ONLY,
    ("GET", "/api/v1/me"): ANY_TOKEN,
    ("POST", "/api/v1/auth/logout"): ANY_TOKEN,
    ("POST", "/api/v1/applications"): APP_CREATE,
    ("GET", "/api/v1/applications"): ANY_TOKEN,
    ("GET", "/api/v1/applications/{application_id}"): APP_READ,
    ("GET", "/api/v1/applications/{application_id}/status"): APP_WRITE,
    ("GET", "/api/v1/applications/{application_id}/form.pdf"): APP_READ,
    ("GET", "/api/v1/applications/{application_id}/materials/{material_id}/file"): APP_READ,
    ("POST", "/api/v1/applications/{application_id}/submit"): APP_WRITE,
    ("POST", "/api/v1/applications/{application_id}/withdraw"): APP_WRITE,
    ("POST", "/api/v1/applications/{application_id}/materials"): APP_WRITE,
    ("PUT", "/api/v1/applications/{application_id}/materials/{material_id}"): APP_WRITE,
    ("DELETE", "/api/v1/applications/{application_id}/materials/{material_id}"): APP_WRITE,
    ("POST", "/api/v1/cross-region-filings"): PERSON_ONLY,
    ("GET", "/api/v1/cross-region-filings"): PERSON_ONLY,
    ("GET", "/api/v1/notifications"): PERSON_ONLY,
    ("POST", "/api/v1/notifications/{notification_id}/read"): PERSON_OWN,
    ("GET", "/api/v1/qualifications"): PERSON_ONLY,
    ("GET", "/api/v1/qualifications/{qualification_id}"): PERSON_OWN,
    ("POST", "/api/v1/qualifications/{qualification_id}/change"): PERSON_OWN,
    ("POST", "/api/v1/qualifications/{qualification_id}/renew"): PERSON_OWN,
    ("GET", "/api/v1/review/reason-codes"): REVIEW_LIST,
    ("GET", "/api/v1/review/queue"): REVIEW_LIST,
    ("GET", "/api/v1/review/counts"): REVIEW_LIST,
    ("POST", "/api/v1/review/next"): REVIEW_LIST,
    ("POST", "/api/v1/review/applications/{application_id}/claim"): REVIEW_ONE,
    ("POST", "/api/v1/review/applications/{application_id}/release"): REVIEW_ONE,
    ("POST", "/api/v1/review/applications/{application_id}/decision"): REVIEW_ONE,
    ("GET", "/api/v1/review/applications/{application_id}/history"): REVIEW_ONE,
    ("GET", "/api/v1/review/samples"): ADMIN_ONLY,
    ("POST", "/api/v1/review/samples/{sample_id}/check"): ADMIN_ONLY,
    ("POST", "/api/v1/admin/qualifications/{qualification_id}/revoke"): ADMIN_ONLY,
    ("GET", "/api/v1/eligibility"): HOSPITAL_ONLY,
    ("POST", "/api/v1/eligibility"): HOSPITAL_ONLY,
    ("GET", "/api/v1/fhir/metadata"): ALL_OK,
    ("GET", "/api/v1/fhir/CoverageEligibilityRequest/{application_id}"): APP_READ,
    ("GET", "/api/v1/fhir/Patient/{person_id}"): APP_READ,
    ("GET", "/api/v1/fhir/Coverage/{person_id}"): APP_READ,
    ("GET", "/api/v1/fhir/Condition/{application_id}"): APP_READ,
    ("GET", "/api/v1/fhir/Task/{application_id}"): APP_READ,
    ("GET", "/api/v1/fhir/Task/{application_id}/$everything"): APP_READ,
    ("GET", "/api/v1/fhir/DocumentReference/{material_id}"): APP_READ,
    ("GET", "/api/v1/fhir/CoverageEligibilityResponse/{qualification_id}"): FILING_READ,
    ("GET", "/api/v1/admin/exports/applications.csv"): ADMIN_ONLY,
    ("GET", "/api/v1/admin/exports/decisions.csv"): ADMIN_ONLY,
    # Pages
    ("GET", "/login"): ALL_OK,
    ("POST", "/login"): ALL_OK,
    ("POST", "/logout"): ALL_OK,
    ("GET", "/logout"): ALL_OK,
    ("POST", "/care"): ALL_OK,
    ("GET", "/"): ALL_OK,
    ("GET", "/apply"): PERSON_PAGE,
    ("POST", "/apply"): PERSON_PAGE,
    ("GET", "/applications/{app_id}"): APP_PAGE,
    ("POST", "/applications/{app_id}/materials"): APP_PAGE,
    ("POST", "/applications/{app_id}/materials/{material_id}/delete"): APP_PAGE,
    ("POST", "/applications/{app_id}/submit"): APP_PAGE,
    ("POST", "/applications/{app_id}/withdraw"): APP_PAGE,
    ("GET", "/applications/{app_id}/materials/{material_id}/file"): APP_PAGE,
    ("GET", "/applications/{app_id}/form.pdf"): APP_PAGE,
    ("GET", "/applications/{app_id}/submitted"): APP_PAGE,
    ("GET", "/filings"): PERSON_PAGE,
    ("POST", "/filings/{qualification_id}/{action}"): OWN_FILING_PAGE,
    ("GET", "/messages"): PERSON_PAGE,
    ("POST", "/messages/{message_id}/read"): OWN_FILING_PAGE,
    ("GET", "/cross-region"): PERSON_PAGE,
    ("POST", "/cross-region"): PERSON_PAGE,
    ("GET", "/staff/login"): ALL_OK,
    ("POST", "/staff/login"): ALL_OK,
    ("POST", "/staff/logout"): {actor: "staff_login" for actor in ALL_OK},
    ("GET", "/staff/admin/channels"): STAFF_ADMIN,
    ("POST", "/staff/admin/webhook-messages/{message_id}/redeliver"): STAFF_ADMIN,
    ("GET", "/staff"): STAFF_ANY,
    ("GET", "/staff/applications/{app_id}"): STAFF_REVIEW_ONE,
    ("POST", "/staff/applications/{app_id}/claim"): STAFF_REVIEW_ONE,
    ("POST", "/staff/applications/{app_id}/release"): STAFF_REVIEW_ONE,
    ("POST", "/staff/next"): staff_page(reviewer="ok", reviewer_other="ok", window=403, admin="ok"),
    ("POST", "/staff/applications/{app_id}/decision"): STAFF_REVIEW_ONE,
    ("GET", "/staff/applications/{app_id}/materials/{material_id}/file"): STAFF_FILE,
    ("GET", "/staff/applications/{app_id}/materials/{material_id}/page/{number}.png"): STAFF_FILE,
    ("GET", "/staff/applications/{app_id}/form.pdf"): STAFF_FILE,
    ("GET", "/staff/window"): STAFF_WINDOW,
    ("POST", "/staff/window"): STAFF_WINDOW,
    ("GET", "/staff/window/{app_id}"): STAFF_WINDOW,
    ("POST", "/staff/window/{app_id}/materials"): STAFF_WINDOW,
    ("POST", "/staff/window/{app_id}/scans"): STAFF_WINDOW,
    ("POST", "/staff/window/{app_id}/materials/{material_id}/delete"): STAFF_WINDOW,
    ("POST", "/staff/window/{app_id}/submit"): STAFF_WINDOW,
    ("POST", "/staff/window/{app_id}/withdraw"): STAFF_WINDOW,
    ("GET", "/staff/window/{app_id}/materials/{material_id}/file"): STAFF_WINDOW,
    ("GET", "/staff/window/{app_id}/form.pdf"): STAFF_WINDOW,
    ("GET", "/staff/admin"): STAFF_ADMIN,
    ("GET", "/staff/admin/catalog"): STAFF_ADMIN,
    ("POST", "/staff/admin/catalog"): STAFF_ADMIN,
    ("GET", "/staff/admin/staff"): STAFF_ADMIN,
    ("POST", "/staff/admin/staff"): STAFF_ADMIN,
    ("POST", "/staff/admin/staff/{member_id}/deactivate"): STAFF_ADMIN,
    ("GET", "/staff/admin/hospital-keys"): STAFF_ADMIN,
    ("POST", "/staff/admin/hospital-keys"): STAFF_ADMIN,
    ("POST", "/staff/admin/hospital-keys/{key_id}/revoke"): STAFF_ADMIN,
    ("GET", "/staff/admin/stats"): STAFF_ADMIN,
    ("GET", "/staff/admin/calendar"): STAFF_ADMIN,
    ("POST", "/staff/admin/calendar"): STAFF_ADMIN,
}
