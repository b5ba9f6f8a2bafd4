"""The seal itself: only the key's holder can make it, and it binds the name and every sealed field."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ram_delegate import grants as g
from ram_delegate import seal
from ram_delegate.cloud import TaggedResource

KEY = "k" * 32
HELD = seal.SealKeys(KEY)
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
    sealed = g.with_seal(tags, "rd-ops-1", HELD)
    assert g.is_sealed(sealed, "rd-ops-1", HELD)
    assert not g.is_sealed(tags, "rd-ops-1", HELD)  # the tag alone
    assert not g.is_sealed(sealed, "rd-payments-ci", HELD)  # a copied seal
    assert not g.is_sealed({**sealed, g.TAG_EXPIRES_AT: "2031-01-01T00:00:00Z"}, "rd-ops-1", HELD)  # an edited tag
    assert g.is_unsealed(tags, "rd-ops-1", HELD)
    assert not g.is_unsealed({"team": "payments"}, "rd-ops-1", HELD)  # not ours at all: not even reported
    assert g.with_seal(sealed, "rd-ops-1", HELD) == sealed  # resealing is stable


def test_the_user_marker_is_sealed_to_the_user_name() -> None:
    marker = g.user_marker("alice", HELD)
    assert g.is_user_marker(marker, "alice", HELD)
    assert not g.is_user_marker(marker, "bob", HELD)
    assert not g.is_user_marker(g.USER_MARKER, "alice", HELD)


def test_the_external_id_tag_is_readable_only_with_the_key_and_for_its_own_policy() -> None:
    stored = g.stored_external_id("Q2hhbmdlTWVQbGVhc2UtMDAwMDAwMDAw", "rd-assume-1-ops-1", HELD)
    assert "Q2hh" not in stored
    assert len(stored) <= 128
    assert stored == g.stored_external_id("Q2hhbmdlTWVQbGVhc2UtMDAwMDAwMDAw", "rd-assume-1-ops-1", HELD)  # stable
    assert seal.decrypt(HELD, "rd-assume-1-ops-1", stored) == "Q2hhbmdlTWVQbGVhc2UtMDAwMDAwMDAw"
    assert seal.decrypt(None, "rd-assume-1-ops-1", stored) is None
    assert seal.decrypt(seal.SealKeys("x" * 32), "rd-assume-1-ops-1", stored) is None
    assert seal.decrypt(HELD, "rd-assume-1-ops-2", stored) is None  # copied onto another grant's policy
    assert seal.decrypt(HELD, "rd-assume-1-ops-1", stored[:-2] + "AA") is None
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

    assert seal.verify_job(HELD, sealed)
    assert seal.verify_job(HELD, reordered)
    assert not seal.verify_job(seal.SealKeys(KEY + "x"), sealed)
    assert not seal.verify_job(None, sealed)
    assert not seal.verify_job(HELD, _JOB)  # no seal at all


@given(st.sampled_from(["source", "decision", "event_id", "ticket"]), st.text(max_size=20))
def test_editing_any_field_of_a_sealed_job_breaks_its_seal(field: str, value: str) -> None:
    sealed = {**_JOB, "seal": seal.job_seal(KEY, _JOB)}
    edited = {**sealed, field: value}

    assert seal.verify_job(HELD, edited) == (value == _JOB[field])


def test_editing_the_event_inside_a_sealed_job_breaks_its_seal() -> None:
    sealed = {**_JOB, "seal": seal.job_seal(KEY, _JOB)}
    event = {"type": "partner.access.approved", "data": {"ticket": "OPS-1", "partner": {"account_id": "3" * 16}}}

    assert not seal.verify_job(HELD, {**sealed, "event": event})
    assert not seal.verify_job(HELD, {**sealed, "extra": 1})  # a field added after sealing


OLD = "o" * 32
ROTATED = seal.SealKeys("n" * 32, (OLD,))
"""After a rotation: a new current key, the old one kept to verify and decrypt."""
_GRANT_TAGS = {g.TAG_MANAGED_BY: g.MANAGED_BY_VALUE, g.TAG_TICKET: "OPS-1", g.TAG_EXPIRES_AT: "2030-01-01T00:00:00Z"}


def test_after_a_rotation_what_the_old_key_sealed_is_still_ours_and_new_seals_use_the_new_key() -> None:
    before = g.with_seal(_GRANT_TAGS, "rd-ops-1", seal.SealKeys(OLD))

    assert g.is_sealed(before, "rd-ops-1", ROTATED)
    assert g.sealed_with_previous_key(before, "rd-ops-1", ROTATED)
    assert not g.is_sealed(before, "rd-ops-1", seal.SealKeys("n" * 32))  # the old key dropped: no longer ours
    after = g.with_seal(before, "rd-ops-1", ROTATED)
    assert after[g.TAG_SEAL] != before[g.TAG_SEAL]
    assert g.is_sealed(after, "rd-ops-1", seal.SealKeys("n" * 32))
    assert not g.sealed_with_previous_key(after, "rd-ops-1", ROTATED)
    edited = {**before, g.TAG_EXPIRES_AT: "2031-01-01T00:00:00Z"}  # an edit still breaks the old seal
    assert not g.is_sealed(edited, "rd-ops-1", ROTATED)
    assert g.is_unsealed(edited, "rd-ops-1", ROTATED)


def test_after_a_rotation_markers_external_ids_and_jobs_from_before_still_read() -> None:
    old = seal.SealKeys(OLD)
    assert g.is_user_marker(g.user_marker("alice", old), "alice", ROTATED)
    assert not g.is_user_marker(g.user_marker("alice", old), "bob", ROTATED)
    assert g.user_marker("alice", ROTATED) == g.user_marker("alice", seal.SealKeys("n" * 32))
    stored = g.stored_external_id("external-id-0123456789", "rd-assume-1-ops-1", old)
    assert seal.decrypt(ROTATED, "rd-assume-1-ops-1", stored) == "external-id-0123456789"
    assert seal.decrypt(seal.SealKeys("n" * 32), "rd-assume-1-ops-1", stored) is None
    queued = {**_JOB, "seal": seal.job_seal(OLD, _JOB)}  # queued just before the rotation
    assert seal.verify_job(ROTATED, queued)
    assert not seal.verify_job(seal.SealKeys("n" * 32), queued)


@given(
    st.lists(st.text(min_size=16, max_size=24), min_size=1, max_size=4, unique=True),
    st.text(min_size=16, max_size=24),
)
def test_a_seal_is_ours_exactly_when_its_key_is_held(held: list[str], sealing: str) -> None:
    keys = seal.SealKeys(held[0], tuple(held[1:]))
    tags = g.with_seal(_GRANT_TAGS, "rd-ops-1", seal.SealKeys(sealing))

    assert g.is_sealed(tags, "rd-ops-1", keys) == (sealing in held)
    assert g.sealed_with_previous_key(tags, "rd-ops-1", keys) == (sealing in held[1:])


def test_seal_keys_never_show_a_key() -> None:
    shown = f"{ROTATED!r} {ROTATED}"
    assert OLD not in shown
    assert "n" * 32 not in shown
    assert seal.SealKeys("a" * 16, ("a" * 16, "b" * 16)).all == ("a" * 16, "b" * 16)


def _resource(name: str, tags: dict[str, str]) -> TaggedResource:
    return TaggedResource(name=name, arn=f"acs:ram::1:policy/{name}", tags=tags)


def test_the_previous_key_report_says_how_long_the_old_key_is_needed() -> None:
    old = seal.SealKeys(OLD)
    grant = _resource("rd-ops-1", g.with_seal(_GRANT_TAGS, "rd-ops-1", old))
    later = {**_GRANT_TAGS, g.TAG_TICKET: "OPS-2", g.TAG_EXPIRES_AT: "2030-03-01T00:00:00Z"}
    renewed = _resource("rd-ops-2", g.with_seal(later, "rd-ops-2", ROTATED))  # written again since: new key
    tomb_tags = {
        g.TAG_MANAGED_BY: g.MANAGED_BY_VALUE,
        g.TAG_KIND: g.KIND_TOMBSTONE,
        g.TAG_REVOKED_AT: "2030-01-20T00:00:00Z",
    }
    tombstone = _resource("rd-tomb-ops-3", g.with_seal(tomb_tags, "rd-tomb-ops-3", old))

    assert g.previous_key_report([grant, renewed, tombstone], seal.SealKeys("n" * 32), 96) == {}  # no previous key
    report = g.previous_key_report([grant, renewed, tombstone], ROTATED, 96)
    assert report == {"sealed_with_previous_key": 2, "previous_key_needed_until": "2030-01-24T00:00:00Z"}
    assert g.previous_key_report([renewed], ROTATED, 96) == {"sealed_with_previous_key": 0}
    no_expiry = _resource("rd-ops-4", g.with_seal({g.TAG_MANAGED_BY: g.MANAGED_BY_VALUE}, "rd-ops-4", old))
    assert g.previous_key_report([grant, no_expiry], ROTATED, 96)["previous_key_needed_until"] == "unknown"


def test_a_record_differs_by_what_it_says_not_by_its_seal_or_the_key_of_its_external_id() -> None:
    name = "rd-assume-1-ops-1"
    old = seal.SealKeys(OLD)
    stored = g.with_seal(
        {**_GRANT_TAGS, g.TAG_EXTERNAL_ID: g.stored_external_id("external-id-0123456789", name, old)}, name, old
    )
    same = g.with_seal(
        {**_GRANT_TAGS, g.TAG_EXTERNAL_ID: g.stored_external_id("external-id-0123456789", name, ROTATED)}, name, ROTATED
    )
    assert same[g.TAG_SEAL] != stored[g.TAG_SEAL]
    assert same[g.TAG_EXTERNAL_ID] != stored[g.TAG_EXTERNAL_ID]

    assert not g.record_differs(stored, same, name, ROTATED)
    assert g.record_differs(stored, same, name, seal.SealKeys("n" * 32))  # the old ciphertext no longer reads
    assert g.record_differs(stored, {**same, g.TAG_EXPIRES_AT: "2031-01-01T00:00:00Z"}, name, ROTATED)
    other = g.stored_external_id("another-id-0123456789", name, ROTATED)
    assert g.record_differs(stored, {**same, g.TAG_EXTERNAL_ID: other}, name, ROTATED)
    plain = {**stored, g.TAG_EXTERNAL_ID: "external-id-0123456789"}  # stored before encryption existed
    assert not g.record_differs(plain, same, name, ROTATED)  # the same value: a redelivery writes nothing
    assert g.record_differs(plain, {**same, g.TAG_STATE: "revoked"}, name, ROTATED)  # re-encrypted with a change


def test_while_a_new_key_settles_what_the_current_one_sealed_still_counts_as_needing_an_older_key() -> None:
    settling = seal.SealKeys(OLD, pending="n" * 32)  # the new KMS version verifies, the previous one still seals
    grant = _resource("rd-ops-1", g.with_seal(_GRANT_TAGS, "rd-ops-1", settling))

    assert g.is_sealed(grant.tags, "rd-ops-1", settling)
    assert g.is_sealed(g.with_seal(_GRANT_TAGS, "rd-ops-1", seal.SealKeys("n" * 32)), "rd-ops-1", settling)
    assert g.previous_key_report([grant], settling, 96) == {
        "sealed_with_previous_key": 1,
        "previous_key_needed_until": "2030-01-01T00:00:00Z",
        "seal_key_settling": True,
    }
    assert settling.newest == "n" * 32
    assert "n" * 32 not in repr(settling)


def test_clearing_dropped_fields_touches_only_our_tags_and_never_the_seal() -> None:
    existing = {
        g.TAG_MANAGED_BY: g.MANAGED_BY_VALUE,
        g.TAG_RESOURCE_GROUP: "rg-1",
        g.TAG_REVOKED_AT: "",  # cleared before: nothing more to clear
        g.TAG_SEAL: "v1.old",
        "team": "payments",  # not ours
    }
    desired = {g.TAG_MANAGED_BY: g.MANAGED_BY_VALUE, g.TAG_TICKET: "OPS-1"}

    assert g.clear_dropped(desired, existing) == {**desired, g.TAG_RESOURCE_GROUP: ""}
    assert g.clear_dropped(desired, None) == desired
    sealed = g.with_seal(g.clear_dropped(desired, existing), "rd-ops-1", HELD)
    assert g.is_sealed({**existing, **sealed}, "rd-ops-1", HELD)  # what RAM holds after the one TagResources
