"""The layout rules of docs/architecture.md, checked on the sources so that they cannot drift.

C++ (csrc/): only the bindings and an operation's own front .cpp include its front header; CPU
parts and CUDA parts never include a front or each other; core/ includes nothing outside it.
Python (cuts_ext/): each subpackage imports only the floors below it, and no module imports
another module's private names.
"""

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CSRC = REPO / "csrc"
PACKAGE = REPO / "cuts_ext"

# Each operation's front header: its public API, routed on the device by its front .cpp.
FRONTS = {"patches/patches.h": "patches/patches.cpp",
          "pairs/pairs.h": "pairs/pairs.cpp",
          "condense/condense.h": "condense/condense.cpp",
          "coarsen/coarsen.h": "coarsen/coarsen.cpp"}
INCLUDE = re.compile(r'^\s*#\s*include\s+[<"]([^>"]+)[>"]', re.MULTILINE)


def _sources():
    if not CSRC.is_dir():
        pytest.skip(f"{CSRC} not found: the layout is checked in a source checkout")
    return sorted(p for p in CSRC.rglob("*") if p.suffix in {".h", ".cpp", ".cu", ".cuh"})


def _includes(path):
    return INCLUDE.findall(path.read_text())


def _relative(path):
    return path.relative_to(CSRC).as_posix()


def _is_cpu_part(name):
    return "/cpu/" in f"/{name}" or re.search(r"_cpu\.(cpp|h)$", name) is not None


def _is_cuda_part(name):
    return ("/cuda/" in f"/{name}" or name.endswith((".cu", ".cuh"))
            or re.search(r"_cuda\.(cpp|h)$", name) is not None or name.startswith("cuda_"))


def test_the_sources_are_arranged_by_operation():
    folders = {_relative(p).split("/")[0] for p in _sources()}
    assert folders == {"bindings", "core", "patches", "pairs", "condense", "coarsen"}
    for front, front_cpp in FRONTS.items():
        assert (CSRC / front).is_file() and (CSRC / front_cpp).is_file()


def test_only_the_bindings_and_the_front_include_an_operation_header():
    for path in _sources():
        name = _relative(path)
        for header in _includes(path):
            if header in FRONTS:
                assert name.startswith("bindings/") or name == FRONTS[header], \
                    f"{name} includes the front header {header}"


def test_cpu_and_cuda_parts_include_neither_a_front_nor_each_other():
    checked = 0
    for path in _sources():
        name = _relative(path)
        cpu, cuda = _is_cpu_part(name), _is_cuda_part(name)
        if not (cpu or cuda):
            continue
        checked += 1
        for header in _includes(path):
            assert header not in FRONTS, f"{name} includes the front header {header}"
            if cpu:
                assert not (_is_cuda_part(header) or header.startswith("cuda")), \
                    f"the CPU part {name} includes {header}"
            if cuda:
                assert not _is_cpu_part(header), f"the CUDA part {name} includes {header}"
    assert checked >= 8  # the rule is not vacuous: the CPU and CUDA files were found


def test_core_includes_nothing_outside_core():
    for path in _sources():
        name = _relative(path)
        if name.startswith("core/"):
            for header in _includes(path):
                local = (CSRC / header).exists()
                assert not local or header.startswith("core/"), f"{name} includes {header}"


# Which subpackages each may import (besides the shared _arrays, _checks, _progress, _C, info and
# profiling modules): the data flow of docs/architecture.md, cli -> segmentation -> {encoder,
# condensation}, io below segmentation and cli.
ALLOWED = {"condensation": set(), "encoder": set(), "io": set(),
           "segmentation": {"condensation", "encoder", "io"},
           "cli": {"condensation", "encoder", "io", "segmentation"}}


def _imports(path):
    """(module, imported names) of every cuts_ext import in `path`, resolved to absolute."""
    package = path.relative_to(REPO).with_suffix("").parts[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                module = ".".join(base + ((node.module,) if node.module else ()))
            else:
                module = node.module or ""
            if module.split(".")[0] == "cuts_ext":
                yield module, [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "cuts_ext":
                    yield alias.name, []


def test_subpackages_import_only_the_floors_below_them():
    for subpackage, allowed in ALLOWED.items():
        for path in (PACKAGE / subpackage).rglob("*.py"):
            for module, names in _imports(path):
                parts = module.split(".")
                targets = {parts[1]} if len(parts) > 1 else set(names)
                for target in targets - {subpackage, "_arrays", "_checks", "_missing",
                                         "_progress", "_C", "info", "profiling"}:
                    assert target in allowed, \
                        f"{path.relative_to(REPO)} imports cuts_ext.{target}"


def test_no_module_imports_another_module_s_private_names():
    for path in PACKAGE.rglob("*.py"):
        for module, names in _imports(path):
            private = [name for name in names if name.startswith("_") and name != "_C"]
            assert not private, f"{path.relative_to(REPO)} imports {private} from {module}"
