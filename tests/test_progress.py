"""Progress bars on a terminal and in a log (cuts_ext/_progress.py)."""

import io
import time

import numpy as np

import cuts_ext
from cuts_ext import _progress


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_log_keeps_the_first_and_last_state_only():
    log = io.StringIO()  # not a terminal, as a batch job's log file
    for _ in _progress.progress_bar(range(40), enabled=True, file=log, desc="work"):
        time.sleep(0.01)  # 0.4 s: tqdm's defaults would redraw about 4 times more
    text = log.getvalue()
    assert text.count("\r") <= 3, text          # the opening, the last and the closing draw
    assert "40/40" in text and "work" in text
    assert "█" not in text                      # ASCII bars in a log


def test_a_terminal_keeps_tqdm_defaults():
    terminal = _Terminal()
    for _ in _progress.progress_bar(range(50), enabled=True, file=terminal, mininterval=0,
                                    miniters=1):
        pass
    assert terminal.getvalue().count("\r") >= 50  # every step redrawn when asked


def test_a_disabled_bar_writes_nothing():
    log = io.StringIO()
    assert list(_progress.progress_bar(range(3), enabled=False, file=log)) == [0, 1, 2]
    assert log.getvalue() == ""


def test_training_writes_a_few_lines_to_a_log(capfd):
    images = np.random.default_rng(0).uniform(-1, 1, (2, 1, 12, 12)).astype(np.float32)
    cuts_ext.train(images, epochs=6, val_fraction=0, progress=True)
    err = capfd.readouterr().err          # pytest's captured stderr is not a terminal
    assert "cuts_ext.train" in err and "6/6" in err
    assert err.count("\r") <= 3, err
