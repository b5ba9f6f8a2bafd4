"""``data.access.resource_ids``: optional, at most 20 distinct well-formed ids; the schema says the same."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from ram_delegate.errors import InvalidInputError
from ram_delegate.events import ApprovedEvent, event_json_schema, parse_event


def approval(access: dict[str, Any]) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": "evt-1",
        "source": "https://tickets.example/ops",
        "type": "partner.access.approved",
        "time": "2030-01-01T00:00:00Z",
        "data": {
            "ticket": "OPS-1",
            "partner": {"name": "Enterprise B", "account_id": "2222222222222222", "user": "alice"},
            "access": {"profile": "slb-operator", "region": "cn-hangzhou", **access},
            "expires_at": "2030-01-02T00:00:00Z",
            "requested_by": "bob@example.com",
            "approved_by": "carol@example.com",
        },
    }


def test_named_instances_are_carried() -> None:
    event = parse_event(approval({"resource_ids": ["lb-bp1abcd0001", "lb-bp1abcd0002"]}))
    assert isinstance(event, ApprovedEvent)
    assert event.data.access.resource_ids == ["lb-bp1abcd0001", "lb-bp1abcd0002"]
    jsonschema.validate(approval({"resource_ids": ["lb-bp1abcd0001"]}), event_json_schema())


@pytest.mark.parametrize(
    "ids",
    [
        pytest.param([f"lb-bp1abcd{n:04d}" for n in range(21)], id="more-than-20"),
        pytest.param(["lb-bp1abcd0001", "lb-bp1abcd0001"], id="repeated"),
        pytest.param([], id="empty"),
        pytest.param(["lb-bp1abcd0001", "*"], id="wildcard"),
        pytest.param(["acs:slb:cn-hangzhou:1:loadbalancer/lb-x"], id="an-arn"),
    ],
)
def test_malformed_lists_are_refused_with_the_field_named(ids: list[str]) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_event(approval({"resource_ids": ids}))
    assert any(problem.path.startswith("data.access.resource_ids") for problem in caught.value.problems)
