"""Sealing and opening secrets with real keys: binding, rotation, Cyclid's RSA form."""

from __future__ import annotations

import base64
import logging
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from jobstream.events.documents.secrets import (
    Keyring,
    SecretBox,
    load_keyring,
    looks_like_rsa,
    redact_document,
    retry_job_id,
)
from jobstream.events.errors import SecretError

ORG = "acme"


def open_(box: SecretBox, value: str, job_id: str = "job-a", organization: str = ORG) -> str:
    return box.decrypt(value, job_id=job_id, organization=organization, name="pw")


@pytest.fixture(scope="module")
def org_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def cyclid_encrypt(key: rsa.RSAPrivateKey, value: str) -> str:
    """What Cyclid's client does: public_encrypt (PKCS#1 v1.5), Base64.strict_encode64."""
    return base64.b64encode(key.public_key().encrypt(value.encode(), padding.PKCS1v15())).decode()


def test_a_value_sealed_to_a_job_opens_in_that_job_and_its_retries_only() -> None:
    box = SecretBox(Keyring.generate())
    sealed = box.encrypt_for_job("s3cret-value", "job-a")
    assert "s3cret" not in sealed
    assert open_(box, sealed) == "s3cret-value"
    assert open_(box, sealed, job_id=retry_job_id(retry_job_id("job-a"))) == "s3cret-value"
    with pytest.raises(SecretError, match="secret 'pw' is bound to job job-a"):
        open_(box, sealed, job_id="job-b")


def test_the_bound_job_cannot_be_edited_in_the_sealed_text() -> None:
    box = SecretBox(Keyring.generate())
    sealed = box.encrypt_for_job("s3cret-value", "job-a")
    forged = sealed.replace(":job-a:", ":job-b:")
    with pytest.raises(SecretError, match="secret 'pw' does not open"):
        open_(box, forged, job_id="job-b")
    forged_kind = sealed.replace("enc:v2:job:", "enc:v2:org:").replace(":job-a:", f":{ORG}:")
    with pytest.raises(SecretError, match="does not open"):
        open_(box, forged_kind)


def test_a_value_encrypted_for_an_organisation_opens_in_its_jobs_only() -> None:
    box = SecretBox(Keyring.generate())
    sealed = box.encrypt_for_organization("org-secret", ORG)
    assert open_(box, sealed, job_id="any-job") == "org-secret"
    with pytest.raises(SecretError, match=r"organisation 'acme' .* organisation 'other'"):
        open_(box, sealed, organization="other")


def test_rotation_seals_with_the_newest_key_and_old_values_still_open() -> None:
    old = Keyring.generate()
    before = SecretBox(old).encrypt_for_organization("old-secret", ORG)
    rotated = SecretBox(Keyring.generate().merged(old))
    after = rotated.encrypt_for_organization("new-secret", ORG)
    assert open_(rotated, before) == "old-secret"
    assert open_(rotated, after) == "new-secret"
    with pytest.raises(SecretError, match=r"sealed with key [0-9a-f]{8}, which this process"):
        open_(SecretBox(old), after)


def test_a_missing_key_is_found_by_reloading_the_keyring() -> None:
    old = Keyring.generate()
    rotated = Keyring.generate().merged(old)
    after = SecretBox(rotated).encrypt_for_organization("new-secret", ORG)
    # A worker started before `secret rotate` reads the keyring again when it meets the key.
    assert open_(SecretBox(old, reload=lambda: rotated), after) == "new-secret"


def test_cyclid_rsa_ciphertexts_open_with_the_imported_key(org_key: rsa.RSAPrivateKey) -> None:
    box = SecretBox(Keyring(Keyring.generate().keys, {ORG: org_key}))
    cyclid = cyclid_encrypt(org_key, "from-cyclid")
    # Cyclid's form for a 2048-bit key: 256 bytes, 344 Base64 characters ending in ==.
    assert len(cyclid) == 344 and cyclid.endswith("==")
    assert looks_like_rsa(cyclid)
    assert open_(box, cyclid) == "from-cyclid"
    # Base64.decode64 ignores line breaks: a wrapped value opens too.
    assert open_(box, "\n".join(cyclid[i : i + 60] for i in range(0, 344, 60))) == "from-cyclid"
    # And what jobstream makes in that form, Cyclid's server opens (private_decrypt).
    made = box.encrypt_rsa("to-cyclid", ORG)
    assert looks_like_rsa(made) and len(made) == 344
    assert org_key.decrypt(base64.b64decode(made), padding.PKCS1v15()) == b"to-cyclid"


def test_an_rsa_looking_value_that_does_not_decrypt_is_an_error_naming_it(
    org_key: rsa.RSAPrivateKey,
) -> None:
    box = SecretBox(Keyring(Keyring.generate().keys, {ORG: org_key}))
    # OpenSSL's implicit rejection would turn most of these into random "clear text".
    for _ in range(10):
        fake = base64.b64encode(os.urandom(256)).decode()
        assert box.is_encrypted(fake)
        with pytest.raises(SecretError, match="secret 'pw' looks like a Cyclid RSA ciphertext"):
            open_(box, fake)
    with pytest.raises(SecretError, match=r"secret 'pw' .* no RSA key of organisation 'other'"):
        open_(box, cyclid_encrypt(org_key, "x"), organization="other")


def test_submission_seals_clear_values_and_keeps_values_sealed_in_advance(
    org_key: rsa.RSAPrivateKey,
) -> None:
    box = SecretBox(Keyring(Keyring.generate().keys, {ORG: org_key}))
    cyclid = cyclid_encrypt(org_key, "from-cyclid")
    org = box.encrypt_for_organization("org-secret", ORG)
    document = {
        "secrets": {"clear": "clear-value", "cyclid": cyclid, "org": org},
        "sources": [{"type": "git", "url": "https://example.invalid/r", "token": "tok"}],
    }
    sealed = box.encrypt_document(document, "job-a")
    assert sealed["secrets"]["cyclid"] == cyclid and sealed["secrets"]["org"] == org
    assert open_(box, sealed["secrets"]["clear"]) == "clear-value"
    assert open_(box, sealed["sources"][0]["token"]) == "tok"
    shown = redact_document(sealed)
    assert shown is not None
    assert shown["secrets"] == {"clear": "***", "cyclid": "***", "org": "***"}
    assert shown["sources"][0]["token"] == "***"


def test_a_retry_gets_the_values_sealed_to_the_old_job_sealed_again_to_its_own(
    org_key: rsa.RSAPrivateKey,
) -> None:
    box = SecretBox(Keyring(Keyring.generate().keys, {ORG: org_key}))
    org, cyclid = box.encrypt_for_organization("org-secret", ORG), cyclid_encrypt(org_key, "c")
    document = box.encrypt_document(
        {
            "secrets": {"pw": "job-secret", "org": org, "cyclid": cyclid},
            "sources": [{"type": "git", "url": "https://example.invalid/r", "token": "tok"}],
        },
        "job-a",
    )
    moved = box.reseal_document(document, from_job="job-a", to_job="job-b", organization=ORG)
    assert open_(box, moved["secrets"]["pw"], job_id="job-b") == "job-secret"
    assert open_(box, moved["sources"][0]["token"], job_id="job-b") == "tok"
    with pytest.raises(SecretError, match="bound to job job-b"):
        open_(box, moved["secrets"]["pw"], job_id="job-a")
    # Values bound to the organisation open in any of its jobs: kept as they are.
    assert moved["secrets"]["org"] == org and moved["secrets"]["cyclid"] == cyclid
    # The document it came from is not changed.
    assert open_(box, document["secrets"]["pw"]) == "job-secret"


def test_the_old_unbound_form_is_refused() -> None:
    box = SecretBox(Keyring.generate())
    with pytest.raises(SecretError, match="secret 'pw' has the old unbound form"):
        open_(box, "enc:v1:gAAAAABabc")


def test_the_key_file_is_made_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "config" / "jobstream" / "secret.key"
    first = load_keyring(path)
    assert load_keyring(path).keys == first.keys
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_keys_from_the_environment_replace_the_file(tmp_path: Path) -> None:
    ring = Keyring.generate().merged(Keyring.generate())
    value = ",".join(ring.dump().splitlines()[1:])
    loaded = load_keyring(tmp_path / "unused.key", environment=value)
    assert loaded.keys == ring.keys
    assert not (tmp_path / "unused.key").exists()


def test_an_old_key_inside_the_data_directory_is_read_and_copied_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    legacy = tmp_path / "data" / "secret.key"
    legacy.parent.mkdir()
    old = Keyring.generate()
    legacy.write_text(base64.urlsafe_b64encode(old.keys[0]).decode())  # the old format
    sealed = SecretBox(old).encrypt_for_organization("kept", ORG)
    path = tmp_path / "config" / "secret.key"
    with caplog.at_level(logging.WARNING):
        ring = load_keyring(path, legacy=legacy)
    assert "inside the data directory" in caplog.text and str(path) in caplog.text
    assert Keyring.parse(path.read_text()).keys == old.keys
    assert open_(SecretBox(ring), sealed) == "kept"


def test_a_keyring_survives_its_text_form(org_key: rsa.RSAPrivateKey) -> None:
    ring = Keyring(Keyring.generate().merged(Keyring.generate()).keys, {ORG: org_key})
    again = Keyring.parse(ring.dump())
    assert again.keys == ring.keys
    assert again.rsa[ORG].private_numbers() == org_key.private_numbers()
    with pytest.raises(SecretError, match="not a key"):
        Keyring.parse("not-a-key")
