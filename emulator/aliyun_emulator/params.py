"""Reading API parameters the way Alibaba Cloud checks them: every bad value is a 4xx ``ApiError``, never a crash.

The SDKs send every parameter as a string in the query; lists arrive either JSON-encoded (RAM ``Tag``,
``ResourceNames``) or flattened (Resource Manager's ``ResourceGroupIds.1``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from aliyun_emulator.core.errors import ApiError, invalid_parameter, missing_parameter

_FLAT_TAG = re.compile(r"([1-9][0-9]{0,2})\.(Key|Value)")
_INTEGER = re.compile(r"-?[0-9]{1,12}")
MAX_PARAMETER_LENGTH = 32_768
"""No single parameter may exceed this; real APIs refuse oversized values long before the handler sees them."""


class Params:
    """Typed accessors over one request's decoded parameters."""

    def __init__(self, raw: Mapping[str, str]) -> None:
        if raw and max(map(len, raw.values())) > MAX_PARAMETER_LENGTH:  # one pass in C; the loop names the first
            for name, value in raw.items():
                if len(value) > MAX_PARAMETER_LENGTH:
                    raise invalid_parameter(name, f"longer than {MAX_PARAMETER_LENGTH} characters")
        self.raw = raw

    def optional(self, name: str) -> str | None:
        value = self.raw.get(name)
        return value if value != "" else None

    def required(self, name: str) -> str:
        value = self.optional(name)
        if value is None:
            raise missing_parameter(name)
        return value

    def integer(self, name: str, *, default: int, minimum: int, maximum: int) -> int:
        text = self.optional(name)
        if text is None:
            return default
        if not _INTEGER.fullmatch(text):
            raise invalid_parameter(name, f"{text!r} is not an integer")
        value = int(text)
        if not minimum <= value <= maximum:
            raise invalid_parameter(name, f"must be between {minimum} and {maximum}")
        return value

    def boolean(self, name: str, *, default: bool) -> bool:
        text = self.optional(name)
        if text is None:
            return default
        lowered = text.lower()
        if lowered not in ("true", "false"):
            raise invalid_parameter(name, f"{text!r} is not true or false")
        return lowered == "true"

    def choice(self, name: str, allowed: tuple[str, ...], *, default: str | None = None) -> str:
        text = self.optional(name)
        if text is None:
            if default is None:
                raise missing_parameter(name)
            return default
        if text not in allowed:
            raise invalid_parameter(name, f"must be one of {', '.join(allowed)}")
        return text

    def json_list(self, name: str) -> list[Any] | None:
        """A list sent JSON-encoded (RAM's ``Tag``, ``ResourceNames``, ``TagKeys``)."""
        text = self.optional(name)
        if text is None:
            return None
        try:
            value = json.loads(text)
        except ValueError:
            raise invalid_parameter(name, "not a JSON array") from None
        if not isinstance(value, list):
            raise invalid_parameter(name, "not a JSON array")
        return value

    def string_list(self, name: str, *, max_items: int) -> list[str] | None:
        values = self.json_list(name)
        if values is None:
            return None
        if not values or len(values) > max_items or not all(isinstance(v, str) and v for v in values):
            raise invalid_parameter(name, f"must hold 1-{max_items} non-empty strings")
        return values

    def tags(self, name: str = "Tag") -> dict[str, str] | None:
        """RAM tags, in either form a client sends: ``Tag=[{"Key": k, "Value": v}, ...]`` as a JSON string (the Tea
        SDKs) or flattened as ``Tag.1.Key=k&Tag.1.Value=v`` (pop-core, the legacy SDK); both at once is refused."""
        flat = self._flat_tags(name)
        values = self.json_list(name)
        if values is None:
            return check_tags(flat, name) if flat else None
        if flat:
            raise invalid_parameter(name, "send the tags either as a JSON list or as Tag.N.Key, not both")
        pairs: list[tuple[str, str]] = []
        for item in values:
            if not isinstance(item, dict):
                raise invalid_parameter(name, "each tag must be an object with Key and Value")
            key, value = item.get("Key"), item.get("Value", "")
            if not isinstance(key, str) or not isinstance(value, str):
                raise invalid_parameter(name, "tag Key and Value must be strings")
            pairs.append((key, value))
        return check_tags(pairs, name)

    def _flat_tags(self, name: str) -> list[tuple[str, str]]:
        """``Name.N.Key`` / ``Name.N.Value`` pairs in index order; a Value without its Key is refused."""
        keys: dict[int, str] = {}
        values: dict[int, str] = {}
        prefix = f"{name}."
        for raw_name, value in self.raw.items():
            if not raw_name.startswith(prefix):
                continue
            match = _FLAT_TAG.fullmatch(raw_name[len(prefix) :])
            if match is None:
                raise invalid_parameter(name, f"{raw_name} is not {name}.N.Key or {name}.N.Value")
            (keys if match.group(2) == "Key" else values)[int(match.group(1))] = value
        if set(values) - set(keys):
            raise invalid_parameter(name, f"every {name}.N.Value needs its {name}.N.Key")
        return [(keys[index], values.get(index, "")) for index in sorted(keys)]

    def flat_list(self, name: str) -> list[str]:
        """A list flattened as ``Name.1``, ``Name.2``, ..."""
        found: dict[int, str] = {}
        pattern = re.compile(rf"^{re.escape(name)}\.([0-9]{{1,3}})$")
        for key, value in self.raw.items():
            match = pattern.match(key)
            if match:
                found[int(match.group(1))] = value
        return [found[i] for i in sorted(found)]


def check_tags(pairs: list[tuple[str, str]], name: str) -> dict[str, str]:
    """RAM's tag rules: 1-20 tags, key 1-128 chars (not ``acs:``/``aliyun``), value <= 128."""
    if not pairs or len(pairs) > 20:
        raise invalid_parameter(name, "between 1 and 20 tags are required")
    tags: dict[str, str] = {}
    for key, value in pairs:
        if not 1 <= len(key) <= 128 or len(value) > 128:
            raise invalid_parameter(name, "tag keys are 1-128 characters and values at most 128")
        if key.lower().startswith(("acs:", "aliyun")):
            raise invalid_parameter(name, "tag keys may not start with acs: or aliyun")
        if key in tags:
            raise invalid_parameter(name, f"tag key {key!r} is repeated")
        tags[key] = value
    return tags


def page_params(params: Params, *, default_size: int, max_size: int) -> tuple[int, int]:
    """PageNumber (>= 1) and PageSize (1..max_size) as SLB and Resource Manager read them."""
    number = params.integer("PageNumber", default=1, minimum=1, maximum=1_000_000)
    size = params.integer("PageSize", default=default_size, minimum=1, maximum=max_size)
    return number, size


def page_body(items: list[Any], page_number: int, page_size: int, wrapper: str, item: str) -> dict[str, Any]:
    """One page of ``items`` in the SLB / Resource Manager list shape: ``{wrapper: {item: [...]}, PageNumber, ...}``."""
    start = (page_number - 1) * page_size
    return {
        wrapper: {item: items[start : start + page_size]},
        "PageNumber": page_number,
        "PageSize": page_size,
        "TotalCount": len(items),
    }


def not_found(code: str, message: str) -> ApiError:
    return ApiError(code, message, 404)


def conflict(code: str, message: str) -> ApiError:
    return ApiError(code, message, 409)
