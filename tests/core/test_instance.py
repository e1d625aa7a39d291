from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from notebooklm_local.core.errors import DataDirLockedError
from notebooklm_local.core.instance import InstanceLock


def test_second_lock_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    first = InstanceLock(tmp_path / ".lock").acquire()
    try:
        with pytest.raises(DataDirLockedError, match="Another notebooklm-local is using"):
            InstanceLock(tmp_path / ".lock").acquire()
    finally:
        first.release()
    with InstanceLock(tmp_path / ".lock") as again:
        assert again.is_locked


def test_lock_of_a_killed_process_is_released(tmp_path: Path) -> None:
    code = (
        "import sys, time; from pathlib import Path; from notebooklm_local.core.instance import InstanceLock;"
        f"lock = InstanceLock(Path({str(tmp_path / '.lock')!r})).acquire(); print('locked', flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        with pytest.raises(DataDirLockedError):
            InstanceLock(tmp_path / ".lock").acquire()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        lock = InstanceLock(tmp_path / ".lock").acquire()
        lock.release()
    finally:
        proc.kill()
        proc.wait(10)
