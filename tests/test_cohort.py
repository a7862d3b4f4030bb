"""Cohorts on a real Dask cluster (LocalCluster, 2 worker processes): `segment(client=)`, the
`cuts segment --scheduler / --workers / --resume` command in real subprocesses, a worker killed
mid-task, and the serial results they must equal."""

import csv
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import cuts_ext
from support import cohort as hooks
from support.cohort import IMAGE_SIDE

distributed = pytest.importorskip("dask.distributed", reason="needs cuts_ext[dask]")

from cuts_ext.io import input_name  # noqa: E402
from cuts_ext.segmentation.cohort import InputJob, dask_client, run_on_cluster  # noqa: E402

VOLUME_POINTS = 300  # the volume goes through super-voxels


def _cuts(*args, timeout=300, **kwargs):
    cuts = shutil.which("cuts", path=os.path.dirname(sys.executable)) or shutil.which("cuts")
    return subprocess.run([cuts, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, **kwargs)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """The cohort's files and an encoder checkpoint for its images and one for its volume."""
    root = tmp_path_factory.mktemp("cohort")
    images, volume = hooks.write_cohort(root, corrupt=True)
    good = [path for path in images if path.name != "broken.png"]
    for files, checkpoint in ((good, "images.pt"), ([volume], "volume.pt")):
        data = [cuts_ext.io.read_image(path).data for path in files]
        cuts_ext.train(data, epochs=2, batch_size=2, checkpoint=root / checkpoint,
                       progress=False)
    return root, good, volume


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        yield client


def test_segment_on_a_cluster_equals_serial_and_loads_the_encoder_once_per_worker(cohort,
                                                                                   client):
    root, images, volume = cohort
    client.run(hooks.count_encoder_loads)
    for files, model, options in ((images, "images.pt", {"masks": root / "masks"}),
                                  ([volume], "volume.pt", {"max_points": VOLUME_POINTS})):
        serial = cuts_ext.segment(files, model=root / model, progress=False, **options)
        spread = cuts_ext.segment(files, model=root / model, progress=False, client=client,
                                  **options)
        assert [r.image.name for r in spread] == [r.image.name for r in serial]
        for one, other in zip(serial, spread):
            np.testing.assert_array_equal(one.segmentation.hierarchy,
                                          other.segmentation.hierarchy)
            np.testing.assert_array_equal(one.segmentation.label_maps,
                                          other.segmentation.label_maps)
            assert one.metrics == other.metrics
        loads = client.run(hooks.encoder_loads)
        # Every worker that ran a task loaded this model once, whatever its number of tasks.
        assert set(loads.values()) <= {0, 1} and sum(loads.values()) >= 1
        client.run(hooks.count_encoder_loads)
    assert serial[0].segmentation.label_maps.shape[1:] == hooks.VOLUME_SHAPE


def test_segment_refuses_a_client_that_is_not_dask_s(cohort):
    root, images, _ = cohort
    with pytest.raises(TypeError, match="client must be a dask.distributed.Client"):
        cuts_ext.segment(images, model=root / "images.pt", client="tcp://127.0.0.1:8786")


def test_the_command_on_a_scheduler_writes_what_the_serial_run_writes(cohort, client,
                                                                      tmp_path):
    """One corrupt input fails with its reason on both runs while the others finish; the
    outputs and metrics.csv are byte for byte the serial run's."""
    root, images, _ = cohort
    common = [root / "images", "--model", root / "images.pt", "--masks", root / "masks",
              "--quiet"]
    serial = _cuts("segment", *common, "-o", tmp_path / "serial")
    spread = _cuts("segment", *common, "-o", tmp_path / "spread", "--scheduler",
                   client.scheduler.address)
    for run in (serial, spread):
        assert run.returncode == 1
        errors = run.stderr.strip().splitlines()
        assert len(errors) == 2 and "broken.png" in errors[0]
        assert errors[1] == "cuts segment: error: 1 input(s) failed"
    for path in images:
        name = input_name(path)
        for written in sorted((tmp_path / "serial" / name).iterdir()):
            assert written.read_bytes() == (tmp_path / "spread" / name /
                                            written.name).read_bytes(), written.name
    assert sorted(os.listdir(tmp_path / "spread")) == sorted(os.listdir(tmp_path / "serial"))
    assert (tmp_path / "spread" / "metrics.csv").read_text() == \
        (tmp_path / "serial" / "metrics.csv").read_text()


def test_a_warning_on_a_worker_reaches_the_command_s_stderr(cohort, client, tmp_path):
    # Workers read their inputs: a reader's warning there went to the worker's log only.
    from PIL import Image

    root, images, _ = cohort
    folder = tmp_path / "inputs"
    folder.mkdir()
    shutil.copy(images[0], folder)
    Image.new("RGB", (IMAGE_SIDE, IMAGE_SIDE), (90, 20, 200)).save(folder / "flat.png")
    warned = []
    for name, cluster in (("serial", []), ("spread", ["--scheduler", client.scheduler.address])):
        run = _cuts("segment", folder, "--model", root / "images.pt", "-o", tmp_path / name,
                    "--quiet", *cluster)
        assert run.returncode == 0, run.stderr
        warned.append([line for line in run.stderr.splitlines() if "warning" in line])
    assert warned[0] == warned[1] == [f"cuts segment: warning: {folder / 'flat.png'}: every "
                                      "pixel holds the same colour; its segmentation can "
                                      "follow position only, not content"]


def test_relative_paths_on_a_scheduler_mean_the_command_s_folder(cohort, client):
    # Workers run in their own folder: relative inputs failed there (no such file) and a
    # relative -o put the outputs in the workers' folder while the command reported success.
    root, images, _ = cohort
    run = _cuts("segment", "images", "--model", "images.pt", "--masks", "masks", "-o",
                "relative_out", "--scheduler", client.scheduler.address, "--quiet", cwd=root)
    errors = [line for line in run.stderr.splitlines() if "error:" in line]
    assert run.returncode == 1 and len(errors) == 2, run.stderr
    assert "broken.png" in errors[0] and errors[1] == "cuts segment: error: 1 input(s) failed"
    for path in images:
        name = input_name(path)
        assert (root / "relative_out" / name / f"{name}.npz").is_file()
    assert (root / "relative_out" / "metrics.csv").is_file()


def test_a_closed_client_is_refused_before_training(cohort, client, monkeypatch):
    root, images, _ = cohort
    closed = distributed.Client(client.scheduler.address)
    closed.close()

    def no_training(*args, **kwargs):
        raise AssertionError("training started")
    monkeypatch.setattr("cuts_ext.encoder.training.train", no_training)
    with pytest.raises(ValueError, match="client is closed"):
        cuts_ext.segment(images, client=closed, progress=False)


def _kill_a_worker_holding_a_task(client, killed):
    """Waits until a worker processes a task, then SIGKILLs its process (pid into `killed`)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        busy = [worker for worker, tasks in client.processing().items() if tasks]
        if busy:
            pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
            return
        time.sleep(0.05)


def test_a_worker_killed_mid_task_has_its_task_rerun_and_no_output_half_written(cohort, client,
                                                                                tmp_path):
    root, images, _ = cohort
    model = cuts_ext.load_encoder(root / "images.pt")
    jobs = [InputJob(path, mask=root / "masks" / path.name) for path in images]
    before = set(client.run(os.getpid).values())
    client.run(hooks.slow_down_jobs, 3.0)
    killed = []
    killer = threading.Thread(target=_kill_a_worker_holding_a_task, args=(client, killed))
    killer.start()
    outcomes = list(run_on_cluster(client, model, jobs, tmp_path, progress=False))
    killer.join()
    client.run(hooks.slow_down_jobs, 0.0)
    assert killed and killed[0] in before and killed[0] not in client.run(os.getpid).values()
    assert [o.error for o in outcomes] == [None] * len(jobs)
    assert sorted(o.name for o in outcomes) == sorted(input_name(p) for p in images)
    assert sorted(os.listdir(tmp_path)) == sorted(input_name(p) for p in images)  # no partial
    serial = cuts_ext.segment(images, model=model, progress=False)
    for result in serial:
        written = cuts_ext.MultiscaleSegmentation.load(
            tmp_path / result.image.name / f"{result.image.name}.npz")
        np.testing.assert_array_equal(written.label_maps, result.segmentation.label_maps)


def _complete(out):
    return sorted(folder.name for folder in out.iterdir()
                  if (folder / f"{folder.name}.npz").is_file()) if out.is_dir() else []


def test_resume_after_a_killed_run_segments_only_the_missing_inputs(cohort, tmp_path):
    root, images, _ = cohort
    out = tmp_path / "out"
    command = ["segment", *images, "-o", out, "--model", root / "images.pt", "--masks",
               root / "masks"]
    cuts = shutil.which("cuts", path=os.path.dirname(sys.executable)) or shutil.which("cuts")
    with subprocess.Popen([cuts, *map(str, command), "--quiet"], start_new_session=True,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as first:
        deadline = time.monotonic() + 120
        while not _complete(out) and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.02)
        os.killpg(first.pid, signal.SIGKILL)
    done = _complete(out)
    assert 1 <= len(done) < len(images), "the first run was not interrupted mid-way"
    stamps = {name: (out / name / f"{name}.npz").stat().st_mtime_ns for name in done}
    resumed = _cuts(*command, "--resume", "--workers", 2)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resume: {len(done)} of {len(images)} inputs already complete" in resumed.stdout
    segmented = [line for line in resumed.stdout.splitlines() if " levels, condensed in " in line]
    assert len(segmented) == len(images) - len(done)
    assert not any(name in line for line in segmented for name in done)
    assert _complete(out) == sorted(input_name(path) for path in images)
    assert stamps == {name: (out / name / f"{name}.npz").stat().st_mtime_ns for name in done}
    with open(out / "metrics.csv") as file:
        assert [row["name"] for row in csv.DictReader(file)] == [input_name(p) for p in images]
    again = _cuts(*command, "--resume", "--quiet")
    assert again.returncode == 0 and (out / "metrics.csv").is_file()


def test_the_local_cluster_s_workers_leave_ctrl_c_to_the_command(capfd):
    # Ctrl-C in a terminal sends SIGINT to the whole process group: the command catches it and
    # closes the cluster; a worker that took it too printed a KeyboardInterrupt traceback.
    with dask_client(workers=1) as client:
        (pid,) = client.run(os.getpid).values()
        os.kill(pid, signal.SIGINT)
        time.sleep(1.0)
        assert list(client.run(os.getpid).values()) == [pid]
    assert "KeyboardInterrupt" not in capfd.readouterr().err


@pytest.mark.parametrize("options,word", [(["--workers", "0"], "--workers"),
                                          (["--workers", "2", "--scheduler", "x"], "--scheduler"),
                                          (["--resume", "--overwrite"], "--overwrite")])
def test_bad_cluster_options_are_usage_errors(tmp_path, options, word):
    result = _cuts("segment", tmp_path, "-o", tmp_path / "out", *options)
    assert result.returncode == 2 and word in result.stderr
    assert not (tmp_path / "out").exists()
