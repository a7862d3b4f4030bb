"""train under torchrun: world size 2 with the gloo backend on the CPU, real processes."""

import os
import subprocess
import sys
import textwrap

import torch

SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import torch
    import torch.distributed as dist
    import cuts_ext

    out = sys.argv[1]
    rng = np.random.default_rng(0)
    images = np.cumsum(np.cumsum(rng.standard_normal((10, 3, 16, 16)), 2), 3)
    images = (2 * (images - images.min()) / np.ptp(images) - 1).astype(np.float32)
    result = cuts_ext.train(images, epochs=2, batch_size=2, num_kernels=2, seed=0,
                            device="cpu", checkpoint=f"{out}/encoder.pt", progress=False)
    assert not dist.is_initialized(), "train left the process group it joined"
    # Every rank returns once rank 0 has written the final checkpoint (before, rank 1 found
    # no file, or the previous epoch's).
    loaded = cuts_ext.load_encoder(f"{out}/encoder.pt").state_dict()
    trained = result.model.state_dict()
    assert all(torch.equal(loaded[key], trained[key]) for key in trained), "stale checkpoint"
    rank = int(__import__("os").environ["RANK"])
    torch.save(dict(state=result.model.state_dict(), history=result.history),
               f"{out}/rank{rank}.pt")
""")


def test_world_size_two_trains_identical_weights_on_every_rank(tmp_path):
    script = tmp_path / "ddp_train.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    completed = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(script), str(tmp_path)], env=env, capture_output=True, text=True, timeout=300,
        cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr[-4000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert ranks[0]["history"] == ranks[1]["history"] and len(ranks[0]["history"]) == 2
    state0, state1 = ranks[0]["state"], ranks[1]["state"]
    assert state0.keys() == state1.keys()
    for key in state0:
        assert torch.equal(state0[key], state1[key]), f"ranks differ in {key}"
    import cuts_ext
    saved = cuts_ext.load_encoder(tmp_path / "encoder.pt").state_dict()
    assert all(torch.equal(saved[key], state0[key]) for key in state0)
    from cuts_ext.encoder.training import _INIT, _derive_seed
    untrained = cuts_ext.CUTSEncoder(3, num_kernels=2, seed=_derive_seed(0, _INIT)).state_dict()
    assert not torch.equal(state0["layers.0.weight"], untrained["layers.0.weight"])
