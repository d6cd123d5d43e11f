"""Processes starting together on a fresh configuration directory: the first to create the
key file wins, every other reads the winner's whole key, and none sees a partial file.

Measured: a key file created and then written (the old way) fails this within 60 rounds;
the 360 loads here take about 10 s, mostly the processes' start."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from jobstream.events.documents.secrets import Keyring, key_id

PROCESSES = 6
ROUNDS = 60
BOUND = 60.0

# Each round: wait for the gate (all processes spin on it, so they start within about a
# millisecond of each other), load the keyring of a directory nobody has used, report.
_RACER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from jobstream.events.documents.secrets import key_id, load_keyring

    base, me, rounds = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    for r in range(rounds):
        gate = base / f"gate-{r}"
        while not gate.exists():
            time.sleep(0.0002)
        keyring = load_keyring(base / f"config-{r}" / "jobstream" / "secret.key")
        result = base / f"result-{r}-{me}"
        result.with_suffix(".tmp").write_text(key_id(keyring.keys[-1]))
        result.with_suffix(".tmp").rename(result)
    """
)


def test_racing_processes_share_one_whole_key(tmp_path: Path) -> None:
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, str(tmp_path), str(p), str(ROUNDS)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for p in range(PROCESSES)
    ]
    deadline = time.monotonic() + BOUND
    try:
        for r in range(ROUNDS):
            (tmp_path / f"gate-{r}").touch()
            results = [tmp_path / f"result-{r}-{p}" for p in range(PROCESSES)]
            while not all(f.exists() for f in results):
                crashed = [p for p in racers if p.poll() not in (None, 0)]
                assert not crashed, [p.stderr.read() for p in crashed if p.stderr]
                assert time.monotonic() < deadline, f"round {r} did not finish"
                time.sleep(0.005)
            ids = {f.read_text() for f in results}
            key_file = tmp_path / f"config-{r}" / "jobstream" / "secret.key"
            on_disk = Keyring.parse(key_file.read_text())
            assert ids == {key_id(on_disk.keys[-1])}, r
            assert key_file.stat().st_mode & 0o777 == 0o600
            assert [f.name for f in key_file.parent.iterdir()] == ["secret.key"]  # no leftovers
        for racer in racers:
            assert racer.wait(BOUND) == 0
    finally:
        for racer in racers:
            if racer.poll() is None:
                racer.kill()
                racer.wait()
