"""Secret values of job documents, and the installation's keys that seal them.

A document's `secrets` values (and git source tokens) are sealed before the document is
written to the log, so the log and every consumer only ever see ciphertext; only the runner
opens them, in memory. Three sealed forms exist, and each is bound to what may open it:

- `enc:v2:job:<key id>:<job id>:<data>`: sealed at submission (AES-256-GCM, the job id as
  associated data). Copied into another job's document it does not open; a retry of the job
  (whose id derives from the lost job's, `retry_job_id`) still opens it, and a retry with
  an id of its own gets its values sealed again to that id (`SecretBox.reseal_document`).
- `enc:v2:org:<key id>:<organisation>:<data>`: sealed in advance (`jobstream secret
  encrypt`) for an organisation, the organisation's name as associated data; any job of that
  organisation opens it, no job of another.
- Cyclid's form: base64 of RSA PKCS#1 v1.5 with the organisation's public key. It opens
  with that organisation's private key, imported into the keyring (`jobstream secret
  import-key`). A value that looks like one (base64 of exactly an RSA modulus's size) is
  always taken as one: if it does not open, the job fails naming the secret.

The key id in a sealed value is the first 8 hex digits of the SHA-256 of the key, so a
process that lacks a key can say which one. Values of the old, unbound form `enc:v1:` are
refused: a copy of one would open in any job.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import re
import tempfile
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from jobstream.events.errors import SecretError

__all__ = [
    "LEGACY_PREFIX",
    "PREFIX",
    "REDACTED",
    "Keyring",
    "SecretBox",
    "bound_elsewhere",
    "key_id",
    "load_keyring",
    "load_rsa_key",
    "looks_like_rsa",
    "redact_document",
    "retry_job_id",
    "write_keyring",
]

log = logging.getLogger(__name__)

PREFIX = "enc:v2:"
LEGACY_PREFIX = "enc:v1:"
REDACTED = "***"
_JOB = PREFIX + "job:"
_ORG = PREFIX + "org:"
_NONCE = 12
# RSA moduli Cyclid's organisations can have (1024 to 4096 bits; Cyclid makes 2048).
_RSA_SIZES = frozenset({128, 256, 384, 512})
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_RSA_ENTRY = "rsa:"
# Separates keyring entries, so the same text works as a file and as one variable.
_ENTRY_SEPARATORS = re.compile(r"[\s,]+")


def key_id(key: bytes) -> str:
    """The name of a symmetric key in sealed values and messages (not secret)."""
    return hashlib.sha256(key).hexdigest()[:8]


def retry_job_id(job_id: str) -> str:
    """The id of the next attempt of a lost job: derived, so a retry can open its secrets."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"jobstream:retry:{job_id}").hex


# A document allows at most 10 retries (JobDocument.retry): attempts 2 to 11.
_MAX_ATTEMPTS = 11


def looks_like_rsa(value: str) -> bool:
    """Whether `value` has the shape of Cyclid's ciphertext: base64 of an RSA block."""
    text = "".join(value.split())
    if len(text) % 4 or not _BASE64.fullmatch(text):
        return False
    return len(base64.b64decode(text)) in _RSA_SIZES


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _associated(kind: str, subject: str) -> bytes:
    return f"jobstream-secret:v2:{kind}:{subject}".encode()


class Keyring:
    """The keys of an installation: symmetric keys, oldest first (the last seals new
    values), and the RSA private keys of organisations imported from Cyclid.

    As text (a key file, or `JOBSTREAM_SECRET_KEY`): entries separated by newlines, spaces
    or commas; a symmetric key is 32 bytes in URL-safe base64 (the form of the old
    `secret.key`); an RSA key is `rsa:<organisation>:<base64 of its PKCS#8 DER>`; lines
    starting with `#` are comments."""

    def __init__(
        self,
        keys: Iterable[bytes] = (),
        rsa_keys: Mapping[str, rsa.RSAPrivateKey] | None = None,
    ) -> None:
        self.keys: list[bytes] = []
        for key in keys:
            if len(key) != 32:
                raise SecretError(f"a secret key is 32 bytes, not {len(key)}")
            if key not in self.keys:
                self.keys.append(key)
        self.rsa: dict[str, rsa.RSAPrivateKey] = dict(rsa_keys or {})
        for organization in self.rsa:
            # The text form separates entries with spaces and commas.
            if not organization or _ENTRY_SEPARATORS.search(organization):
                raise SecretError(
                    f"organisation name {organization!r}: give one without spaces or commas"
                )

    @classmethod
    def generate(cls) -> Keyring:
        return cls([AESGCM.generate_key(bit_length=256)])

    @classmethod
    def parse(cls, text: str, source: str = "the keyring") -> Keyring:
        keys: list[bytes] = []
        rsa_keys: dict[str, rsa.RSAPrivateKey] = {}
        lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
        for entry in _ENTRY_SEPARATORS.split("\n".join(lines)):
            if not entry:
                continue
            try:
                if entry.startswith(_RSA_ENTRY):
                    organization, _, der = entry[len(_RSA_ENTRY) :].rpartition(":")
                    rsa_keys[organization] = load_rsa_key(base64.b64decode(der, validate=True))
                elif len(key := _unb64(entry)) == 32:
                    keys.append(key)
                else:
                    raise ValueError("not 32 bytes")
            except (binascii.Error, ValueError, SecretError):
                raise SecretError(f"{source} holds an entry that is not a key") from None
        return cls(keys, rsa_keys)

    def dump(self) -> str:
        lines = [
            "# jobstream secret keys: the last key seals new secrets, every key opens them.",
            *(_b64(key) for key in self.keys),
        ]
        for organization, key in self.rsa.items():
            der = key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            lines.append(f"{_RSA_ENTRY}{organization}:{base64.b64encode(der).decode()}")
        return "\n".join(lines) + "\n"

    def merged(self, older: Keyring) -> Keyring:
        """This keyring with `older`'s keys added before its own (its newest stays newest)."""
        return Keyring([*older.keys, *self.keys], {**older.rsa, **self.rsa})

    def describe(self) -> list[str]:
        """One line per key, without key material, the newest symmetric key marked."""
        lines = [
            f"{key_id(k)}{' (newest: seals new secrets)' if i == len(self.keys) - 1 else ''}"
            for i, k in enumerate(self.keys)
        ]
        lines += [f"rsa:{org} ({k.key_size} bits)" for org, k in self.rsa.items()]
        return lines


def load_rsa_key(data: bytes) -> rsa.RSAPrivateKey:
    """An RSA private key from PEM or DER, PKCS#1 or PKCS#8 (Cyclid stores PKCS#1 DER)."""
    loader = (
        serialization.load_pem_private_key
        if data.lstrip().startswith(b"-----")
        else serialization.load_der_private_key
    )
    try:
        key = loader(data, password=None)
    except (ValueError, TypeError) as error:
        raise SecretError(f"not an unencrypted RSA private key in PEM or DER: {error}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SecretError("the key is not an RSA key")
    return key


def write_keyring(path: Path, keyring: Keyring, *, replace: bool) -> bool:
    """Write `keyring` to `path`, readable by its owner only, all at once (a reader never
    sees half a file). Without `replace`, an existing file wins: returns False."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(keyring.dump())
        if replace:
            os.replace(tmp, path)
            return True
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_keyring(
    path: Path, *, environment: str | None = None, legacy: Path | None = None
) -> Keyring:
    """The installation's keys: from `environment` (JOBSTREAM_SECRET_KEY) when set, else
    from the key file at `path`, created with one new key on first use. A key file `legacy`
    left inside the data directory by older versions is still read (with a warning), and
    becomes the key file's first content when there is none yet."""
    old = None
    if legacy is not None and legacy.is_file():
        old = Keyring.parse(legacy.read_text(), str(legacy))
    copied = False
    if environment:
        keyring = Keyring.parse(environment, "JOBSTREAM_SECRET_KEY")
    else:
        if not path.is_file():
            copied = write_keyring(path, old or Keyring.generate(), replace=False) and bool(old)
        keyring = Keyring.parse(path.read_text(), str(path))
    if old is not None:
        log.warning(
            "a secret key file is inside the data directory (%s), where jobs run: its keys "
            "are read%s; delete it once no queued job needs it",
            legacy,
            f" and were copied to {path}" if copied else "",
        )
        keyring = keyring.merged(old)
    if not keyring.keys:
        raise SecretError("the keyring holds no secret key")
    return keyring


class SecretBox:
    """Seals and opens secret values with a keyring.

    `reload`, when given, reads the keyring again; it is called once when a value names a
    key this box lacks, so a long-running worker picks up a key added by `secret rotate`."""

    def __init__(self, *keys: bytes | Keyring, reload: Callable[[], Keyring] | None = None) -> None:
        keyring = Keyring()
        for key in keys:
            keyring = (key if isinstance(key, Keyring) else Keyring([_unb64(key.decode())])).merged(
                keyring
            )
        if not keyring.keys:
            raise SecretError("a SecretBox needs a key")
        self.keyring = keyring
        self._reload = reload

    @staticmethod
    def is_encrypted(value: str) -> bool:
        """Whether `value` is sealed (in any form, the refused old one too)."""
        return value.startswith((PREFIX, LEGACY_PREFIX)) or looks_like_rsa(value)

    def _seal(self, value: str, kind: str, subject: str) -> str:
        key = self.keyring.keys[-1]
        nonce = os.urandom(_NONCE)
        data = AESGCM(key).encrypt(nonce, value.encode(), _associated(kind, subject))
        return f"{PREFIX}{kind}:{key_id(key)}:{subject}:{_b64(nonce + data)}"

    def encrypt_for_job(self, value: str, job_id: str) -> str:
        return self._seal(value, "job", job_id)

    def encrypt_for_organization(self, value: str, organization: str) -> str:
        return self._seal(value, "org", organization)

    def encrypt_rsa(self, value: str, organization: str) -> str:
        """Cyclid's `secret encrypt`: base64 of RSA PKCS#1 v1.5 with the organisation's
        public key (so the value also opens on a Cyclid server of that organisation)."""
        key = self._rsa_key(organization)
        data = value.encode()
        if len(data) > key.key_size // 8 - 11:
            raise SecretError(f"too long for RSA: at most {key.key_size // 8 - 11} bytes")
        return base64.b64encode(key.public_key().encrypt(data, padding.PKCS1v15())).decode()

    def _rsa_key(self, organization: str) -> rsa.RSAPrivateKey:
        key = self.keyring.rsa.get(organization)
        if key is None and self._refresh():
            key = self.keyring.rsa.get(organization)
        if key is None:
            raise SecretError(
                f"no RSA key of organisation '{organization}' is held "
                f"(import it with `jobstream secret import-key`)"
            )
        return key

    def _refresh(self) -> bool:
        if self._reload is None:
            return False
        self.keyring = self._reload()
        return True

    def decrypt(self, value: str, *, job_id: str, organization: str, name: str) -> str:
        """The clear text of the sealed `value` of secret `name` in job `job_id` of
        `organization`; SecretError (naming the secret) if it may not or cannot be opened."""
        if value.startswith(LEGACY_PREFIX):
            raise SecretError(
                f"secret '{name}' has the old unbound form enc:v1:, which is refused: "
                "encrypt it again with `jobstream secret encrypt`"
            )
        if value.startswith(_JOB):
            kid, subject, data = self._parts(value[len(_JOB) :], name)
            if job_id not in _attempts(subject):
                raise SecretError(
                    f"secret '{name}' is bound to job {subject} and does not open in job "
                    f"{job_id}: a secret sealed at submission belongs to its own job only"
                )
            return self._open(kid, data, "job", subject, name)
        if value.startswith(_ORG):
            kid, subject, data = self._parts(value[len(_ORG) :], name)
            if subject != organization:
                raise SecretError(
                    f"secret '{name}' was encrypted for organisation '{subject}' and does "
                    f"not open in a job of organisation '{organization}'"
                )
            return self._open(kid, data, "org", subject, name)
        if looks_like_rsa(value):
            return self._open_rsa(value, organization, name)
        raise SecretError(f"secret '{name}' is not sealed")

    @staticmethod
    def _parts(rest: str, name: str) -> tuple[str, str, str]:
        kid, _, rest = rest.partition(":")
        subject, _, data = rest.rpartition(":")
        if not kid or not subject or not data:
            raise SecretError(f"secret '{name}' is a damaged sealed value")
        return kid, subject, data

    def _key(self, kid: str) -> bytes | None:
        return next((k for k in self.keyring.keys if key_id(k) == kid), None)

    def _open(self, kid: str, data: str, kind: str, subject: str, name: str) -> str:
        key = self._key(kid)
        if key is None and self._refresh():
            key = self._key(kid)
        if key is None:
            held = ", ".join(key_id(k) for k in self.keyring.keys)
            raise SecretError(
                f"secret '{name}' was sealed with key {kid}, which this process does not "
                f"hold (it holds {held}): give every process the same key file or "
                "JOBSTREAM_SECRET_KEY"
            )
        try:
            raw = _unb64(data)
            clear = AESGCM(key).decrypt(raw[:_NONCE], raw[_NONCE:], _associated(kind, subject))
        except (InvalidTag, ValueError, binascii.Error):
            raise SecretError(f"secret '{name}' does not open: it was altered") from None
        return clear.decode()

    def _open_rsa(self, value: str, organization: str, name: str) -> str:
        try:
            key = self._rsa_key(organization)
        except SecretError as error:
            raise SecretError(f"secret '{name}' is a Cyclid RSA ciphertext, but {error}") from None
        # Cyclid: private_decrypt(Base64.decode64(secret)), default PKCS#1 v1.5 padding.
        clear = _pkcs1v15_decrypt(key, base64.b64decode("".join(value.split())))
        if clear is None:
            raise SecretError(
                f"secret '{name}' looks like a Cyclid RSA ciphertext but does not decrypt "
                f"with organisation '{organization}''s key"
            )
        return clear.decode(errors="replace")

    def reseal_document(
        self, document: dict[str, Any], *, from_job: str, to_job: str, organization: str
    ) -> dict[str, Any]:
        """A copy of `document` (as job `from_job` was submitted with it) whose values
        sealed to that job are sealed again to `to_job`, so that a retry with an id of its
        own opens them; values sealed for an organisation, or Cyclid's RSA form, are kept
        as they are. The clear values exist only in memory, for this call."""

        def move(value: str, name: str) -> str:
            if not value.startswith(_JOB):
                return value
            clear = self.decrypt(value, job_id=from_job, organization=organization, name=name)
            return self.encrypt_for_job(clear, to_job)

        out = dict(document)
        if isinstance(document.get("secrets"), dict):
            out["secrets"] = {k: move(v, k) for k, v in document["secrets"].items()}
        if isinstance(document.get("sources"), list):
            out["sources"] = [
                {**s, "token": move(s["token"], f"sources[{i}].token")}
                if isinstance(s, dict) and isinstance(s.get("token"), str)
                else s
                for i, s in enumerate(document["sources"])
            ]
        return out

    def encrypt_document(self, document: dict[str, Any], job_id: str) -> dict[str, Any]:
        """A copy of a (validated) document with every clear secret value sealed to
        `job_id`; values sealed in advance (for an organisation, or Cyclid's RSA form) are
        kept as they are, and open in the runner or fail the job there."""

        def seal(value: str) -> str:
            return value if self.is_encrypted(value) else self.encrypt_for_job(value, job_id)

        out = dict(document)
        if document.get("secrets"):
            out["secrets"] = {k: seal(v) for k, v in document["secrets"].items()}
        if document.get("sources"):
            out["sources"] = [
                {**s, "token": seal(s["token"])} if s.get("token") else s
                for s in document["sources"]
            ]
        return out


def _pkcs1v15_decrypt(key: rsa.RSAPrivateKey, ciphertext: bytes) -> bytes | None:
    """RSAES-PKCS1-v1_5 decryption that says when the padding is wrong (None).

    `key.decrypt(..., PKCS1v15())` cannot be used: OpenSSL 3.2 and later apply implicit
    rejection, so a ciphertext with bad padding "decrypts" to random bytes without an
    error, and such a value would be used as the secret. Telling a bad value apart is what
    Cyclid did too; it is a padding oracle for whoever can submit many jobs (docs/secrets.md).
    """
    numbers = key.private_numbers()
    p, q, n = numbers.p, numbers.q, numbers.public_numbers.n
    size = (n.bit_length() + 7) // 8
    c = int.from_bytes(ciphertext, "big")
    if len(ciphertext) != size or c >= n:
        return None
    # The CRT form of c^d mod n.
    m1, m2 = pow(c, numbers.dmp1, p), pow(c, numbers.dmq1, q)
    m = m2 + (numbers.iqmp * (m1 - m2) % p) * q
    block = m.to_bytes(size, "big")
    separator = block.find(b"\0", 2)
    # 00 02, at least 8 non-zero padding bytes, 00, the message.
    if block[:2] != b"\0\2" or separator < 10:
        return None
    return block[separator + 1 :]


def _attempts(job_id: str) -> set[str]:
    ids = {job_id}
    for _ in range(_MAX_ATTEMPTS - 1):
        job_id = retry_job_id(job_id)
        ids.add(job_id)
    return ids


def bound_elsewhere(value: str) -> str | None:
    """For a value a submitter sends: why it can never open in the new job (an old
    unbound value, or one sealed to another job), else None."""
    if value.startswith(LEGACY_PREFIX):
        return (
            "the old unbound form enc:v1: is refused: encrypt the value again with "
            "`jobstream secret encrypt`"
        )
    if value.startswith(_JOB):
        return (
            "is sealed to another job and opens only there: give the clear value, or one "
            "made with `jobstream secret encrypt`"
        )
    return None


def redact_document(document: dict[str, Any] | None) -> dict[str, Any] | None:
    """A document as answers show it: secret names with `***`, source tokens `***`."""
    if not document:
        return document
    out = dict(document)
    if isinstance(document.get("secrets"), dict):
        out["secrets"] = dict.fromkeys(document["secrets"], REDACTED)
    if isinstance(document.get("sources"), list):
        out["sources"] = [
            {**s, "token": REDACTED} if isinstance(s, dict) and s.get("token") else s
            for s in document["sources"]
        ]
    return out
