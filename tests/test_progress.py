"""Progress bars draw on a terminal and stay silent elsewhere (CI logs, pipes, files)."""

from __future__ import annotations

import os
import pty
import select

import optuna
import pytest

from tailor.progress import ENV_SWITCH, TrialProgress, enabled, progress


def _read_all(fd: int) -> str:
    out = b""
    while select.select([fd], [], [], 0.2)[0]:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        out += chunk
    return out.decode(errors="replace")


@pytest.fixture(autouse=True)
def _no_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_SWITCH, raising=False)


def test_bar_draws_on_a_terminal() -> None:
    master, slave = pty.openpty()
    with os.fdopen(slave, "w") as tty:
        assert enabled(tty)
        assert list(progress(range(5), "bootstrap", stream=tty)) == [0, 1, 2, 3, 4]
        tty.flush()
        shown = _read_all(master)
    os.close(master)
    assert "bootstrap" in shown and "/5" in shown


def test_bar_is_silent_on_a_pipe() -> None:
    read, write = os.pipe()
    with os.fdopen(write, "w") as pipe:
        assert not enabled(pipe)
        assert sum(progress(range(5), "bootstrap", stream=pipe)) == 10  # items still flow
    with os.fdopen(read) as r:
        assert r.read() == ""


def test_environment_forces_the_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    read, write = os.pipe()
    monkeypatch.setenv(ENV_SWITCH, "1")
    with os.fdopen(write, "w") as pipe:
        assert enabled(pipe)
        list(progress(range(3), "folds", stream=pipe))
    with os.fdopen(read) as r:
        assert "folds" in r.read()
    master, slave = pty.openpty()
    monkeypatch.setenv(ENV_SWITCH, "0")
    with os.fdopen(slave, "w") as tty:
        assert not enabled(tty)
    os.close(master)


def test_trial_bar_counts_trials_and_shows_the_best_value() -> None:
    master, slave = pty.openpty()
    with os.fdopen(slave, "w") as tty:
        study = optuna.create_study(direction="minimize")
        bar = TrialProgress(4, "ease trials", stream=tty)
        study.optimize(lambda t: (t.suggest_float("x", 0, 1) - 0.5) ** 2, 4, callbacks=[bar])
        assert bar.bar.n == 4
        tty.flush()
        shown = _read_all(master)
    os.close(master)
    assert "ease trials" in shown and "best" in shown
