"""What the build contains, and the `cuts` command."""

import os
import shutil
import subprocess
import sys

import cuts_ext


def test_build_info_reports_what_was_compiled():
    info = cuts_ext.build_info()
    assert info["version"] == cuts_ext.__version__
    assert info["openmp"] and info["openmp_max_threads"] >= 1
    if info["cuda_compiled"]:
        assert info["cuda_architectures"] and info["cuda_version"]
    assert info["cuda_usable"] == (info["cuda_device_count"] > 0)
    assert info["cuda_usable"] or info["cuda_unavailable_reason"]


def test_cuda_is_compiled_whenever_nvcc_was_there():
    # The wheel under test was built on this machine: with nvcc present and CUTS_CUDA not OFF,
    # the CUDA kernels must be in it (that is how CI proves they compile).
    if shutil.which("nvcc") is None or os.environ.get("CUTS_CUDA", "AUTO").upper() == "OFF":
        assert cuts_ext.build_info()["cuda_compiled"] in (True, False)
        return
    assert cuts_ext.build_info()["cuda_compiled"] is True


def _cuts(*args):
    cuts = shutil.which("cuts", path=os.path.dirname(sys.executable)) or shutil.which("cuts")
    return subprocess.run([cuts, *args], capture_output=True, text=True, timeout=120)


def test_cuts_info_runs_the_self_check():
    result = _cuts("info")
    assert result.returncode == 0, result.stderr
    assert "cuda_compiled" in result.stdout
    assert "self-check cpu" in result.stdout and ": ok" in result.stdout


def test_cuts_help_and_unknown_command():
    assert _cuts("--help").returncode == 0
    assert "info" in _cuts("--help").stdout
    bad = _cuts("no-such-command")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_import_and_condensation_do_not_load_torch():
    """PyTorch costs seconds and over 200 MB to import: `import cuts_ext` and condensation of a
    numpy array must not load it; the stage-1 names load it on first use."""
    code = ("import sys, numpy as np, cuts_ext\n"
            "cuts_ext.condense(np.random.default_rng(0).random((200, 3)))\n"
            "print('torch' in sys.modules)\n"
            "cuts_ext.CUTSEncoder\n"
            "print('torch' in sys.modules, callable(cuts_ext.train))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(cuts_ext.__file__)))
    assert out.stdout.split() == ["False", "True", "True"]


def test_the_package_ships_py_typed_and_a_stub_matching_the_compiled_module():
    """The installed package holds py.typed and _C.pyi, and the stub declares exactly what the
    compiled module binds (functions and Condenser's methods)."""
    import ast
    from pathlib import Path

    from cuts_ext import _C

    package = Path(cuts_ext.__file__).parent
    assert (package / "py.typed").is_file()
    stub = ast.parse((package / "_C.pyi").read_text())
    functions = {node.name for node in stub.body if isinstance(node, ast.FunctionDef)}
    classes = {node.name: {item.name for item in node.body if isinstance(item, ast.FunctionDef)}
               for node in stub.body if isinstance(node, ast.ClassDef)}
    bound = {name for name in dir(_C) if not name.startswith("__")}
    assert functions | set(classes) == bound
    # pybind11's own cross-module hook is on every bound class; the stub leaves it out.
    methods = {name for name in dir(_C.Condenser)
               if not name.startswith("__") and name != "_pybind11_conduit_v1_"}
    assert classes["Condenser"] - {"__init__"} == methods
