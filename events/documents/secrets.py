"""Secret values of job documents, encrypted with the installation's key.

A document's `secrets` values (and git source tokens) are encrypted before the document is
written to the log, so the log, the views and every consumer only ever see ciphertext.
Only the runner decrypts, in memory. Encrypted values carry a prefix, so a value encrypted
in advance (`jobstream secret encrypt`) is recognised and kept as it is.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from jobstream.events.errors import SecretError

__all__ = ["PREFIX", "SecretBox"]

PREFIX = "enc:v1:"


class SecretBox:
    """Fernet (AES-128-CBC + HMAC-SHA256) with one key per installation."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    @classmethod
    def load_or_create(cls, path: Path) -> SecretBox:
        """The key stored at `path`; created (readable by its owner only) on first use."""
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return cls(path.read_bytes().strip())
        key = Fernet.generate_key()
        with os.fdopen(fd, "wb") as f:
            f.write(key)
        return cls(key)

    @staticmethod
    def is_encrypted(value: str) -> bool:
        return value.startswith(PREFIX)

    def encrypt(self, value: str) -> str:
        if self.is_encrypted(value):
            return value
        return PREFIX + self._fernet.encrypt(value.encode()).decode()

    def decrypt(self, value: str) -> str:
        if not self.is_encrypted(value):
            raise SecretError("value is not encrypted (expected the enc:v1: prefix)")
        try:
            return self._fernet.decrypt(value[len(PREFIX) :].encode()).decode()
        except InvalidToken:
            raise SecretError("a secret was encrypted with another installation's key") from None

    def encrypt_document(self, document: dict[str, Any]) -> dict[str, Any]:
        """A copy of a (validated) document with every secret value encrypted."""
        out = dict(document)
        if document.get("secrets"):
            out["secrets"] = {k: self.encrypt(v) for k, v in document["secrets"].items()}
        if document.get("sources"):
            out["sources"] = [
                {**s, "token": self.encrypt(s["token"])} if s.get("token") else s
                for s in document["sources"]
            ]
        return out
