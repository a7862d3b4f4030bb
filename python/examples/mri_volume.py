"""An MRI volume end to end, in 3-D: a 3-D encoder, condensation of every voxel, NIfTI labels
that keep the input's affine and header (open them over the input in ITK-SNAP, Slicer or napari).

    python python/examples/mri_volume.py [VOLUME.nii.gz] [OUT]

Without arguments it uses nibabel's bundled example anatomical volume (33 x 41 x 25).
"""

import sys

import cuts_ext


def main(volume: str = "", out: str = "mri_out") -> None:
    if not volume:
        from cuts_ext.cli.demo import bundled_mri
        volume = str(bundled_mri())
    # A file in, so its affine and header travel to the outputs; the encoder is trained on it.
    (result,) = cuts_ext.segment(volume, train_options={"epochs": 60, "batch_size": 1,
                                                        "val_fraction": 0.0})
    folder = cuts_ext.io.write_outputs(out, result.image, result.segmentation, overwrite=True)
    counts = [result.segmentation.cluster_counts[i] for i in result.segmentation.levels]
    print(f"{len(counts)} levels ({', '.join(map(str, counts))} clusters); wrote {folder}/")


if __name__ == "__main__":
    main(*sys.argv[1:])
