"""The exit hook that spares interpreter teardown a walk over numba's tables."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap

from ccdcal import _exit, set_options


def test_hook_freezes_the_collector_only_when_enabled() -> None:
    gc.unfreeze()  # a module imported earlier in this process may have frozen its objects
    try:
        with set_options(fast_exit=False):
            _exit._freeze()
            assert gc.get_freeze_count() == 0
        _exit._freeze()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_loading_the_engine_registers_the_hook_and_exit_still_runs_atexit() -> None:
    script = textwrap.dedent(
        """
        import atexit, gc, sys
        atexit.register(lambda: print("frozen", gc.get_freeze_count() > 0))  # runs last
        import ccdcal.stacking.engine
        """
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "frozen True"
