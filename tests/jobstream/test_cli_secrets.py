"""`jobstream secret ...` and the keyring, through the real command line and real files."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from jobstream.events.documents.secrets import Keyring
from jobstream.settings import Settings

from .cli_support import Cli


@pytest.fixture
def config(cli: Cli, tmp_path: Path) -> Path:
    """This test's own configuration directory, where the default keyring lives."""
    cli.env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    cli.env.pop("JOBSTREAM_SECRET_KEY", None)
    cli.env.pop("JOBSTREAM_SECRET_KEY_FILE", None)
    return tmp_path / "config"


def job_file(tmp_path: Path, secrets: dict[str, str], cmd: str, **extra: str) -> Path:
    doc = tmp_path / "job.json"
    doc.write_text(
        json.dumps(
            {
                **extra,
                "name": "s",
                "secrets": secrets,
                "stages": [{"name": "s", "steps": [{"action": "command", "cmd": cmd}]}],
                "sequence": [{"stage": "s"}],
            }
        )
    )
    return doc


def encrypt(cli: Cli, value: str, *options: str) -> str:
    result = cli("secret", "encrypt", *options, input=value + "\n")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_default_key_file_is_outside_the_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    settings = Settings.load(flags={"data_dir": tmp_path / "data"}, environ={})
    assert settings.secret_key_file == tmp_path / "config" / "jobstream" / "secret.key"
    assert not settings.secret_key_file.is_relative_to(settings.data_dir)
    # What a sandbox hides: the key file, and the old one inside the data directory.
    assert set(settings.key_files) == {settings.secret_key_file, tmp_path / "data" / "secret.key"}
    given = Settings.load(
        environ={"JOBSTREAM_SECRET_KEY_FILE": "/run/keys/k", "JOBSTREAM_SECRET_KEY": "a,b"}
    )
    assert given.secret_key_file == Path("/run/keys/k")
    assert given.secret_key is not None and given.secret_key.get_secret_value() == "a,b"
    assert "a,b" not in repr(given)


def test_the_key_is_kept_outside_the_data_directory(cli: Cli, config: Path, tmp_path: Path) -> None:
    doc = job_file(tmp_path, {"pw": "clear-value-1"}, "echo %{pw}")
    result = cli("run", str(doc))
    assert result.returncode == 0, result.stderr
    key_file = config / "jobstream" / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not list(cli.data_dir.rglob("*.key"))
    assert not (cli.data_dir / "secret.key").exists()


def test_rotate_keeps_old_secrets_readable(cli: Cli, config: Path, tmp_path: Path) -> None:
    before = encrypt(cli, "sealed-before-rotation")
    rotated = cli("secret", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    after = encrypt(cli, "sealed-after-rotation")
    old_id, new_id = before.split(":")[3], after.split(":")[3]
    assert old_id != new_id and f"added key {new_id}" in rotated.stdout
    listed = cli("secret", "keys").stdout
    assert old_id in listed and f"{new_id} (newest" in listed
    assert "sealed-" not in listed
    doc = job_file(
        tmp_path,
        {"a": before, "b": after},
        'test "%{a}" = sealed-before-rotation && test "%{b}" = sealed-after-rotation && '
        "echo %{a} %{b}",
    )
    result = cli("run", str(doc))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "*** ***" in result.stdout and "sealed-" not in result.stdout


def test_a_key_given_in_the_environment_is_used_and_no_file_is_made(
    cli: Cli, config: Path, tmp_path: Path
) -> None:
    ring = Keyring.generate()
    cli.env["JOBSTREAM_SECRET_KEY"] = ",".join(ring.dump().splitlines()[1:])
    sealed = encrypt(cli, "from-the-environment")
    doc = job_file(tmp_path, {"pw": sealed}, 'test "%{pw}" = from-the-environment')
    assert cli("run", str(doc)).returncode == 0
    assert not config.exists()
    # A worker given another key says which key it lacks, and the job fails.
    cli.env["JOBSTREAM_SECRET_KEY"] = ",".join(Keyring.generate().dump().splitlines()[1:])
    result = cli("run", str(doc))
    assert result.returncode == 1
    assert f"secret 'pw' was sealed with key {sealed.split(':')[3]}" in result.stdout


def test_a_data_directory_with_the_old_key_inside_keeps_working(
    cli: Cli, config: Path, tmp_path: Path
) -> None:
    old = Keyring.generate()
    cli.data_dir.mkdir(parents=True)
    (cli.data_dir / "secret.key").write_text(base64.urlsafe_b64encode(old.keys[0]).decode())
    sealed = encrypt(cli, "old-installation")
    doc = job_file(tmp_path, {"pw": sealed}, 'test "%{pw}" = old-installation')
    result = cli("run", str(doc))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "inside the data directory" in result.stderr
    copied = Keyring.parse((config / "jobstream" / "secret.key").read_text())
    assert copied.keys == old.keys


def test_cyclid_rsa_secrets_decrypt_after_import_key(
    cli: Cli, config: Path, tmp_path: Path
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "org.pem"
    # Cyclid keeps PKCS#1; `openssl rsa -inform DER -outform PEM` gives this form.
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    imported = cli("secret", "import-key", str(pem), "--organization", "acme")
    assert imported.returncode == 0, imported.stderr
    assert "2048-bit" in imported.stdout
    # As Cyclid's `secret encrypt` makes it: Base64.strict_encode64(public_encrypt(value)).
    cyclid = base64.b64encode(key.public_key().encrypt(b"cyclid-made", padding.PKCS1v15())).decode()
    made = encrypt(cli, "jobstream-made", "--rsa", "--organization", "acme")
    assert key.decrypt(base64.b64decode(made), padding.PKCS1v15()) == b"jobstream-made"
    doc = job_file(
        tmp_path,
        {"a": cyclid, "b": made},
        'test "%{a}" = cyclid-made && test "%{b}" = jobstream-made && echo %{a} %{b}',
        organization="acme",
    )
    result = cli("run", str(doc))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "*** ***" in result.stdout
    assert "cyclid-made" not in result.stdout and cyclid not in result.stdout


def test_a_value_that_only_looks_like_an_rsa_ciphertext_fails_naming_it(
    cli: Cli, config: Path, tmp_path: Path
) -> None:
    fake = base64.b64encode(os.urandom(256)).decode()
    doc = job_file(tmp_path, {"deploy_key": fake}, "echo %{deploy_key}")
    result = cli("run", str(doc))
    assert result.returncode == 1
    assert "secret 'deploy_key' is a Cyclid RSA ciphertext" in result.stdout
    assert "import-key" in result.stdout
    assert fake not in result.stdout
