"""Plain Python / NumPy references that the kernels are held to. Slow and obvious on purpose."""

import numpy as np
from skimage.metrics import structural_similarity

MASK64 = (1 << 64) - 1


def reference_patches(images, size):
    """[B, C, *S] -> [B, *S, C, P^d]: the patch around every voxel of an edge-padded copy."""
    r = size // 2
    nd = images.ndim - 2
    padded = np.pad(images, [(0, 0), (0, 0)] + [(r, r)] * nd, mode="edge")
    spatial = images.shape[2:]
    out = np.empty(images.shape[:1] + spatial + images.shape[1:2] + (size,) * nd, images.dtype)
    for index in np.ndindex(*spatial):
        window = tuple(slice(i, i + size) for i in index)
        out[(slice(None),) + index] = padded[(slice(None), slice(None)) + window]
    return out


def reference_patches_at(images, size, centers):
    """[B, C, *S], [B, S, d] -> [B, S, C, P^d]."""
    r = size // 2
    nd = images.ndim - 2
    padded = np.pad(images, [(0, 0), (0, 0)] + [(r, r)] * nd, mode="edge")
    B, S = centers.shape[:2]
    out = np.empty((B, S, images.shape[1]) + (size,) * nd, images.dtype)
    for b in range(B):
        for s in range(S):
            window = tuple(slice(c, c + size) for c in centers[b, s])
            out[b, s] = padded[(b, slice(None)) + window]
    return out


def _mix64(z):
    z = (z + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


class CounterStream:
    """The counter-based stream of csrc/pairs/random.h, in Python integers."""

    def __init__(self, seed, stream):
        self.key = _mix64(_mix64(seed) ^ ((stream * 0xD1B54A32D192ED03) & MASK64))
        self.counter = 0

    def randrange(self, lo, hi):
        self.counter += 1
        value = _mix64((self.key + 0x9E3779B97F4A7C15 * self.counter) & MASK64)
        return lo + ((value * (hi - lo)) >> 64)


def skimage_patch_ssim(image, a, b, size, data_range):
    """SSIM of the patches centred at a and b of one image [C, *S], the authors' way."""
    r = size // 2
    pa = image[(slice(None),) + tuple(slice(c - r, c + r + 1) for c in a)]
    pb = image[(slice(None),) + tuple(slice(c - r, c + r + 1) for c in b)]
    return structural_similarity(np.moveaxis(pa, 0, -1).astype(np.float64),
                                 np.moveaxis(pb, 0, -1).astype(np.float64),
                                 win_size=size, channel_axis=-1, data_range=data_range)


def reference_pairs(images, n_anchors, size, radius, attempts, ssim_min, seed, data_range=2.0):
    """The sampler of docs/method.md with Python loops over images, anchors and attempts, drawing
    from the same counter streams as the kernels, with scikit-image's SSIM."""
    B = images.shape[0]
    extents = images.shape[2:]
    r = size // 2
    anchors = np.zeros((B, n_anchors, len(extents)), np.int64)
    positives = np.zeros_like(anchors)
    for b in range(B):
        for s in range(n_anchors):
            stream = CounterStream(seed, b * n_anchors + s)
            anchor = [stream.randrange(r, n - r) for n in extents]
            best, best_ssim = None, None
            for _ in range(attempts):
                candidate = [stream.randrange(max(a - radius, r), min(a + radius, n - r))
                             for a, n in zip(anchor, extents)]
                value = skimage_patch_ssim(images[b], anchor, candidate, size, data_range)
                if value > ssim_min and (best is None or value > best_ssim):
                    best, best_ssim = candidate, value
            if best is None:
                best = []
                for a, n in zip(anchor, extents):
                    toward_centre = a - 1 if a > n // 2 else a + 1
                    best.append(toward_centre if r <= toward_centre < n - r else a)
            anchors[b, s], positives[b, s] = anchor, best
    return anchors, positives
