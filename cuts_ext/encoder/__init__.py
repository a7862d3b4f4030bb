"""Stage 1, the encoder: the compiled patch and pair kernels (`extract_patches`,
`sample_pairs`), the model, its losses, training, embedding and checkpoints.

patches.py and pairs.py need no PyTorch; the other modules import it, so `cuts_ext` loads them
on first use. The public names are re-exported by `cuts_ext`.
"""
