"""The vendors' callback cryptography: Feishu's published example, DingTalk's layout, and tampering refused."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ram_delegate.intake.crypto import (
    CryptoError,
    dingtalk_decrypt,
    dingtalk_encrypt,
    dingtalk_key,
    dingtalk_signature,
    feishu_decrypt,
    feishu_encrypt,
    feishu_signature,
)

AES_KEY = "4g5j64qlyl3zvetqxz5jiocdr586fn2zvjpa8zls3ij"


def test_feishu_documented_example_decrypts() -> None:
    # open.feishu.cn "Encrypt Key" example: key "test key" and this ciphertext decrypt to "hello world"
    assert feishu_decrypt("test key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=") == b"hello world"


def test_feishu_signature_is_sha256_of_timestamp_nonce_key_body() -> None:
    body = b'{"encrypt":"abc"}'
    expected = hashlib.sha256(b"1700000000" + b"nonce" + b"key" + body).hexdigest()
    assert feishu_signature("1700000000", "nonce", "key", body) == expected


@given(st.binary(max_size=2048), st.text(min_size=1, max_size=40))
@settings(max_examples=50, deadline=None)
def test_feishu_round_trip(message: bytes, key: str) -> None:
    assert feishu_decrypt(key, feishu_encrypt(key, message)) == message


@given(st.binary(max_size=2048), st.text(alphabet="abcdefgh0123456789", min_size=1, max_size=30))
@settings(max_examples=50, deadline=None)
def test_dingtalk_round_trip(message: bytes, receiver: str) -> None:
    assert dingtalk_decrypt(AES_KEY, dingtalk_encrypt(AES_KEY, receiver, message)) == (message, receiver)


def test_dingtalk_layout_is_random_length_message_receiver_padded_to_32() -> None:
    encrypted = dingtalk_encrypt(AES_KEY, "corp", b"success", random=b"R" * 16)
    key = dingtalk_key(AES_KEY)
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(base64.b64decode(encrypted)) + decryptor.finalize()
    assert len(plain) % 32 == 0
    assert plain.startswith(b"R" * 16 + struct.pack(">I", 7) + b"successcorp")


def test_dingtalk_signature_sorts_its_four_parts() -> None:
    parts = ["token", "1700000000000", "nonce", "ENCRYPTED"]
    assert dingtalk_signature(*parts) == hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()  # noqa: S324


@pytest.mark.parametrize("bad", ["short", "!" * 43, "A" * 44])
def test_a_malformed_dingtalk_key_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="aes_key"):
        dingtalk_key(bad)


def test_tampered_ciphertexts_are_crypto_errors_not_crashes() -> None:
    for junk in ["", "not base64!", base64.b64encode(b"x" * 15).decode(), base64.b64encode(b"\x00" * 64).decode()]:
        with pytest.raises(CryptoError):
            feishu_decrypt("k", junk)
        with pytest.raises(CryptoError):
            dingtalk_decrypt(AES_KEY, junk)
