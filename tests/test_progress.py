"""drain: runs a progress generator and names the running stage on its bar."""

from __future__ import annotations

from calcium_forge.progress import Progress, drain


def _job():
    yield Progress(0, 3, "loading")
    yield Progress(1, 3, "ENS² on 20 ROIs (7/20)")
    yield Progress(3, 3, "done")
    return 42


def test_drain_returns_the_result_and_calls_back_every_record():
    seen = []
    assert drain(_job(), callback=seen.append) == 42
    assert [p.message for p in seen] == ["loading", "ENS² on 20 ROIs (7/20)", "done"]


def test_the_bar_names_the_running_stage(capsys):
    assert drain(_job(), progress_bar=True, desc="demo") == 42
    err = capsys.readouterr().err
    assert "demo: ENS² on 20 ROIs (7/20)" in err and "demo: done" in err
    assert drain(_job(), progress_bar=True) == 42  # no desc: the message alone
    assert "ENS² on 20 ROIs (7/20)" in capsys.readouterr().err
