"""Status lines: a wait longer than the threshold says what it waits for; a quick step says nothing."""
import io
import time

from carverify.status import status


def test_a_slow_step_says_what_it_waits_for_and_when_it_is_done():
    stream = io.StringIO()
    with status("compiling the reward checks of p.py (numba)", after=0.05, stream=stream):
        time.sleep(0.3)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "carverify: compiling the reward checks of p.py (numba)…"
    assert lines[1].startswith("carverify: compiling the reward checks of p.py: done in ") and len(lines) == 2


def test_a_quick_step_is_silent():
    stream = io.StringIO()
    with status("anything", after=5.0, stream=stream):
        pass
    assert stream.getvalue() == ""


def test_the_line_comes_while_the_step_still_runs():
    stream = io.StringIO()
    with status("waiting on the model", after=0.05, stream=stream):
        time.sleep(0.2)
        assert stream.getvalue() == "carverify: waiting on the model…\n"


def test_status_lines_can_be_told_from_errors():
    from carverify.status import without_status

    err = ("carverify: loading PyTorch and stable-baselines3 (first import takes seconds)…\n"
           "carverify: loading PyTorch and stable-baselines3: done in 17.8 s\n"
           "carverify: error: --vec-env subproc cannot run on Ray\n")
    assert without_status(err) == "carverify: error: --vec-env subproc cannot run on Ray\n"
