"""Set-up of the worker processes of the local Dask cluster behind `cuts segment --workers`.

Dask runs `dask_setup` in each worker process when it starts, because `cohort.dask_client`
names this module as the workers' preload.
"""

import signal


def dask_setup(worker) -> None:
    """Leaves Ctrl-C to the command: the terminal sends SIGINT to the whole process group,
    workers included, and each worker would print a KeyboardInterrupt traceback of Dask's
    event loop. The command's own process catches it, closes the cluster, and closing the
    cluster stops the workers."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
