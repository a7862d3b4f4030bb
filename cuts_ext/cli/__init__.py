"""The `cuts` command: one module per subcommand (info, segment and train, evaluate, demo),
options shared between them in options.py.

Exit status: 0 on success; 2 for a usage error (argparse: an unknown option, a malformed value,
naming the option); 1 when an input or setting is refused or a run fails in an expected way
(ValueError, TypeError, RuntimeError, MemoryError, OSError: one line on stderr, "cuts COMMAND:
error: ..."), or on an unexpected error, which prints one line saying it is a bug and where to
report it; its traceback only with --debug or CUTS_DEBUG=1. Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import os
import sys

from . import demo, evaluate, info, segment

#: The errors the library documents for bad inputs and failed runs.
EXPECTED_ERRORS = (ValueError, TypeError, RuntimeError, MemoryError, OSError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cuts",
        description="CUTS: unsupervised multi-scale segmentation of medical images.")
    parser.add_argument("--debug", action="store_true",
                        help="on an error, print the full traceback too (or set CUTS_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    info.add_parser(sub)
    segment.add_parsers(sub)
    evaluate.add_parser(sub)
    demo.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    debug = args.debug or os.environ.get("CUTS_DEBUG", "") not in ("", "0")
    try:
        check_device(args)
        return args.run(args)
    except KeyboardInterrupt:
        print(f"cuts {args.command}: interrupted", file=sys.stderr)
        return 130
    except EXPECTED_ERRORS as error:
        if debug:
            raise
        print(f"cuts {args.command}: error: {one_line(error)}", file=sys.stderr)
        return 1
    except Exception as error:  # a bug: say so, and where to report it
        if debug:
            raise
        print(f"cuts {args.command}: internal error: {type(error).__name__}: {one_line(error)} "
              "(a bug in cuts_ext: please report it on the cuts_ext issue tracker with the "
              "command line; rerun with --debug or CUTS_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return 1


def check_device(args: argparse.Namespace) -> None:
    """RuntimeError naming --device when it asks for CUDA where torch cannot use a GPU (its
    spelling was checked by the parser)."""
    if getattr(args, "device", None) is not None:
        from ..encoder.device import torch_device
        torch_device(args.device, "--device")


def one_line(error: BaseException) -> str:
    """The error's message on one line."""
    return " ".join(str(error).split()) or type(error).__name__
