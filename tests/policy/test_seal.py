"""The seal itself: only the key's holder can make it, and it binds the name and every sealed field."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ram_delegate import grants as g
from ram_delegate import seal

KEY = "k" * 32
KEYS = ("a", "b", "c")
text = st.text(min_size=0, max_size=20)


@given(st.text(min_size=1, max_size=20), st.dictionaries(st.sampled_from(KEYS), text))
def test_a_seal_verifies_for_exactly_its_name_fields_and_key(name: str, fields: dict[str, str]) -> None:
    value = seal.seal(KEY, name, fields, KEYS)
    assert len(value) <= 128  # a RAM tag value
    assert seal.verify(KEY, name, fields, KEYS, value)
    assert not seal.verify("x" * 32, name, fields, KEYS, value)
    assert not seal.verify(KEY, name + "x", fields, KEYS, value)
    for key in KEYS:
        changed = {**fields, key: fields.get(key, "") + "!"}
        assert not seal.verify(KEY, name, changed, KEYS, value)
    assert seal.verify(KEY, name, {**fields, "unsealed": "anything"}, KEYS, value)


def test_no_seal_and_a_garbage_seal_do_not_verify() -> None:
    assert not seal.verify(KEY, "rd-x", {}, KEYS, None)
    assert not seal.verify(KEY, "rd-x", {}, KEYS, "v1.forged")


def test_grant_tags_are_ours_only_when_sealed_for_their_name() -> None:
    tags = {g.TAG_MANAGED_BY: g.MANAGED_BY_VALUE, g.TAG_TICKET: "OPS-1", g.TAG_EXPIRES_AT: "2030-01-01T00:00:00Z"}
    sealed = g.with_seal(tags, "rd-ops-1", KEY)
    assert g.is_sealed(sealed, "rd-ops-1", KEY)
    assert not g.is_sealed(tags, "rd-ops-1", KEY)  # the tag alone
    assert not g.is_sealed(sealed, "rd-payments-ci", KEY)  # a copied seal
    assert not g.is_sealed({**sealed, g.TAG_EXPIRES_AT: "2031-01-01T00:00:00Z"}, "rd-ops-1", KEY)  # an edited tag
    assert g.is_unsealed(tags, "rd-ops-1", KEY)
    assert not g.is_unsealed({"team": "payments"}, "rd-ops-1", KEY)  # not ours at all: not even reported
    assert g.with_seal(sealed, "rd-ops-1", KEY) == sealed  # resealing is stable


def test_the_user_marker_is_sealed_to_the_user_name() -> None:
    marker = g.user_marker("alice", KEY)
    assert g.is_user_marker(marker, "alice", KEY)
    assert not g.is_user_marker(marker, "bob", KEY)
    assert not g.is_user_marker(g.USER_MARKER, "alice", KEY)


def test_the_external_id_tag_is_readable_only_with_the_key_and_for_its_own_policy() -> None:
    stored = g.stored_external_id("Q2hhbmdlTWVQbGVhc2UtMDAwMDAwMDAw", "rd-assume-1-ops-1", KEY)
    assert "Q2hh" not in stored
    assert len(stored) <= 128
    assert stored == g.stored_external_id("Q2hhbmdlTWVQbGVhc2UtMDAwMDAwMDAw", "rd-assume-1-ops-1", KEY)  # stable
    assert seal.decrypt(KEY, "rd-assume-1-ops-1", stored) == "Q2hhbmdlTWVQbGVhc2UtMDAwMDAwMDAw"
    assert seal.decrypt(None, "rd-assume-1-ops-1", stored) is None
    assert seal.decrypt("x" * 32, "rd-assume-1-ops-1", stored) is None
    assert seal.decrypt(KEY, "rd-assume-1-ops-2", stored) is None  # copied onto another grant's policy
    assert seal.decrypt(KEY, "rd-assume-1-ops-1", stored[:-2] + "AA") is None
    assert seal.decrypt(None, "any", "plain-legacy-id") == "plain-legacy-id"
    longest = "x" * seal.MAX_ENCRYPTED_PLAINTEXT
    assert len(seal.encrypt(KEY, "p", longest)) <= 128


_JOB: dict[str, object] = {
    "source": "jira",
    "decision": "approve",
    "event_id": "jira-1",
    "ticket": "OPS-1",
    "event": {"type": "partner.access.approved", "data": {"ticket": "OPS-1", "partner": {"account_id": "2" * 16}}},
}


def test_a_job_seal_verifies_whatever_the_key_order_and_only_under_its_key() -> None:
    sealed = {**_JOB, "seal": seal.job_seal(KEY, _JOB)}
    reordered = dict(reversed(list(sealed.items())))

    assert seal.verify_job(KEY, sealed)
    assert seal.verify_job(KEY, reordered)
    assert not seal.verify_job(KEY + "x", sealed)
    assert not seal.verify_job(None, sealed)
    assert not seal.verify_job(KEY, _JOB)  # no seal at all


@given(st.sampled_from(["source", "decision", "event_id", "ticket"]), st.text(max_size=20))
def test_editing_any_field_of_a_sealed_job_breaks_its_seal(field: str, value: str) -> None:
    sealed = {**_JOB, "seal": seal.job_seal(KEY, _JOB)}
    edited = {**sealed, field: value}

    assert seal.verify_job(KEY, edited) == (value == _JOB[field])


def test_editing_the_event_inside_a_sealed_job_breaks_its_seal() -> None:
    sealed = {**_JOB, "seal": seal.job_seal(KEY, _JOB)}
    event = {"type": "partner.access.approved", "data": {"ticket": "OPS-1", "partner": {"account_id": "3" * 16}}}

    assert not seal.verify_job(KEY, {**sealed, "event": event})
    assert not seal.verify_job(KEY, {**sealed, "extra": 1})  # a field added after sealing
