"""The sandboxes' command lines with the real tools, run by root and by an unprivileged user.

The agent runs as whoever starts it: root on a throwaway machine, a
dedicated user on a shared one (the documented setup). Either way a masked
file must stay masked, even to a benchmark that tries to unmount the mask.
The wrapper is built once (as the agent does at start-up, by this test's
user) and then run as each user; ``setpriv`` switches to ``nobody``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from perfsheriff.errors import InputError
from perfsheriff.runner.sandbox import sandbox_wrapper

NOBODY = 65534
SECRET = "the-agent-token"
LOOK = "cat {token}; umount {token} 2>&1; cat {token}; grep CapEff /proc/self/status; echo done"


@pytest.fixture
def place() -> Iterator[Path]:
    """A folder every user may enter (pytest's own are private to their owner), holding a token file."""
    folder = Path(tempfile.mkdtemp(prefix="perfsheriff-sandbox-"))
    try:
        folder.chmod(0o755)
        (folder / "token").write_text(SECRET + "\n")
        (folder / "token").chmod(0o644)  # readable by the other user, so that only the mask can stop it
        yield folder
    finally:
        shutil.rmtree(folder)


def _wrapper(kind: str, place: Path) -> tuple[str, ...]:
    try:
        return sandbox_wrapper(kind, [place / "token"])
    except InputError as err:
        if os.environ.get("CI"):
            raise  # CI installs both tools: there a sandbox that cannot work fails the test
        pytest.skip(str(err))


@pytest.mark.parametrize("user", ["this user", "nobody"])
@pytest.mark.parametrize("kind", ["unshare", "bwrap"])
def test_a_masked_file_stays_masked_to_a_benchmark_that_unmounts(kind: str, user: str, place: Path) -> None:
    wrapper = _wrapper(kind, place)
    switch: list[str] = []
    if user == "nobody":
        if os.getuid() != 0 or shutil.which("setpriv") is None:
            pytest.skip("switching to another user needs root and setpriv")
        switch = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    done = subprocess.run(
        [*switch, *wrapper, "/bin/sh", "-c", LOOK.format(token=place / "token")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd="/",
        env={"PATH": os.environ["PATH"]},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("done\n"), done.stdout + done.stderr
    assert SECRET not in done.stdout + done.stderr
    assert "CapEff:\t0000000000000000\n" in done.stdout  # no capability left to the benchmark
    assert (place / "token").read_text() == SECRET + "\n"
