"""Reading and verifying signed Alibaba Cloud RPC requests: ACS3-HMAC-SHA256 (SDK default) and legacy HMAC-SHA1 (v2).

``parse_signed_request`` turns the bytes received into a ``SignedClaim`` (who claims to sign, which action, when,
with which nonce) or refuses malformed input with an ``ApiError``; ``signature_matches`` then recomputes the
signature with the secret of the claimed AccessKey. Neither needs a clock or a server, so the SDK captures in the
reference replay against them directly. Clock skew and nonce reuse are checked by the server with ``NonceCache``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import TYPE_CHECKING, Literal, NamedTuple
from urllib.parse import quote, unquote_plus

from aliyun_emulator.core.errors import ApiError, invalid_parameter, missing_parameter

if TYPE_CHECKING:
    from _hashlib import HASH as HashObject

ACS3_ALGORITHM = "ACS3-HMAC-SHA256"
V2_SIGNATURE_METHOD = "HMAC-SHA1"
MAX_CLOCK_SKEW = timedelta(minutes=15)
MAX_QUERY_FIELDS = 500
MAX_NONCE_LENGTH = 128

PROTOCOL_PARAMETERS = frozenset(
    {
        "Action",
        "Version",
        "Format",
        "Timestamp",
        "SignatureNonce",
        "SignatureMethod",
        "SignatureVersion",
        "SignatureType",
        "AccessKeyId",
        "Signature",
        "SecurityToken",
    }
)
"""Query keys that belong to the protocol, not to the API call (removed from ``SignedClaim.params``)."""

_REQUIRED_SIGNED_HEADERS = frozenset({"host", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce"})
_SIGNED_WHEN_PRESENT = frozenset({"x-acs-action", "x-acs-version", "x-acs-security-token", "x-acs-accesskey-id"})
_AUTHORIZATION_HEAD = re.compile(r"(ACS3-[A-Z0-9-]+) Credential=([^,\s]+), ?SignedHeaders=([^,\s]*), ?")
"""``Authorization`` up to ``Signature=``: the same for every call of one client (its key and signed headers)."""
_SIGNATURE = re.compile(r"[0-9a-f]{64}")
_SIGNED_HEADER_LIST = re.compile(r"[a-z0-9-]+(?:;[a-z0-9-]+)*")
_TIMESTAMP = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$")
_PARAMETER_NAME = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


class RawRequest(NamedTuple):
    """A request as received: method, raw path and query, headers by lower-cased name (wire order kept), body.

    Immutable and cheap to build: a ``NamedTuple``, not a frozen dataclass (built for every request).
    """

    method: str
    path: str
    query: str
    headers: Mapping[str, tuple[str, ...]]
    body: bytes = b""

    @classmethod
    def from_header_pairs(
        cls, method: str, path: str, query: str, header_pairs: Iterable[tuple[str, str]], body: bytes = b""
    ) -> RawRequest:
        """A request whose headers arrive as ``(name, value)`` pairs (HTTP servers, captures), grouped by name."""
        headers: dict[str, tuple[str, ...]] = {}
        for name, value in header_pairs:
            key = name.lower()
            headers[key] = (*headers.get(key, ()), value)
        return cls(method, path, query, headers, body)

    def header(self, name: str) -> str | None:
        """The one value of a protocol header; sending it twice is ambiguous and refused."""
        values = self.headers.get(name)
        if not values:
            return None
        if len(values) > 1:
            raise _repeated_header(name)
        return values[0]


def _repeated_header(name: str) -> ApiError:
    return ApiError("InvalidParameter", f"The header {name} must be sent once.", 400)


class SignedClaim(NamedTuple):
    """What a request says about itself, before its signature is checked (a ``NamedTuple``: built per request)."""

    scheme: Literal["ACS3", "v2"]
    access_key_id: str
    signature: str
    timestamp: datetime
    nonce: str
    action: str
    version: str
    params: Mapping[str, str]
    """API parameters only (query plus form body, protocol keys removed)."""
    security_token: str | None = None
    query_pairs: tuple[tuple[str, str], ...] = ()
    """Decoded query pairs (ACS3 canonical query)."""
    signed_parameters: tuple[tuple[str, str], ...] = ()
    """Every parameter but ``Signature`` (v2 string to sign)."""
    signed_headers: tuple[str, ...] = ()
    response_format: Literal["JSON", "XML"] = "JSON"
    """``Format``: legacy RPC calls default to XML as Alibaba's do; ACS3 calls answer JSON unless they ask for XML."""
    content_sha256: str = ""
    """ACS3: the ``x-acs-content-sha256`` header as sent, trimmed (checked against the body; the canonical request's
    last line)."""


def parse_signed_request(raw: RawRequest) -> SignedClaim:
    """Read the claim of an ACS3 request (``Authorization`` header) or a legacy v2 one (``Signature`` parameter)."""
    query_pairs = parse_pairs(raw.query)
    content_type = (raw.header("content-type") or "").split(";", 1)[0].strip().lower()
    form_pairs: list[tuple[str, str]] = []
    if raw.body and content_type == "application/x-www-form-urlencoded":
        try:
            form_text = raw.body.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError("InvalidParameter", "The form body is not valid UTF-8.", 400) from None
        form_pairs = parse_pairs(form_text)
    everything = unique_parameters([*query_pairs, *form_pairs] if form_pairs else query_pairs)
    authorization = raw.header("authorization")
    if authorization is not None:
        return _parse_acs3(raw, authorization, query_pairs, everything)
    if "Signature" in everything:
        return _parse_v2(raw, everything)
    raise ApiError(
        "MissingParameter",
        "The request is not signed: send an ACS3 Authorization header or the legacy Signature parameter.",
        400,
    )


def signature_matches(raw: RawRequest, claim: SignedClaim, secret: str) -> bool:
    """Recompute the claim's signature with ``secret``; constant-time comparison."""
    expected = sign(claim.scheme, string_to_sign(raw, claim), secret)
    return hmac.compare_digest(expected.encode("utf-8"), claim.signature.encode("utf-8"))


def string_to_sign(raw: RawRequest, claim: SignedClaim) -> str:
    """The server's string to sign for this request (quoted back in ``SignatureDoesNotMatch``, as Alibaba does)."""
    if claim.scheme == "ACS3":
        return acs3_string_to_sign(
            raw.method, raw.path, claim.query_pairs, raw.headers, claim.signed_headers, claim.content_sha256
        )
    return v2_string_to_sign(raw.method, claim.signed_parameters)


def sign(scheme: Literal["ACS3", "v2"], text: str, secret: str) -> str:
    """ACS3: lower-case hex HMAC-SHA256 keyed with the secret; v2: base64 HMAC-SHA1 keyed with ``secret + "&"``."""
    if scheme == "ACS3":
        return _hmac(secret, "sha256", text.encode("utf-8")).hex()
    return base64.b64encode(_hmac(f"{secret}&", "sha1", text.encode("utf-8"))).decode("ascii")


def _hmac(key: str, digest: str, message: bytes) -> bytes:
    """HMAC (RFC 2104) from the key's two padded hash states, computed once per key: two hash copies per request
    instead of OpenSSL's one-shot HMAC, which looks the algorithm up and keys it anew on every call."""
    inner, outer = _padded(key, digest)
    inner = inner.copy()
    inner.update(message)
    outer = outer.copy()
    outer.update(inner.digest())
    return outer.digest()


@lru_cache(maxsize=1024)
def _padded(key: str, digest: str) -> tuple[HashObject, HashObject]:
    # Bounded: root keys, user keys and live STS secrets; an evicted key is simply padded again.
    key_bytes = key.encode("utf-8")
    block = hashlib.new(digest).block_size
    if len(key_bytes) > block:
        key_bytes = hashlib.new(digest, key_bytes).digest()
    key_bytes = key_bytes.ljust(block, b"\0")
    inner = hashlib.new(digest, key_bytes.translate(_INNER_PAD))
    outer = hashlib.new(digest, key_bytes.translate(_OUTER_PAD))
    return inner, outer


_INNER_PAD = bytes(byte ^ 0x36 for byte in range(256))
_OUTER_PAD = bytes(byte ^ 0x5C for byte in range(256))


def acs3_string_to_sign(
    method: str,
    path: str,
    query_pairs: tuple[tuple[str, str], ...],
    headers: Mapping[str, tuple[str, ...]],
    signed_headers: tuple[str, ...],
    content_sha256: str,
) -> str:
    """``ACS3-HMAC-SHA256\n`` + hex SHA-256 of the canonical request (wire protocol reference §4.1)."""
    canonical_query = "&".join([f"{key}={_encode(value)}" for key, value in sorted(query_pairs)])
    lines = []
    for name in signed_headers:
        values = headers.get(name, ())
        lines.append(f"{name}:{values[0].strip() if len(values) == 1 else _canonical_value(values)}\n")
    canonical_headers = "".join(lines)
    canonical_request = (
        f"{method}\n{path}\n{canonical_query}\n{canonical_headers}\n{';'.join(signed_headers)}\n{content_sha256}"
    )
    digest = hashlib.sha256(canonical_request.encode("utf-8", "surrogateescape")).hexdigest()
    return f"{ACS3_ALGORITHM}\n{digest}"


def _encode(text: str) -> str:
    """RFC 3986 percent-encoding (``quote(text, safe="~")``), skipped for text that has nothing to encode or that
    arrived encoded in exactly that form."""
    if _UNRESERVED.fullmatch(text):
        return text
    arrived_as = _ARRIVED_AS.get(text)
    if arrived_as is not None:
        return arrived_as
    return _quoted(text) if len(text) <= MAX_CACHED_VALUE else quote(text, safe="~")


MAX_CACHED_VALUE = 4096
"""Values up to this length have their percent-encoding and decoding cached (``quote``/``unquote`` run in Python
byte by byte; a client sends the same policy documents and ARNs again and again). Longer ones are worked out each
time, so the caches stay small."""


@lru_cache(maxsize=512)
def _quoted(text: str) -> str:
    return quote(text, safe="~")


@lru_cache(maxsize=512)
def _unquoted(text: str) -> str:
    # A refusal (invalid UTF-8) raises and is not cached.
    return unquote_plus(text, errors="strict")


def _canonical_value(values: tuple[str, ...]) -> str:
    """A header sent several times (or not at all): its trimmed values sorted and joined by commas."""
    return ",".join(sorted(value.strip() for value in values))


def v2_string_to_sign(method: str, parameters: tuple[tuple[str, str], ...]) -> str:
    """``METHOD&%2F&pct(canonical query)`` (wire protocol reference §5.1)."""
    canonical = "&".join(f"{_encode(key)}={_encode(value)}" for key, value in sorted(parameters))
    return f"{method}&%2F&{_encode(canonical)}"


def parse_pairs(text: str) -> list[tuple[str, str]]:
    """Decode ``a=1&b=2`` strictly (UTF-8, ``+`` as space, every field ``name=value``); malformed input is a 400.

    Hand-rolled rather than ``parse_qsl``: a piece without ``%`` or ``+`` (most of them) is used as is.
    """
    if not text:
        return []
    pieces = text.split("&")
    if len(pieces) > MAX_QUERY_FIELDS:
        raise ApiError("InvalidParameter", f"The query string has more than {MAX_QUERY_FIELDS} fields.", 400)
    pairs: list[tuple[str, str]] = []
    try:
        for piece in pieces:
            name, equals, value = piece.partition("=")
            if not equals:
                raise ValueError(f"bad query field: {piece[:64]!r}")
            pairs.append((_unquote(name), _unquote(value)) if "%" in piece or "+" in piece else (name, value))
    except ValueError as error:
        raise ApiError("InvalidParameter", f"The query string is malformed: {error}.", 400) from None
    return pairs


def _unquote(text: str) -> str:
    if "%" not in text and "+" not in text:
        return text
    if _ENCODED_FORM.fullmatch(text):
        try:
            # Only unreserved characters and %XX: the escapes as \xXX, read by C codecs instead of unquote's loop.
            decoded = text.replace("%", "\\x").encode("ascii").decode("unicode_escape").encode("latin-1").decode()
        except UnicodeDecodeError:
            pass  # not UTF-8: unquote_plus below refuses it with its own words
        else:
            if len(text) <= MAX_CACHED_VALUE:
                if len(_ARRIVED_AS) >= MAX_ARRIVED_AS:
                    _ARRIVED_AS.clear()
                _ARRIVED_AS[decoded] = text
            return decoded
    return _unquoted(text) if len(text) <= MAX_CACHED_VALUE else unquote_plus(text, errors="strict")


_ENCODED_FORM = re.compile(
    r"[A-Za-z0-9_.~-]*(?:%(?:[01][0-9A-F]|2[0-9A-CF]|3[A-F]|40|5[B-E]|60|7[B-DF]|[89A-F][0-9A-F])[A-Za-z0-9_.~-]*)*"
)
"""Text exactly as ``_encode`` writes it: unreserved characters as themselves, every other byte as %XX in upper-case
hex (what the SDKs send for ARNs). Such text is the encoding of what it decodes to."""
_ARRIVED_AS: dict[str, str] = {}
"""Decoded value -> the text it arrived as, for text in ``_ENCODED_FORM``: its encoding for the string to sign."""
MAX_ARRIVED_AS = 1024


def unique_parameters(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Parameters by name; a repeated name is refused rather than guessed at."""
    parameters: dict[str, str] = {}
    for key, value in pairs:
        if key in parameters:
            raise _bad_parameter(key, "it is repeated")
        parameters[key] = value
    return parameters


@lru_cache(maxsize=256)
def parse_timestamp(value: str, name: str) -> datetime:
    """``YYYY-MM-DDThh:mm:ssZ`` (the only format the SDK sends) as an aware UTC datetime.

    Cached: calls within the same second carry the same text (a refusal raises and is not cached).
    """
    match = _TIMESTAMP.match(value)
    if match is None:
        raise ApiError("InvalidTimeStamp.Format", f"The {name} must be in the format yyyy-MM-ddTHH:mm:ssZ.", 400)
    try:
        year, month, day, hour, minute, second = (int(part) for part in match.groups())
        return datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)
    except ValueError:
        raise ApiError("InvalidTimeStamp.Format", f"The {name} is not a valid date and time.", 400) from None


class NonceCache:
    """Signature nonces seen within the skew window, per AccessKey: a replayed request is refused.

    Entries older than the window are dropped lazily; a request that old fails the clock-skew check anyway.
    """

    def __init__(self, window: timedelta = MAX_CLOCK_SKEW, prune_every: int = 4096) -> None:
        self._window = window
        self._prune_every = prune_every
        self._seen: dict[tuple[str, str], datetime] = {}
        self._inserts = 0
        self._lock = threading.Lock()

    def remember(self, access_key_id: str, nonce: str, timestamp: datetime, now: datetime) -> bool:
        """Record the nonce; False if it was already used with this AccessKey."""
        key = (access_key_id, nonce)
        with self._lock:
            if key in self._seen:
                return False
            self._seen[key] = timestamp
            self._inserts += 1
            if self._inserts >= self._prune_every:
                self._inserts = 0
                horizon = now - self._window
                self._seen = {seen: when for seen, when in self._seen.items() if when >= horizon}
            return True

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()
            self._inserts = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)


_ACS3_HEADERS = (
    "x-acs-content-sha256",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-accesskey-id",
    "x-acs-action",
    "x-acs-version",
    "x-acs-security-token",
)
"""The protocol headers an ACS3 claim reads, each of which must come at most once."""
_ABSENT: tuple[None] = (None,)


def _acs3_headers(headers: Mapping[str, tuple[str, ...]]) -> list[str | None]:
    """The values of ``_ACS3_HEADERS`` in that order (None when absent), in one pass; a repeated one is refused."""
    values = [headers.get(name) or _ABSENT for name in _ACS3_HEADERS]  # no value at all reads as absent
    if len(values) != sum(map(len, values)):
        raise _repeated_header(next(name for name, sent in zip(_ACS3_HEADERS, values, strict=True) if len(sent) > 1))
    return [sent[0] for sent in values]


def _parse_acs3(
    raw: RawRequest, authorization: str, query_pairs: list[tuple[str, str]], everything: dict[str, str]
) -> SignedClaim:
    fields = authorization_fields(authorization.strip())
    if fields is None:
        raise ApiError("IncompleteSignature", "The Authorization header is malformed.", 400)
    algorithm, access_key_id, signed_header_list, signature = fields
    if algorithm != ACS3_ALGORITHM:
        raise ApiError("InvalidSignatureMethod", f"The signature algorithm {algorithm} is not supported.", 400)
    content_sha256, date, nonce_text, key_header, action, version, token = _acs3_headers(raw.headers)
    if content_sha256 is None:
        raise ApiError("IncompleteSignature", "The header x-acs-content-sha256 is missing.", 400)
    content_sha256 = content_sha256.strip()
    if not hmac.compare_digest(content_sha256.encode("utf-8", "replace"), _body_sha256(raw.body)):
        raise ApiError("InvalidContentSha256", "The x-acs-content-sha256 header does not match the request body.", 400)
    signed_headers, signed, unsigned_required, unsigned_if_present = _signed_header_names(signed_header_list)
    received = raw.headers.keys()
    if unsigned_required or not received.isdisjoint(unsigned_if_present):
        must_sign = _REQUIRED_SIGNED_HEADERS | (_SIGNED_WHEN_PRESENT & received)
        name = min(must_sign - signed)
        raise ApiError("IncompleteSignature", f"The header {name} must be signed.", 400)
    if not signed <= received:
        name = min(signed - received)
        raise ApiError("IncompleteSignature", f"The signed header {name} is missing from the request.", 400)
    timestamp = parse_timestamp(date or "", "x-acs-date")
    nonce = _valid_nonce(nonce_text or "")
    if key_header is not None and key_header != access_key_id:
        raise ApiError("IncompleteSignature", "The header x-acs-accesskey-id does not match the Credential.", 400)
    action = action or everything.get("Action") or ""
    version = version or everything.get("Version") or ""
    return SignedClaim(  # positional (a NamedTuple built with keywords costs a second pass), in field order
        "ACS3",
        access_key_id,
        signature,
        timestamp,
        nonce,
        _required(action, "Action"),
        _required(version, "Version"),
        _api_parameters(everything),
        token if token is not None else everything.get("SecurityToken"),
        tuple(query_pairs),
        (),
        signed_headers,
        _response_format(everything, default="JSON"),
        content_sha256,
    )


def authorization_fields(text: str) -> tuple[str, str, str, str] | None:
    """Algorithm, AccessKeyId, SignedHeaders and signature of an ACS3 ``Authorization`` value, or None if malformed.

    The signature is 64 hex digits after the last ``Signature=`` (the marker cannot stand inside them); the part before
    it is the same on every call of one client and is read once.
    """
    head, marker, signature = text.rpartition("Signature=")
    if not marker or not _SIGNATURE.fullmatch(signature):
        return None
    fields = _authorization_head(head) if len(head) <= MAX_CACHED_VALUE else _read_authorization_head(head)
    return None if fields is None else (*fields, signature)


def _read_authorization_head(head: str) -> tuple[str, str, str] | None:
    match = _AUTHORIZATION_HEAD.fullmatch(head)
    return None if match is None else (match[1], match[2], match[3])


_authorization_head = lru_cache(maxsize=256)(_read_authorization_head)


@lru_cache(maxsize=64)
def _signed_header_names(
    signed_header_list: str,
) -> tuple[tuple[str, ...], frozenset[str], frozenset[str], frozenset[str]]:
    """The ``SignedHeaders`` list as names in order and as a set, with the headers it leaves unsigned that must be
    signed always and when present; checked once per distinct list (an SDK sends the same list on every call). A
    refusal raises and is not cached."""
    signed_headers = tuple(signed_header_list.split(";")) if signed_header_list else ()
    signed = frozenset(signed_headers)
    if len(signed) != len(signed_headers) or not _SIGNED_HEADER_LIST.fullmatch(signed_header_list):
        raise ApiError("IncompleteSignature", "SignedHeaders must list distinct lower-case header names.", 400)
    return signed_headers, signed, _REQUIRED_SIGNED_HEADERS - signed, _SIGNED_WHEN_PRESENT - signed


def _parse_v2(raw: RawRequest, everything: dict[str, str]) -> SignedClaim:
    method = everything.get("SignatureMethod")
    if method is None:
        raise missing_parameter("SignatureMethod")
    if method != V2_SIGNATURE_METHOD:
        raise ApiError("InvalidSignatureMethod", f"The signature method {method} is not supported.", 400)
    if everything.get("SignatureVersion", "1.0") != "1.0":
        raise invalid_parameter("SignatureVersion", "only 1.0 is supported")
    token = everything.get("SecurityToken")
    return SignedClaim(
        scheme="v2",
        access_key_id=_required(everything.get("AccessKeyId", ""), "AccessKeyId"),
        signature=_required(everything["Signature"], "Signature"),
        timestamp=parse_timestamp(_required(everything.get("Timestamp", ""), "Timestamp"), "Timestamp"),
        nonce=_valid_nonce(_required(everything.get("SignatureNonce", ""), "SignatureNonce")),
        action=_required(everything.get("Action", ""), "Action"),
        version=_required(everything.get("Version", ""), "Version"),
        params=_api_parameters(everything),
        security_token=token if token is not None else raw.header("x-acs-security-token"),
        signed_parameters=tuple((key, value) for key, value in everything.items() if key != "Signature"),
        response_format=_response_format(everything, default="XML"),
    )


def _response_format(everything: Mapping[str, str], *, default: Literal["JSON", "XML"]) -> Literal["JSON", "XML"]:
    wanted = everything.get("Format", default).upper()
    if wanted == "JSON":
        return "JSON"
    if wanted == "XML":
        return "XML"
    raise invalid_parameter("Format", "must be JSON or XML")


def _api_parameters(everything: Mapping[str, str]) -> dict[str, str]:
    parameters: dict[str, str] = {}
    for key, value in everything.items():
        if key in PROTOCOL_PARAMETERS:
            continue
        if not _is_parameter_name(key):
            raise _bad_parameter(key, "the name is not a parameter name")
        parameters[key] = value
    return parameters


@lru_cache(maxsize=1024)
def _is_parameter_name(name: str) -> bool:
    # Cached: the same few names come with every call (a bounded cache; any other name is simply checked again).
    return _PARAMETER_NAME.match(name) is not None


def _required(value: str, name: str) -> str:
    if not value:
        raise missing_parameter(name)
    return value


def _valid_nonce(nonce: str) -> str:
    if not nonce:
        raise missing_parameter("SignatureNonce")
    if len(nonce) > MAX_NONCE_LENGTH:
        raise invalid_parameter("SignatureNonce", f"at most {MAX_NONCE_LENGTH} characters")
    return nonce


def _bad_parameter(name: str, reason: str) -> ApiError:
    # Echo the name in the code only when it looks like a parameter name; fuzzed bytes stay in the message.
    if _PARAMETER_NAME.match(name):
        return invalid_parameter(name, reason)
    return ApiError("InvalidParameter", f"A parameter name is invalid: {reason}.", 400)


_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest().encode()


def _body_sha256(body: bytes) -> bytes:
    """The body's hex SHA-256 as ASCII bytes (the form ``x-acs-content-sha256`` is compared in)."""
    return hashlib.sha256(body).hexdigest().encode() if body else _EMPTY_SHA256
