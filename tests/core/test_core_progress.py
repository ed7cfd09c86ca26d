from dawn.core.progress import progress_enabled, set_progress, track


def test_track_yields_everything_with_and_without_bars(monkeypatch):
    set_progress(False)
    assert list(track(range(5))) == [0, 1, 2, 3, 4]
    set_progress(True)
    assert list(track(range(3), description="x")) == [0, 1, 2]
    set_progress(None)


def test_progress_off_when_not_a_tty_unless_forced(monkeypatch):
    set_progress(None)
    monkeypatch.delenv("DAWN_PROGRESS", raising=False)
    assert progress_enabled() is False  # pytest captures stderr: not a TTY
    monkeypatch.setenv("DAWN_PROGRESS", "1")
    assert progress_enabled() is True
