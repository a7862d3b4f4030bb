"""`cuts info`: what this build contains, and a self-check that its kernels run."""

from __future__ import annotations

import argparse

import numpy as np

from ..encoder.pairs import sample_pairs
from ..encoder.patches import extract_patches
from ..info import build_info


def add_parser(sub: "argparse._SubParsersAction") -> None:
    parser = sub.add_parser("info", help="show what this build contains and check that it runs",
                            description="Print build information (CUDA compiled in, GPU usable, "
                                        "OpenMP threads) and run a short self-check of the "
                                        "kernels.")
    parser.add_argument("--seed", type=int, default=0, help="seed of the self-check (default 0)")
    parser.set_defaults(run=run_info)


def run_info(args: argparse.Namespace) -> int:

    info = build_info()
    for key, value in info.items():
        print(f"{key:24s} {value}")
    # A self-check on a small deterministic image: the kernels run, and the CUDA path (when a
    # GPU is usable) agrees with the CPU path.
    image = np.linspace(-1.0, 1.0, 2 * 3 * 32 * 32, dtype=np.float32).reshape(2, 3, 32, 32)
    image = np.sin(7.0 * image)
    patches = extract_patches(image, size=5)
    anchors, positives = sample_pairs(image, n_anchors=8, seed=args.seed)
    print(f"{'self-check cpu':24s} patches {tuple(patches.shape)}, pairs {tuple(anchors.shape)}: ok")
    if info["cuda_usable"]:
        import torch
        gpu = torch.from_numpy(image).cuda()
        same = (np.array_equal(extract_patches(gpu, size=5).cpu().numpy(), patches)
                and all(np.array_equal(g.cpu().numpy(), c) for g, c in
                        zip(sample_pairs(gpu, n_anchors=8, seed=args.seed), (anchors, positives))))
        print(f"{'self-check cuda':24s} {'matches the CPU' if same else 'DIFFERS FROM THE CPU'}")
        return 0 if same else 1
    return 0
