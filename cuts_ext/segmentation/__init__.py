"""From images to segmentations: the pipeline (`segment`), the label maps of every level, the
persistent-structures map, the automatic level, and scores against reference masks.

The public names are re-exported by `cuts_ext`.
"""
