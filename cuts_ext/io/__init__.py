"""Files in and out: inputs (PNG, JPEG, TIFF, BMP, .npy / .npz, NIfTI), masks, label images, results.

    resolve_inputs(sources) -> [Path]               a file, folder, glob or list of them
    match_masks(images, masks) -> {image: mask}     masks matched by name, optional
    read_image(path) -> LoadedImage                 float32 [C, *spatial] in [-1, 1] + metadata
    read_mask(path, spatial_shape, affine=) -> bool binarised (> 0), placed by its NIfTI affine
    write_label_image(stem, labels, like)           PNG (2-D) or NIfTI keeping affine and header
    write_outputs(out_dir, image, segmentation)     every output of one input, all or nothing
    atomic_directory(destination, overwrite)        the all-or-nothing folder behind it
    refuse_existing(destination, overwrite)         its check: OutputExistsError unless allowed
    writable_folder(folder, option)                 an output folder checked before any work
    writable_file(path, option, overwrite)          an output file's place checked likewise
    written_segmentations(out_dir) -> [Path]        the .npz files write_outputs left
"""

from .errors import InputError, OutputExistsError
from .paths import SUPPORTED_SUFFIXES, input_name, match_masks, resolve_inputs
from .readers import LoadedImage, read_image, read_mask
from .writers import (atomic_directory, refuse_existing, writable_file, writable_folder,
                      write_label_image, write_outputs, written_segmentations)

__all__ = ["InputError", "LoadedImage", "OutputExistsError", "SUPPORTED_SUFFIXES",
           "atomic_directory", "input_name", "match_masks", "read_image", "read_mask",
           "refuse_existing", "resolve_inputs", "writable_file", "writable_folder",
           "write_label_image", "write_outputs", "written_segmentations"]
