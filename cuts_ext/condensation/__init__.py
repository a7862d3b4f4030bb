"""Stage 2, diffusion condensation: the driver (`condense`), the points' preparation, the choice
of the diffusion time, the low-level steps (`ops`) and the boundary to the compiled engine.

Nothing here imports PyTorch. The public names are re-exported by `cuts_ext`.
"""
