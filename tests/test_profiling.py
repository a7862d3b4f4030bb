"""The named stages (cuts_ext.profiling): the NVTX ranges' nesting as recorded paths, their
timings, and the pipeline's and condensation's stages."""

import numpy as np
import pytest

import cuts_ext
from cuts_ext.profiling import record_stages, stage
from support.devices import ACCELERATORS

PHASES = ("kernel", "spectrum", "diffuse", "merge")


def _condense_and_record(X, **options):
    with record_stages() as times:
        result = cuts_ext.condense(X, **options)
    return result, times.seconds()


def test_condensation_records_every_iteration_and_phase(rng):
    result, seconds = _condense_and_record(rng.standard_normal((300, 6)))
    assert list(seconds)[:3] == ["cuts_ext.condense", "cuts_ext.condense/prepare",
                                 "cuts_ext.condense/iter"]
    assert seconds["cuts_ext.condense"][1] == 1
    assert seconds["cuts_ext.condense/iter"][1] == result.n_iterations
    for name in PHASES:
        assert seconds[f"cuts_ext.condense/iter/{name}"][1] == result.n_iterations
    # Nested stages cannot take longer than the stage around them.
    inner = sum(seconds[f"cuts_ext.condense/iter/{name}"][0] for name in PHASES)
    assert 0 < inner <= seconds["cuts_ext.condense/iter"][0]
    assert seconds["cuts_ext.condense/iter"][0] <= seconds["cuts_ext.condense"][0]


def test_recording_changes_no_result(rng):
    X = rng.standard_normal((200, 5))
    recorded, _ = _condense_and_record(X, seed=3)
    plain = cuts_ext.condense(X, seed=3)
    np.testing.assert_array_equal(recorded.hierarchy, plain.hierarchy)


def test_stages_outside_a_recording_are_not_kept_and_paths_follow_the_nesting():
    with stage("before"):
        pass
    with record_stages() as outer:
        with stage("a"):
            with stage("b"):
                pass
            with record_stages() as inner:  # the inner recording takes the stages inside it
                with stage("c"):
                    pass
        with stage("a"):
            pass
    assert list(outer.seconds()) == ["a", "a/b"]
    assert outer.seconds()["a"][1] == 2
    assert list(inner.seconds()) == ["c"]


def test_a_stage_that_raises_closes_its_path():
    with record_stages() as times:
        with pytest.raises(KeyError):
            with stage("failing"):
                raise KeyError("x")
        with stage("next"):
            pass
    assert list(times.seconds()) == ["failing", "next"]


def test_the_table_gives_each_stage_its_share_of_the_outermost(rng):
    with record_stages() as times:
        cuts_ext.condense(rng.standard_normal((100, 4)))
    lines = times.table()
    assert lines[0].startswith("| stage | runs |")
    assert lines[2].startswith("| cuts_ext.condense | 1 |") and lines[2].endswith("| 100 % |")
    assert len(lines) == 2 + 7  # condense, prepare, iter and its four phases


def test_segment_records_its_stages_around_condensation(rng):
    image = rng.uniform(-1, 1, (1, 3, 24, 24)).astype(np.float32)
    model = cuts_ext.CUTSEncoder(3, num_kernels=2, seed=0).eval()
    with record_stages() as times:
        cuts_ext.segment(image, model, max_points=100, progress=False)
    paths = list(times.seconds())
    for expected in ("cuts_ext.segment", "cuts_ext.segment/foreground",
                     "cuts_ext.segment/embed", "cuts_ext.segment/coarsen",
                     "cuts_ext.segment/cuts_ext.condense/iter/diffuse",
                     "cuts_ext.segment/maps"):
        assert expected in paths


@pytest.mark.parametrize("device", ACCELERATORS)
def test_gpu_phases_are_timed_by_cuda_events(rng, device):
    import torch
    X = torch.from_numpy(rng.standard_normal((2000, 16))).to(device)
    result, seconds = _condense_and_record(X)
    assert seconds["cuts_ext.condense/iter"][1] == result.n_iterations
    assert all(total > 0 for total, _ in seconds.values())
