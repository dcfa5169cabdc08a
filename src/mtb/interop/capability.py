"""The FHIR server's CapabilityStatement (`GET /api/v1/fhir/metadata`): what a client can read here.

Built from the same list of resource types the routes serve, so that the two cannot drift apart
(tests/interop/test_fhir_server.py reads every type it declares).
"""

from __future__ import annotations

from typing import Any

# When what the statement declares last changed (CapabilityStatement.date): change it with the routes.
CAPABILITY_DATE = "2026-12-06"
EVERYTHING_DEFINITION = "urn:mtb:OperationDefinition:Task-everything"

# type → what it is in MTB (the statement's documentation of each resource)
READABLE: dict[str, str] = {
    "Task": "一件申请的审核（id 为申请的 id）",
    "CoverageEligibilityRequest": "申请本身：为哪位参保人、哪个病种申请待遇认定（id 为申请的 id）",
    "Patient": "参保人（身份证号脱敏）",
    "Coverage": "参保人的基本医疗保险（id 为参保人的 id）",
    "Condition": "申请的病种（id 为申请的 id）",
    "DocumentReference": "一份申请材料（下载地址受 API 访问规则约束）",
    "CoverageEligibilityResponse": "备案（待遇资格认定）结果（id 为备案的 id）",
}


def capability_statement(fhir_base: str) -> dict[str, Any]:
    resources = []
    for kind, documentation in READABLE.items():
        resource: dict[str, Any] = {
            "type": kind, "documentation": documentation, "interaction": [{"code": "read"}],
            "versioning": "no-version", "readHistory": False, "updateCreate": False}
        if kind == "Task":
            resource["operation"] = [{
                "name": "everything", "definition": EVERYTHING_DEFINITION,
                "documentation": "`GET Task/{id}/$everything`：该申请的全部资源（searchset Bundle）"}]
        resources.append(resource)
    return {
        "resourceType": "CapabilityStatement", "id": "mtb",
        "url": f"{fhir_base}/metadata",
        "version": "1",
        "name": "MTB",
        "title": "MTB 门诊慢特病 FHIR R4 接口",
        "status": "active",
        "experimental": False,
        "date": CAPABILITY_DATE,
        "publisher": "MTB",
        "description": "门诊特殊病备案 / 门诊慢特病待遇认定的申请、审核与备案，以 FHIR R4 资源只读提供。",
        "kind": "instance",
        "software": {"name": "MTB", "version": "1"},
        "implementation": {"description": "MTB FHIR R4 (read only)", "url": fhir_base},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [{
            "mode": "server",
            "documentation": "只读。访问规则与 /api/v1 的申请接口相同：本人与代办人读自己的申请，经办人员读本地区的；"
                             "其他情况一律 404。错误以 OperationOutcome 返回，details.coding 为 MTB 的错误码"
                             "（urn:mtb:error）。",
            "security": {"cors": False, "description": (
                "`Authorization: Bearer <token>`，令牌由 `POST /api/v1/auth/real-name`（参保人）或 "
                "`POST /api/v1/auth/staff`（经办人员）签发；本声明（metadata）无需登录。")},
            "resource": resources,
        }],
    }
