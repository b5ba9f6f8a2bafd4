"""The vendors' callback cryptography, both directions (the adapters decrypt; ``send --source`` and tests encrypt).

DingTalk: AES-256-CBC with the 43-character key (base64 of 32 bytes without its ``=``), IV = the key's first 16
bytes, PKCS#7 padding to 32-byte blocks; plaintext = 16 random bytes + 4-byte big-endian length + message + the
receiver id (corpId or AppKey); signature = SHA-1 of the sorted concatenation of token, timestamp, nonce, encrypt.
Feishu/Lark: key = SHA-256(Encrypt Key), body ``base64(iv16 + AES-256-CBC ciphertext)``, PKCS#7 (16); signature
header = hex SHA-256 of ``timestamp + nonce + encrypt_key + raw body`` (a digest, not an HMAC).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

DINGTALK_BLOCK = 32
AES_BLOCK = 16


class CryptoError(ValueError):
    """Undecryptable or unauthentic; the message is generic on purpose."""


def _aes(key: bytes, iv: bytes, data: bytes, *, encrypt: bool) -> bytes:
    cipher = Cipher(algorithms.AES(key), modes.CBC(iv))
    worker = cipher.encryptor() if encrypt else cipher.decryptor()
    return worker.update(data) + worker.finalize()


def _pad(data: bytes, block: int) -> bytes:
    amount = block - len(data) % block
    return data + bytes([amount]) * amount


def _unpad(data: bytes, block: int) -> bytes:
    if not data:
        raise CryptoError("empty plaintext")
    amount = data[-1]
    if not 1 <= amount <= block or data[-amount:] != bytes([amount]) * amount:
        raise CryptoError("bad padding")
    return data[:-amount]


# -- DingTalk -----------------------------------------------------------------------------------------------------


def dingtalk_key(aes_key: str) -> bytes:
    """The AES key of a 43-character DingTalk ``aes_key``; ValueError when it is not one."""
    if len(aes_key) != 43:
        raise ValueError("a DingTalk aes_key has 43 characters")
    try:
        key = base64.b64decode(aes_key + "=", validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a DingTalk aes_key is base64") from None
    if len(key) != 32:
        raise ValueError("a DingTalk aes_key decodes to 32 bytes")
    return key


def dingtalk_signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypt])).encode()).hexdigest()  # noqa: S324 (the vendor's algorithm)


def dingtalk_encrypt(aes_key: str, receiver_id: str, message: bytes, *, random: bytes | None = None) -> str:
    key = dingtalk_key(aes_key)
    plain = (random or os.urandom(16)) + struct.pack(">I", len(message)) + message + receiver_id.encode()
    return base64.b64encode(_aes(key, key[:16], _pad(plain, DINGTALK_BLOCK), encrypt=True)).decode()


def dingtalk_decrypt(aes_key: str, encrypt: str) -> tuple[bytes, str]:
    """``(message, receiver_id)``; CryptoError when it does not decrypt to DingTalk's layout."""
    key = dingtalk_key(aes_key)
    try:
        cipher = base64.b64decode(encrypt, validate=True)
    except (binascii.Error, ValueError):
        raise CryptoError("not base64") from None
    if not cipher or len(cipher) % AES_BLOCK:
        raise CryptoError("bad length")
    plain = _unpad(_aes(key, key[:16], cipher, encrypt=False), DINGTALK_BLOCK)
    if len(plain) < 20:
        raise CryptoError("too short")
    (length,) = struct.unpack(">I", plain[16:20])
    if 20 + length > len(plain):
        raise CryptoError("bad length")
    return plain[20 : 20 + length], plain[20 + length :].decode("utf-8", "replace")


def dingtalk_check_signature(token: str, timestamp: str, nonce: str, encrypt: str, signature: str) -> bool:
    return hmac.compare_digest(dingtalk_signature(token, timestamp, nonce, encrypt), signature.strip().lower())


# -- Feishu / Lark ------------------------------------------------------------------------------------------------


def feishu_encrypt(encrypt_key: str, message: bytes, *, iv: bytes | None = None) -> str:
    key = hashlib.sha256(encrypt_key.encode()).digest()
    vector = iv or os.urandom(16)
    return base64.b64encode(vector + _aes(key, vector, _pad(message, AES_BLOCK), encrypt=True)).decode()


def feishu_decrypt(encrypt_key: str, encrypt: str) -> bytes:
    key = hashlib.sha256(encrypt_key.encode()).digest()
    try:
        raw = base64.b64decode(encrypt, validate=True)
    except (binascii.Error, ValueError):
        raise CryptoError("not base64") from None
    if len(raw) < 2 * AES_BLOCK or len(raw) % AES_BLOCK:
        raise CryptoError("bad length")
    return _unpad(_aes(key, raw[:16], raw[16:], encrypt=False), AES_BLOCK)


def feishu_signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode() + body).hexdigest()


def feishu_check_signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(feishu_signature(timestamp, nonce, encrypt_key, body), signature.strip().lower())
