"""`cuts` errors: a usage error exits 2 naming the option, a refused input or failed run exits 1
with one line on stderr, an unexpected error says it is a bug, a missing dependency is named
with its install line, a closed stdout ends the command quietly, and no traceback is printed
unless asked for (issue #14, family 1)."""

import os
import subprocess
import sys

import pytest
import torch

from cuts_ext import cli
from support.cli import npy_images, run_cuts


@pytest.fixture
def images(tmp_path):
    return npy_images(tmp_path / "images")




@pytest.mark.parametrize("command", ["train", "segment"])
@pytest.mark.parametrize("device", ["gpu", "cuda:x", "cpu:0", ""])
def test_a_bad_device_is_a_usage_error_naming_device(capsys, images, tmp_path, command, device):
    status, lines = run_cuts(capsys, command, images, "-o", tmp_path / "out", "--device", device)
    assert status == 2
    assert "--device" in lines[-1] and "cpu, cuda or cuda:N" in lines[-1]


def test_the_training_step_option_reaches_train():
    from cuts_ext.cli.options import training_options

    parser = cli.build_parser()
    for given, expected in (([], "full"), (["--step", "windows"], "windows")):
        args = parser.parse_args(["train", "images", "-o", "m.pt", *given])
        assert training_options(args)["step"] == expected
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "images", "-o", "m.pt", "--step", "window"])


@pytest.mark.parametrize("options", [["--epochs", 5], ["--lr", 0.01, "--crop", 8],
                                     ["--step", "windows"]])
def test_training_options_beside_a_model_are_refused_in_one_line(capsys, images, tmp_path,
                                                                  options):
    # With --model nothing is trained: the options would be silently ignored.
    status, lines = run_cuts(capsys, "segment", images, "-o", tmp_path / "out", "--model",
                             tmp_path / "a.pt", *options)
    assert status == 1 and len(lines) == 1
    named = [str(option) for option in options if str(option).startswith("--")]
    assert all(option in lines[0] for option in named) and "--model gives one" in lines[0]
    assert not (tmp_path / "out").exists()


def test_model_and_save_model_together_are_a_usage_error(capsys, images, tmp_path):
    # With --model nothing is trained: --save-model would silently keep nothing.
    status, lines = run_cuts(capsys, "segment", images, "-o", tmp_path / "out", "--model",
                             tmp_path / "a.pt", "--save-model", tmp_path / "b.pt")
    assert status == 2
    assert "--save-model" in lines[-1] and "--model" in lines[-1]
    assert not (tmp_path / "out").exists() and not (tmp_path / "b.pt").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal where torch has no GPU")
@pytest.mark.parametrize("command", ["train", "segment"])
def test_cuda_without_a_gpu_is_one_line(capsys, images, tmp_path, command):
    status, lines = run_cuts(capsys, command, images, "-o", tmp_path / "out", "--device", "cuda")
    assert status == 1 and len(lines) == 1
    assert lines[0].startswith(f"cuts {command}: error: --device='cuda' asks for CUDA")
    assert not (tmp_path / "out").exists()


def test_a_diverging_training_exits_1_with_one_line_and_no_checkpoint(capsys, images, tmp_path):
    output = tmp_path / "model.pt"
    status, lines = run_cuts(capsys, "train", images, "-o", output, "--epochs", 2, "--batch-size", 2,
                         "--lr", 1e12, "--quiet")
    assert status == 1 and len(lines) == 1
    assert lines[0].startswith("cuts train: error: training diverged in epoch 0")
    assert not output.exists()


@pytest.mark.parametrize("error", [ValueError("bad\nvalue"), TypeError("a count"),
                                   RuntimeError("no GPU"), MemoryError("too big"),
                                   OSError(28, "No space left on device")])
def test_documented_errors_are_one_line(capsys, monkeypatch, images, tmp_path, error):
    def fails(args):
        raise error
    monkeypatch.setattr(cli.train, "run_train", fails)
    status, lines = run_cuts(capsys, "train", images, "-o", tmp_path / "model.pt")
    assert status == 1 and len(lines) == 1
    assert lines[0].startswith("cuts train: error: ")
    assert "\n" not in lines[0] and (str(error).split()[0] in lines[0])


def test_an_unexpected_error_points_to_the_tracker_without_a_traceback(capsys, monkeypatch,
                                                                        images, tmp_path):
    def fails(args):
        raise KeyError("surprise")
    monkeypatch.setattr(cli.train, "run_train", fails)
    monkeypatch.delenv("CUTS_DEBUG", raising=False)
    status, lines = run_cuts(capsys, "train", images, "-o", tmp_path / "model.pt")
    assert status == 1 and len(lines) == 1
    assert "internal error: KeyError" in lines[0] and "report" in lines[0]
    assert "--debug" in lines[0] and "Traceback" not in lines[0]
    with pytest.raises(KeyError):
        cli.main(["--debug", "train", str(images), "-o", str(tmp_path / "model.pt")])
    monkeypatch.setenv("CUTS_DEBUG", "1")
    with pytest.raises(KeyError):
        cli.main(["train", str(images), "-o", str(tmp_path / "model.pt")])


def test_ctrl_c_exits_130(capsys, monkeypatch, images, tmp_path):
    def interrupted(args):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli.train, "run_train", interrupted)
    status, lines = run_cuts(capsys, "train", images, "-o", tmp_path / "model.pt")
    assert status == 130 and lines == ["cuts train: interrupted"]


# A Python without PyTorch: None in sys.modules makes `import torch` raise ModuleNotFoundError
# as an environment without it does, on the package's own import path.
WITHOUT_TORCH = "import sys; sys.modules['torch'] = None; "


def _python(code, *args, cwd):
    # Run elsewhere than the checkout: `python -c` puts its folder first on sys.path, and the
    # source tree's cuts_ext (no compiled module) would shadow the installed one.
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                          text=True, timeout=120, cwd=cwd)


def test_a_missing_torch_is_named_with_its_install_line_not_called_a_bug(images, tmp_path):
    result = _python(WITHOUT_TORCH + "from cuts_ext.cli import main; sys.exit(main(sys.argv[1:]))",
                     "train", images, "-o", tmp_path / "model.pt", cwd=tmp_path)
    lines = result.stderr.splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert lines[0].startswith("cuts train: error: ") and "'torch'" in lines[0]
    assert "pip install torch" in lines[0] and "bug" not in lines[0]


def test_the_api_names_a_missing_torch_and_condenses_without_it(tmp_path):
    result = _python(WITHOUT_TORCH + "import numpy, cuts_ext\n"
                     "print(cuts_ext.condense(numpy.random.default_rng(0).random((40, 3))).n_iterations)\n"
                     "cuts_ext.train", cwd=tmp_path)
    assert result.stdout.strip().isdigit(), result.stderr
    assert "ModuleNotFoundError: cuts_ext.train: this needs the Python package 'torch'" in \
        result.stderr and "pip install torch" in result.stderr


def test_a_closed_stdout_ends_the_command_quietly(tmp_path):
    # `cuts info | head -0`: the reader has left before info writes its first line. The read
    # end is closed before the command starts, so every write fails, whatever the timing.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        info = subprocess.run([sys.executable, "-m", "cuts_ext.cli", "info"], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, cwd=tmp_path, timeout=120)
    finally:
        os.close(write_end)
    assert info.returncode == 141 and info.stderr == ""
