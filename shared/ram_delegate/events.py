"""The events that drive ram-delegate, parsed at the edge into typed, validated objects.

Every event is a CloudEvents 1.0 JSON envelope. An approval's ``data`` is strict (unknown keys are refused, so a typo
such as ``expire_at`` is a 400, not a silently ignored field): a refused approval grants nothing. A revocation needs
only the envelope and ``data.ticket``: ticketing systems send the whole record, and a revocation refused for what it
carries beyond the ticket would leave access open, so anything else it carries is kept when valid and otherwise
ignored (the ignored field names are logged, never their values). The envelope tolerates CloudEvents extension
attributes.
Contextual rules (the owner's own account, known profiles, the maximum grant length, "now") are checked by the
handlers, which know the settings and the clock; this module checks only what the event says about itself.
The published JSON Schema (``schemas/partner-access-event.schema.json``) is generated from these models.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from ram_delegate.errors import InvalidInputError, Problem

logger = logging.getLogger(__name__)

ACCOUNT_ID_PATTERN = r"^[0-9]{16}$"
RAM_USER_NAME_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
REGION_PATTERN = r"^[a-z]{2,3}(-[a-z0-9]+){1,3}$"
RESOURCE_GROUP_PATTERN = r"^rg-[A-Za-z0-9]{1,64}$"
TICKET_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/#-]{0,99}$"  # "/" and "#": GitHub tickets are owner/repo#N
RESOURCE_ID_PATTERN = r"^[a-z][a-z0-9]{0,7}-[A-Za-z0-9-]{1,64}$"
MAX_RESOURCE_IDS = 20
ROLE_ARN_PATTERN = r"^acs:ram::[0-9]{16}:role/[A-Za-z0-9.-]{1,64}$"
EXTERNAL_ID_PATTERN = r"^[A-Za-z0-9+=,.@:/_-]{2,1224}$"

APPROVED = "partner.access.approved"
REVOKED = "partner.access.revoked"
GRANTED = "partner.access.granted"


def _utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False, defer_build=True)


class Partner(_Strict):
    """The partner company and the one RAM user of theirs that gets access."""

    name: Annotated[str, Field(min_length=1, max_length=128)]
    account_id: Annotated[str, Field(pattern=ACCOUNT_ID_PATTERN, description="The partner's 16-digit account id.")]
    user: Annotated[str, Field(pattern=RAM_USER_NAME_PATTERN, description="RAM user name in the partner account.")]


class Access(_Strict):
    """What the partner may do: a named profile in one region, account-wide, in one resource group or on named ids.

    Whether ``resource_ids`` is accepted, required or refused, and the id format, is the profile's to say.
    """

    profile: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")]
    region: Annotated[str, Field(pattern=REGION_PATTERN)]
    resource_group_id: Annotated[str | None, Field(pattern=RESOURCE_GROUP_PATTERN)] = None
    resource_ids: Annotated[
        list[Annotated[str, Field(pattern=RESOURCE_ID_PATTERN)]] | None,
        Field(
            min_length=1,
            max_length=MAX_RESOURCE_IDS,
            description="Instance ids the grant is limited to (at most 20, e.g. lb-..., alb-..., i-...).",
        ),
    ] = None

    @field_validator("resource_ids")
    @classmethod
    def _unique_ids(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("resource_ids must not repeat an id")
        return value


class ApprovedData(_Strict):
    """A ticket approved: grant, or change the existing grant of the same ticket."""

    ticket: Annotated[str, Field(pattern=TICKET_PATTERN)]
    partner: Partner
    access: Access
    expires_at: AwareDatetime
    requested_by: Annotated[str, Field(min_length=1, max_length=128)]
    approved_by: Annotated[str, Field(min_length=1, max_length=128)]

    @field_validator("expires_at")
    @classmethod
    def _expiry_in_utc(cls, value: datetime) -> datetime:
        return _utc(value)

    @model_validator(mode="after")
    def _four_eyes(self) -> ApprovedData:
        if self.requested_by.strip().casefold() == self.approved_by.strip().casefold():
            raise ValueError("approved_by must differ from requested_by (no self-approval)")
        return self


class RevokedData(BaseModel):
    """A ticket's access revoked now. Only ``ticket`` is required; other fields are informational."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    ticket: Annotated[str, Field(pattern=TICKET_PATTERN)]
    partner: Partner | None = None
    reason: Annotated[str | None, Field(max_length=512)] = None
    requested_by: Annotated[str | None, Field(max_length=128)] = None
    owner_account_id: Annotated[
        str | None, Field(pattern=ACCOUNT_ID_PATTERN, description="Set by the owner when it forwards a revocation.")
    ] = None


class GrantedData(_Strict):
    """Sent by the owner to the partner once the role exists: everything the partner side needs."""

    ticket: Annotated[str, Field(pattern=TICKET_PATTERN)]
    owner_account_id: Annotated[str, Field(pattern=ACCOUNT_ID_PATTERN)]
    partner: Partner
    access: Access
    role_arn: Annotated[str, Field(pattern=ROLE_ARN_PATTERN)]
    external_id: Annotated[str, Field(pattern=EXTERNAL_ID_PATTERN)]
    expires_at: AwareDatetime

    @field_validator("expires_at")
    @classmethod
    def _expiry_in_utc(cls, value: datetime) -> datetime:
        return _utc(value)


class _Envelope(BaseModel):
    """CloudEvents 1.0 required attributes (extension attributes are tolerated and ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    specversion: Literal["1.0"]
    id: Annotated[str, Field(min_length=1, max_length=256)]
    source: Annotated[str, Field(min_length=1, max_length=1024)]
    time: AwareDatetime
    datacontenttype: Literal["application/json"] | None = None
    subject: Annotated[str | None, Field(max_length=1024)] = None

    @field_validator("time")
    @classmethod
    def _time_in_utc(cls, value: datetime) -> datetime:
        return _utc(value)


class ApprovedEvent(_Envelope):
    type: Literal["partner.access.approved"]
    data: ApprovedData


class RevokedEvent(_Envelope):
    type: Literal["partner.access.revoked"]
    data: RevokedData


class GrantedEvent(_Envelope):
    type: Literal["partner.access.granted"]
    data: GrantedData


PartnerAccessEvent = Annotated[Union[ApprovedEvent, RevokedEvent, GrantedEvent], Field(discriminator="type")]  # noqa: UP007
# defer_build: the schemas are built at the first validation, so the timer functions (which import the event types
# but never parse an event) do not pay for them at cold start
EVENT_ADAPTER: TypeAdapter[ApprovedEvent | RevokedEvent | GrantedEvent] = TypeAdapter(
    PartnerAccessEvent, config=ConfigDict(defer_build=True)
)


def _path(location: tuple[int | str, ...]) -> str:
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in (APPROVED, REVOKED, GRANTED):
            continue  # the discriminator's branch name is noise in a field path
        else:
            path += f".{part}" if path else str(part)
    return path


def problems_of(error: ValidationError) -> list[Problem]:
    """Pydantic's errors as (path, reason) problems, every one of them."""
    return [Problem(_path(tuple(item["loc"])), item["msg"]) for item in error.errors(include_url=False)]


def parse_event(raw: bytes | str | Mapping[str, Any]) -> ApprovedEvent | RevokedEvent | GrantedEvent:
    """Parse and validate one event; raises InvalidInputError listing every problem."""
    if isinstance(raw, (bytes, str)):
        try:
            document = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidInputError("the body is not valid JSON", problems=[Problem("", str(exc))]) from None
    else:
        document = raw
    if not isinstance(document, Mapping):
        raise InvalidInputError("the body must be a JSON object", problems=[Problem("", "expected an object")])
    if document.get("type") == REVOKED:
        document = _revocation_essentials(document)
    try:
        return EVENT_ADAPTER.validate_python(document)
    except ValidationError as exc:
        raise InvalidInputError("the event is invalid", problems=problems_of(exc)) from None


_REVOCATION_ENVELOPE = ("specversion", "id", "source", "type", "time")


def _revocation_essentials(document: Mapping[str, Any]) -> dict[str, Any]:
    """A revocation reduced to what it needs, plus every optional field that is valid on its own.

    What is dropped is logged by name: the sender learns nothing is refused, the operator sees what was ignored.
    """
    kept: dict[str, Any] = {key: document[key] for key in _REVOCATION_ENVELOPE if key in document}
    ignored: list[str] = []
    for key in ("datacontenttype", "subject"):
        if key in document:
            if _field_is_valid(_Envelope, key, document[key]):
                kept[key] = document[key]
            else:
                ignored.append(key)
    data = document.get("data")
    if isinstance(data, Mapping):
        kept_data: dict[str, Any] = {"ticket": data["ticket"]} if "ticket" in data else {}
        for key, value in data.items():
            if key == "ticket":
                continue
            if key in RevokedData.model_fields and _field_is_valid(RevokedData, key, value):
                kept_data[key] = value
            else:
                ignored.append(f"data.{key}")
        kept["data"] = kept_data
    else:
        kept["data"] = data
    if ignored:
        logger.info("revocation %s: ignored fields: %s", str(kept.get("id", ""))[:64], ", ".join(sorted(ignored)))
    return kept


_VALID_ENVELOPE = {"specversion": "1.0", "id": "x", "source": "x", "time": "2000-01-01T00:00:00Z"}


def _field_is_valid(model: type[BaseModel], name: str, value: Any) -> bool:
    """Whether ``value`` passes ``model``'s validation of field ``name`` (the other fields given valid values)."""
    base: dict[str, Any] = {"ticket": "x"} if model is RevokedData else dict(_VALID_ENVELOPE)
    try:
        model.model_validate({**base, name: value})
    except ValidationError:
        return False
    return True


def event_json_schema() -> dict[str, Any]:
    """The JSON Schema published in ``schemas/`` (regenerated by a test that compares it with the file)."""
    schema = EVENT_ADAPTER.json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://github.com/ram-delegate/ram-delegate/schemas/partner-access-event.schema.json"
    schema["title"] = "ram-delegate partner access event (CloudEvents 1.0)"
    return schema


def to_json_bytes(event: ApprovedEvent | RevokedEvent | GrantedEvent) -> bytes:
    """Serialise an event for sending (the bytes that get signed)."""
    return event.model_dump_json(exclude_none=True).encode()
