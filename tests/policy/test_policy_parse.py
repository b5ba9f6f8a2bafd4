"""Parsing: every malformed document is refused with the path and reason of each problem; render round-trips."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ram_delegate.errors import PolicyValidationError
from ram_delegate.policy import PolicyKind, parse_policy, render, same_policy, to_json

ACCOUNT = "1111111111111111"
GOOD_STATEMENT: dict[str, Any] = {"Effect": "Allow", "Action": "slb:Describe*", "Resource": "*"}
TRUST_STATEMENT: dict[str, Any] = {
    "Effect": "Allow",
    "Action": "sts:AssumeRole",
    "Principal": {"RAM": [f"acs:ram::{ACCOUNT}:user/alice"]},
}


def doc(*statements: Any) -> dict[str, Any]:
    return {"Version": "1", "Statement": list(statements)}


def with_fields(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The statement with fields replaced; a value of None removes the field."""
    merged = {**base, **changes}
    return {k: v for k, v in merged.items() if v is not None}


def problems_of(document: Any, kind: PolicyKind = "custom") -> list[tuple[str, str]]:
    with pytest.raises(PolicyValidationError) as caught:
        parse_policy(document, kind)
    assert caught.value.code == "InvalidPolicy"
    return [(p.path, p.reason) for p in caught.value.problems]


REJECTIONS: list[Any] = [
    pytest.param({"Statement": [GOOD_STATEMENT]}, "custom", "Version", "missing", id="version-missing"),
    pytest.param({"Version": 1, "Statement": [GOOD_STATEMENT]}, "custom", "Version", '"1"', id="version-number"),
    pytest.param({"Version": "2", "Statement": [GOOD_STATEMENT]}, "custom", "Version", '"1"', id="version-wrong"),
    pytest.param({"Version": "1"}, "custom", "Statement", "missing", id="statement-missing"),
    pytest.param(doc(), "custom", "Statement", "empty", id="statement-empty"),
    pytest.param({"Version": "1", "Statement": GOOD_STATEMENT}, "custom", "Statement", "list", id="statement-object"),
    pytest.param({**doc(GOOD_STATEMENT), "Id": "x"}, "custom", "Id", "unknown key", id="unknown-top-key"),
    pytest.param(doc("text"), "custom", "Statement[0]", "object", id="statement-not-object"),
    pytest.param(
        doc(with_fields(GOOD_STATEMENT, Sid="s")), "custom", "Statement[0].Sid", "unknown key", id="unknown-key"
    ),
    pytest.param(
        doc(with_fields(GOOD_STATEMENT, Effect="allow")), "custom", "Statement[0].Effect", "Allow", id="effect-case"
    ),
    pytest.param(
        doc(with_fields(GOOD_STATEMENT, Effect=None)), "custom", "Statement[0].Effect", "missing", id="effect-missing"
    ),
    pytest.param(
        doc(with_fields(GOOD_STATEMENT, NotAction="slb:Delete*")),
        "custom",
        "Statement[0]",
        "exactly one of Action",
        id="action-and-not-action",
    ),
    pytest.param(
        doc(with_fields(GOOD_STATEMENT, Action=None)), "custom", "Statement[0]", "exactly one of Action", id="no-action"
    ),
    pytest.param(
        doc(with_fields(GOOD_STATEMENT, Action=[])),
        "custom",
        "Statement[0].Action",
        "non-empty",
        id="action-empty-list",
    ),
    pytest.param(
        doc(with_fields(GOOD_STATEMENT, Action=["slb:X", 3])),
        "custom",
        "Statement[0].Action[1]",
        "string",
        id="action-not-string",
    ),
    pytest.param(
        doc(with_fields(GOOD_STATEMENT, Action=["slb:X", "DescribeZones"])),
        "custom",
        "Statement[0].Action[1]",
        "service prefix",
        id="action-without-service",
    ),
    pytest.param(
        doc(with_fields(GOOD_STATEMENT, Action="slb:")),
        "custom",
        "Statement[0].Action",
        "not a valid action",
        id="action-empty-name",
    ),
    pytest.param(
        doc(with_fields(GOOD_STATEMENT, Action="slb:a b")),
        "custom",
        "Statement[0].Action",
        "not a valid action",
        id="action-space",
    ),
    pytest.param(
        doc(with_fields(GOOD_STATEMENT, NotResource="*")),
        "custom",
        "Statement[0]",
        "exactly one of Resource",
        id="resource-and-not-resource",
    ),
    pytest.param(
        doc(with_fields(GOOD_STATEMENT, Resource=None)),
        "custom",
        "Statement[0]",
        "exactly one of Resource",
        id="no-resource",
    ),
    pytest.param(
        doc(with_fields(GOOD_STATEMENT, Resource=["*", "arn:aws:s3:::b"])),
        "custom",
        "Statement[0].Resource[1]",
        "acs:<service>",
        id="resource-foreign-arn",
    ),
    pytest.param(
        doc(with_fields(GOOD_STATEMENT, Resource="acs:slb:cn-hangzhou")),
        "custom",
        "Statement[0].Resource",
        "acs:<service>",
        id="resource-short",
    ),
    pytest.param(
        doc(with_fields(GOOD_STATEMENT, Resource="acs::cn:1:x")),
        "custom",
        "Statement[0].Resource",
        "service",
        id="resource-no-service",
    ),
    pytest.param(
        doc(with_fields(GOOD_STATEMENT, Resource="acs:slb:cn:abc:x")),
        "custom",
        "Statement[0].Resource",
        "account",
        id="resource-bad-account",
    ),
    pytest.param(
        doc(with_fields(GOOD_STATEMENT, Resource="acs:slb:cn:1:")),
        "custom",
        "Statement[0].Resource",
        "relative id",
        id="resource-empty-id",
    ),
    pytest.param(
        doc(with_fields(GOOD_STATEMENT, Resource="acs:slb:c n:1:x")),
        "custom",
        "Statement[0].Resource",
        "region",
        id="resource-bad-region",
    ),
    pytest.param(
        doc(with_fields(GOOD_STATEMENT, Principal={"RAM": "*"})),
        "custom",
        "Statement[0].Principal",
        "trust",
        id="principal-outside-trust",
    ),
    pytest.param(
        doc(with_fields(GOOD_STATEMENT, Condition={"StringLikeX": {"k": "v"}})),
        "custom",
        "Statement[0].Condition.StringLikeX",
        "unsupported condition operator",
        id="unknown-operator",
    ),
    pytest.param(
        doc(with_fields(GOOD_STATEMENT, Condition={"BoolIfExists": {"k": True}})),
        "custom",
        "Statement[0].Condition.BoolIfExists",
        "IfExists",
        id="if-exists-operator",
    ),
    pytest.param(
        doc(with_fields(GOOD_STATEMENT, Condition={})),
        "custom",
        "Statement[0].Condition",
        "non-empty",
        id="condition-empty",
    ),
    pytest.param(
        doc(with_fields(GOOD_STATEMENT, Condition={"StringEquals": []})),
        "custom",
        "Statement[0].Condition.StringEquals",
        "key -> values",
        id="operator-not-object",
    ),
    pytest.param(
        doc(with_fields(GOOD_STATEMENT, Condition={"StringEquals": {"k": []}})),
        "custom",
        "Statement[0].Condition.StringEquals.k",
        "non-empty",
        id="condition-empty-values",
    ),
    pytest.param(
        doc(with_fields(GOOD_STATEMENT, Condition={"StringEquals": {"k": {"x": 1}}})),
        "custom",
        "Statement[0].Condition.StringEquals.k",
        "strings, numbers or booleans",
        id="condition-object-value",
    ),
    pytest.param(
        doc(with_fields(GOOD_STATEMENT, Condition={"DateLessThan": {"acs:CurrentTime": "tomorrow"}})),
        "custom",
        "Statement[0].Condition.DateLessThan.acs:CurrentTime",
        "ISO-8601",
        id="date-not-iso",
    ),
    pytest.param(
        doc(with_fields(GOOD_STATEMENT, Condition={"DateLessThan": {"acs:CurrentTime": "2026-01-01T00:00:00"}})),
        "custom",
        "Statement[0].Condition.DateLessThan.acs:CurrentTime",
        "time zone",
        id="date-naive",
    ),
    pytest.param(
        doc(with_fields(GOOD_STATEMENT, Condition={"NumericLessThan": {"k": "ten"}})),
        "custom",
        "Statement[0].Condition.NumericLessThan.k",
        "NumericLessThan",
        id="numeric-not-number",
    ),
    pytest.param(
        doc(with_fields(GOOD_STATEMENT, Condition={"Bool": {"acs:SecureTransport": "yes"}})),
        "custom",
        "Statement[0].Condition.Bool.acs:SecureTransport",
        "boolean",
        id="bool-not-bool",
    ),
    pytest.param(
        doc(with_fields(GOOD_STATEMENT, Condition={"IpAddress": {"acs:SourceIp": "10.0.0.300"}})),
        "custom",
        "Statement[0].Condition.IpAddress.acs:SourceIp",
        "IP address",
        id="ip-invalid",
    ),
    pytest.param(
        doc(with_fields(TRUST_STATEMENT, Resource="*")),
        "trust",
        "Statement[0].Resource",
        "no resource",
        id="trust-with-resource",
    ),
    pytest.param(
        doc(with_fields(TRUST_STATEMENT, Principal=None)),
        "trust",
        "Statement[0].Principal",
        "missing",
        id="trust-no-principal",
    ),
    pytest.param(
        doc(with_fields(TRUST_STATEMENT, Action="ecs:StartInstance")),
        "trust",
        "Statement[0].Action",
        "assume-role",
        id="trust-other-action",
    ),
    pytest.param(
        doc(with_fields(TRUST_STATEMENT, Action=None, NotAction="ecs:*")),
        "trust",
        "Statement[0].NotAction",
        "name their actions",
        id="trust-not-action",
    ),
    pytest.param(
        doc(with_fields(TRUST_STATEMENT, Principal={"RAM": ["acs:ram::1:user/a", "acs:ram::x:root"]})),
        "trust",
        "Statement[0].Principal.RAM[1]",
        "acs:ram::<account>",
        id="trust-bad-ram-arn",
    ),
    pytest.param(
        doc(with_fields(TRUST_STATEMENT, Principal={"AWS": "*"})),
        "trust",
        "Statement[0].Principal.AWS",
        "unknown principal type",
        id="trust-unknown-principal-type",
    ),
    pytest.param(
        doc(with_fields(TRUST_STATEMENT, Principal={"Service": "ecs.amazonaws.com"})),
        "trust",
        "Statement[0].Principal.Service",
        "service principal",
        id="trust-bad-service",
    ),
    pytest.param(
        doc(with_fields(TRUST_STATEMENT, Principal={"Federated": "acs:ram::1:user/a"})),
        "trust",
        "Statement[0].Principal.Federated",
        "saml-provider",
        id="trust-bad-federated",
    ),
    pytest.param(
        doc(with_fields(TRUST_STATEMENT, Principal={})),
        "trust",
        "Statement[0].Principal",
        "RAM, Service",
        id="trust-empty-principal",
    ),
]


@pytest.mark.parametrize(("document", "kind", "path", "reason"), REJECTIONS)
def test_each_malformed_document_is_refused_with_its_path(
    document: Any, kind: PolicyKind, path: str, reason: str
) -> None:
    problems = problems_of(document, kind)
    assert any(p == path and reason in r for p, r in problems), problems


def test_all_problems_are_collected_at_once() -> None:
    document = {
        "Version": "2",
        "Statement": [
            {"Effect": "Maybe", "Action": "DescribeZones", "Resource": "arn:x", "Sid": "a"},
            GOOD_STATEMENT,
            {"Effect": "Allow", "Action": "slb:X", "Resource": "*", "Condition": {"StringLike": {"k": []}}},
        ],
    }
    paths = [path for path, _ in problems_of(document)]
    assert paths == [
        "Version",
        "Statement[0].Sid",
        "Statement[0].Effect",
        "Statement[0].Action",
        "Statement[0].Resource",
        "Statement[2].Condition.StringLike.k",
    ]


@pytest.mark.parametrize(
    ("kind", "limit"), [pytest.param("custom", 6144, id="custom"), pytest.param("session", 2048, id="session")]
)
def test_size_limits_count_the_text_as_given(kind: PolicyKind, limit: int) -> None:
    compact = to_json(parse_policy(doc(GOOD_STATEMENT)))
    padded_to_limit = compact[:-1] + " " * (limit - len(compact)) + "}"
    assert len(padded_to_limit) == limit
    parse_policy(padded_to_limit, kind)
    parse_policy(padded_to_limit.encode(), kind)
    problems = problems_of(padded_to_limit + " ", kind)
    assert problems == [("", f"{kind} policy is {limit + 1} characters, over the {limit}-character limit")]


@pytest.mark.parametrize(("kind", "allowed"), [("custom", False), ("session", False), ("system", True)])
def test_mapping_size_is_measured_as_compact_json(kind: PolicyKind, allowed: bool) -> None:
    resources = [f"acs:slb:cn-hangzhou:{ACCOUNT}:loadbalancer/lb-{i:04d}" for i in range(150)]
    document = doc(with_fields(GOOD_STATEMENT, Resource=resources))
    assert len(json.dumps(document, separators=(",", ":"))) > 6144
    if allowed:
        assert parse_policy(document, kind).statements[0].resources == tuple(resources)
    else:
        assert "over the" in problems_of(document, kind)[0][1]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param("{", "not valid JSON", id="truncated"),
        pytest.param("[]", "JSON object", id="array"),
        pytest.param('{"Version":"1","Version":"1","Statement":[]}', "duplicate key 'Version'", id="duplicate-key"),
        pytest.param(
            '{"Version":"1","Statement":[{"Effect":"Allow","Action":"a:b","Resource":"*",'
            '"Condition":{"NumericLessThan":{"k":NaN}}}]}',
            "NaN",
            id="nan",
        ),
        pytest.param(b"\xff\xfe", "UTF-8", id="not-utf8"),
    ],
)
def test_text_that_is_not_a_json_object_is_refused(text: str | bytes, reason: str) -> None:
    [(path, problem)] = problems_of(text)
    assert path == ""
    assert reason in problem


ROUND_TRIPS: list[Any] = [
    pytest.param(doc(GOOD_STATEMENT), "custom", id="single-strings"),
    pytest.param(
        doc(
            {
                "Effect": "Deny",
                "NotAction": ["ecs:*", "slb:Delete*"],
                "NotResource": [f"acs:slb:*:{ACCOUNT}:*", "acs:ecs:*:*:instance/i-?"],
                "Condition": {
                    "StringEquals": {"sts:ExternalId": ["a", "b"], "acs:UserAgent": "x"},
                    "NumericLessThan": {"k": 3.5},
                    "Bool": {"acs:SecureTransport": True},
                    "DateLessThan": {"acs:CurrentTime": 1767225600},
                },
            },
            GOOD_STATEMENT,
        ),
        "custom",
        id="lists-and-conditions",
    ),
    pytest.param(
        doc(
            with_fields(TRUST_STATEMENT, Condition={"StringEquals": {"sts:ExternalId": "e"}}),
            {"Effect": "Allow", "Action": ["sts:AssumeRole"], "Principal": "*"},
            {
                "Effect": "Deny",
                "Action": "sts:AssumeRole",
                "Principal": {"Service": ["ecs.aliyuncs.com"], "Federated": f"acs:ram::{ACCOUNT}:saml-provider/idp"},
            },
        ),
        "trust",
        id="trust",
    ),
]


@pytest.mark.parametrize(("document", "kind"), ROUND_TRIPS)
def test_render_gives_back_the_document_as_written(document: dict[str, Any], kind: PolicyKind) -> None:
    parsed = parse_policy(document, kind)
    assert render(parsed) == document
    assert parse_policy(to_json(parsed), kind) == parsed
    assert json.loads(to_json(parsed)) == document


def test_single_string_and_one_element_list_mean_the_same() -> None:
    as_string = parse_policy(doc(GOOD_STATEMENT))
    as_list = parse_policy(doc(with_fields(GOOD_STATEMENT, Action=["slb:Describe*"], Resource=["*"])))
    assert as_string == as_list
    assert render(as_list)["Statement"][0]["Action"] == ["slb:Describe*"]


def test_to_json_is_compact_and_deterministic() -> None:
    text = to_json(parse_policy(doc(GOOD_STATEMENT)))
    assert text == '{"Version":"1","Statement":[{"Effect":"Allow","Action":"slb:Describe*","Resource":"*"}]}'


def test_same_policy_compares_meaning_and_treats_absent_or_invalid_text_as_different() -> None:
    wanted = parse_policy(doc(GOOD_STATEMENT))
    reformatted = json.dumps(doc(with_fields(GOOD_STATEMENT, Action=["slb:Describe*"])), indent=2)
    assert same_policy(reformatted, wanted)
    assert not same_policy(json.dumps(doc(with_fields(GOOD_STATEMENT, Resource=["acs:slb:*:*:*"]))), wanted)
    assert not same_policy(None, wanted)
    assert not same_policy("{not json", wanted)
    trust = parse_policy(doc(TRUST_STATEMENT), "trust")
    assert same_policy(json.dumps(doc(TRUST_STATEMENT)), trust, "trust")
    assert not same_policy(json.dumps(doc(TRUST_STATEMENT)), trust)  # a trust document is no valid custom policy
