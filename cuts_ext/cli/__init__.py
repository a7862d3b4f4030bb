"""The `cuts` command: one module per subcommand (info, segment and train, evaluate, demo),
options shared between them in options.py."""

from __future__ import annotations

import argparse
import sys

from . import demo, evaluate, info, segment


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cuts",
        description="CUTS: unsupervised multi-scale segmentation of medical images.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    info.add_parser(sub)
    segment.add_parsers(sub)
    evaluate.add_parser(sub)
    demo.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, RuntimeError, MemoryError, OSError) as error:
        print(f"cuts {args.command}: error: {error}", file=sys.stderr)
        return 1
