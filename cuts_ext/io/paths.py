"""Which files are inputs, what each is called, and which mask belongs to which image."""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple, Union

from .errors import InputError

PathSpec = Union[str, "os.PathLike[str]"]

# Longest first, so that ".nii.gz" wins over ".gz"-less ".nii" when naming a file.
SUPPORTED_SUFFIXES = (".nii.gz", ".nii", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".npy",
                      ".npz")

# A mask may carry one of these after its image's name (`case1_mask.png` for `case1.png`).
MASK_NAME_SUFFIXES = ("_mask", "_seg", "_label", "_labels", "_gt")

_GLOB_CHARACTERS = frozenset("*?[")


def input_name(path: PathSpec) -> str:
    """The file name without its format suffix: "brain" for "brain.nii.gz", "10" for "10.png".

    Raises:
        InputError: the suffix is not one of SUPPORTED_SUFFIXES.
    """
    filename = Path(path).name
    for suffix in SUPPORTED_SUFFIXES:
        if filename.lower().endswith(suffix) and len(filename) > len(suffix):
            return filename[: -len(suffix)]
    raise InputError(f"{path}: unsupported format; expected one of "
                     f"{', '.join(SUPPORTED_SUFFIXES)}")


def is_supported(path: PathSpec) -> bool:
    """Whether the name ends with a supported suffix (any case)."""
    name = Path(path).name.lower()
    return any(name.endswith(suffix) and len(name) > len(suffix) for suffix in SUPPORTED_SUFFIXES)


def resolve_inputs(sources: Union[PathSpec, Iterable[PathSpec]]) -> List[Path]:
    """The input files named by a file, a folder, a glob pattern, or a list of those.

    A folder contributes its supported files (not its subfolders, not hidden files); a pattern
    (containing *, ? or [, with ** for any depth) contributes the supported files it matches; a
    file is taken as named, after checking its suffix. The result is sorted by path (plain
    string order) without duplicates.

    Returns:
        list of Path.
    Raises:
        InputError: a path that does not exist, a folder that cannot be listed, a folder or a
            pattern with no supported file, a named file of an unsupported format, or two
            inputs with the same name (their outputs would collide).
    """
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    found = set()
    for source in sources:
        found.update(find_inputs(source))
    paths, clashes = split_name_clashes(sorted(found, key=str))
    if clashes:
        raise clashes[0]
    return paths


def find_inputs(source: PathSpec) -> List[Path]:
    """The input files one file, folder or pattern names (`resolve_inputs`' rules for each),
    without checking their names against each other's.

    Raises:
        InputError: as `resolve_inputs`, except for the names.
    """
    path = Path(source)
    if path.is_dir():
        try:
            entries = sorted(path.iterdir())
        except OSError as error:
            reason = error.strerror or error
            raise InputError(f"{path}: cannot list the folder: {reason}") from error
        files = [p for p in entries
                 if p.is_file() and not p.name.startswith(".") and is_supported(p)]
        if not files:
            raise InputError(f"{path}: no supported file in this folder (looked for "
                             f"{', '.join(SUPPORTED_SUFFIXES)})")
        return files
    if path.is_file():
        input_name(path)  # refuses an unsupported suffix
        return [path]
    if _GLOB_CHARACTERS & set(str(source)):
        files = [Path(p) for p in glob.glob(str(source), recursive=True)
                 if os.path.isfile(p) and is_supported(p)]
        if not files:
            raise InputError(f"{source}: no supported file matches this pattern")
        return files
    if path.exists():
        raise InputError(f"{path}: neither a regular file nor a folder")
    raise InputError(f"{path}: no such file or folder")


def split_name_clashes(paths: Iterable[Path]) -> Tuple[List[Path], List[InputError]]:
    """(the paths whose names come first, in order; an InputError for each later path with an
    earlier one's name): outputs are named after their input (`input_name`), so a second input
    of the same name would replace the first one's. The same file named twice (another
    spelling, a symbolic link) is kept once, silently."""
    kept, clashes = [], []
    names: Dict[str, Path] = {}
    files = set()
    for path in paths:
        file = path.resolve()
        if file in files:
            continue
        name = input_name(path)
        if name in names:
            clashes.append(InputError(f"{path}: same name {name!r} as {names[name]}; outputs "
                                      "are named after their input, so rename one"))
            continue
        files.add(file)
        names[name] = path
        kept.append(path)
    return kept, clashes


def match_masks(images: Iterable[PathSpec], masks: PathSpec) -> Dict[Path, Optional[Path]]:
    """Pairs each image with the mask of the same name, if any.

    A mask matches the image `NAME.EXT` when its own name (the file name without its supported
    suffix, any format) is NAME or NAME followed by one of MASK_NAME_SUFFIXES ("_mask", "_seg",
    "_label", "_labels", "_gt"). Masks are optional: an image with no match maps to None. An
    image's own file is never its mask (masks may share the images' folder).

    Args:
        images: image paths (e.g. from `resolve_inputs`).
        masks: a mask file, folder or glob, as `resolve_inputs` takes it.
    Returns:
        dict image Path -> mask Path or None, in the order of `images`.
    Raises:
        InputError: `masks` names nothing usable (see `resolve_inputs`), or two masks match one
            image.
    """
    by_name = {input_name(mask): mask for mask in resolve_inputs(masks)}  # names are unique
    matches: Dict[Path, Optional[Path]] = {}
    for image in map(Path, images):
        name = input_name(image)
        # An image is never its own mask (masks kept in the images' folder).
        candidates = [by_name[name + suffix] for suffix in ("",) + MASK_NAME_SUFFIXES
                      if name + suffix in by_name and not _same_file(by_name[name + suffix],
                                                                     image)]
        if len(candidates) > 1:
            raise InputError(f"{image}: several masks match it: "
                             f"{', '.join(str(c) for c in candidates)}")
        matches[image] = candidates[0] if candidates else None
    return matches


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist: not the same file
        return False
