"""The Dask cluster a study runs on: local workers, a batch system's jobs, or an existing scheduler.

Every worker runs one step at a time: each step-task asks for one unit of the resource
``training`` (:data:`RESOURCE`) and every worker has exactly one. A worker owns a share of the
machine, handed to the commands it runs through the environment (see
:data:`~nnunet_t1t2.study.commands.WORKER_VARIABLES`):

* ``--workers auto`` on a GPU machine: one worker per ``--gpus-per-training`` visible GPUs,
  pinned with ``CUDA_VISIBLE_DEVICES`` (dask-cuda's ``LocalCUDACluster`` where it is installed and
  a training uses one GPU: it also pins each worker to the CPU cores near its GPU);
* on the CPU: one worker per :data:`CPU_CORES_PER_WORKER` cores (``--workers N``: N workers), each
  pinned to its own cores. The pinning is what keeps them apart: nnU-Net's CPU training and
  prediction set torch's threads to the machine's core count whatever ``OMP_NUM_THREADS`` says,
  and a pinned process's threads all share its cores;
* ``--cluster slurm|lsf|pbs|sge|htcondor``: dask-jobqueue, one worker per job, with the queue,
  walltime, account, cores, memory and GPUs from its options or from Dask's jobqueue
  configuration (``~/.config/dask/jobqueue.yaml``); the workers must see the study folder under
  the same path (a shared file system);
* ``--scheduler ADDRESS``: an existing Dask cluster, whose workers were started with
  ``--nthreads 1 --resources training=1``.

A Dask scheduler runs whatever functions its clients send, so nothing listens beyond this machine
unless it has to: the local cluster's scheduler, workers and dashboard listen on loopback only.
A batch system's workers run on other machines: there the scheduler listens on the network, but
only through TLS with credentials made for this study (a client or worker needs the study's
certificate, which only the study's own jobs get). ``--scheduler`` connects with Dask's own
security configuration (``distributed.comm.tls``), and says whether the connection is encrypted.
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, TextIO

from nnunet_t1t2.errors import UserError

RESOURCE = "training"
#: Where the local cluster listens: this machine only.
LOOPBACK = "127.0.0.1"
DASHBOARD_ADDRESS = f"{LOOPBACK}:8787"
#: A CPU training's convolutions keep a few cores busy; beyond that, trainings side by side use
#: the cores better than one training with more threads.
CPU_CORES_PER_WORKER = 4
#: A worker's cores, set in its environment by the local cluster and applied by the worker itself.
CORES_VARIABLE = "NNUNET_T1T2_WORKER_CORES"
BATCH_SYSTEMS = ("slurm", "lsf", "pbs", "sge", "htcondor")
#: How each batch system asks for N GPUs per job (sites differ for PBS and SGE: set
#: ``job-extra-directives`` in Dask's jobqueue configuration and leave out --gpus-per-job there).
GPU_DIRECTIVES = {"slurm": "--gres=gpu:{n}", "lsf": '-gpu "num={n}"', "pbs": "-l ngpus={n}", "sge": "-l gpu={n}"}


@dataclass(frozen=True)
class ClusterOptions:
    """What the user asked for; ``None`` leaves a value to Dask's configuration or the defaults."""

    workers: str = "auto"
    """``auto`` or a number: local workers, or the most jobs of a batch system at once."""
    cluster: str | None = None
    scheduler: str | None = None
    gpus_per_training: int = 1
    queue: str | None = None
    walltime: str | None = None
    account: str | None = None
    cores: int | None = None
    memory: str | None = None
    gpus_per_job: int | None = None


def worker_count(options: ClusterOptions) -> int | None:
    if options.workers == "auto":
        return None
    try:
        count = int(options.workers)
    except ValueError:
        count = 0
    if count < 1:
        raise UserError(f"--workers {options.workers}: give 'auto' or a number of workers (1 or more)")
    return count


@contextmanager
def study_client(options: ClusterOptions, device: str, log_folder: Path, stream: TextIO = sys.stdout) -> Iterator:
    """A Dask client on the cluster ``options`` describe; the cluster it started is closed after.
    Says on ``stream`` where the scheduler is and whether the connection to it is encrypted."""
    # Dask's own INFO lines (workers starting and stopping) would bury the study's progress lines;
    # set before distributed is imported, also in the worker processes it starts
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")
    import dask
    from distributed import Client

    if options.gpus_per_training < 1:
        raise UserError(f"--gpus-per-training {options.gpus_per_training}: give 1 or more")
    if options.gpus_per_training > 1 and device != "cuda":
        raise UserError(f"--gpus-per-training {options.gpus_per_training} needs --device cuda (nnU-Net's "
                        f"-num_gpus trains on GPUs only)")
    if options.scheduler:
        try:
            client = Client(options.scheduler, timeout=60)
        except OSError as e:
            raise UserError(f"--scheduler {options.scheduler}: no Dask scheduler answers there ({e})") from None
        try:
            print(connection_note(client), file=stream, flush=True)
            require_training_workers(client)
            yield client
        finally:
            client.close()
        return
    # a worker takes the next task only when it is free, so "running" means running
    with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}):
        cluster = batch_cluster(options, device, log_folder) if options.cluster else local_cluster(options, device)
        try:
            with Client(cluster) as client:
                print(connection_note(client), file=stream, flush=True)
                yield client
        finally:
            cluster.close()


def require_training_workers(client) -> None:
    try:
        client.wait_for_workers(1, timeout=300)
    except TimeoutError:
        raise UserError(f"the Dask cluster at {client.scheduler.address} has had no worker for 5 minutes") from None
    workers = client.scheduler_info()["workers"].values()
    if not any(w.get("resources", {}).get(RESOURCE) for w in workers):
        raise UserError(f"no worker of the Dask cluster at {client.scheduler.address} offers the resource "
                        f"'{RESOURCE}'; start its workers with `dask worker {client.scheduler.address} --nthreads 1 "
                        f"--resources {RESOURCE}=1` (one per GPU, each with CUDA_VISIBLE_DEVICES set)")


def connection_note(client) -> str:
    """Where the scheduler is, whether what the study sends it is encrypted (TLS) or readable and
    forgeable by anyone on the way (plain TCP), and the dashboard where it can be opened from here."""
    from distributed.comm import get_address_host

    address = client.scheduler.address
    if address.startswith("tls://"):
        note = f"Dask scheduler {address}: encrypted (TLS)"
    elif is_loopback(get_address_host(address)):
        note = f"Dask scheduler {address}: this machine only (loopback, not encrypted)"
    else:
        note = (f"Dask scheduler {address}: NOT encrypted; anyone who can reach it can run code as its workers' "
                f"user. Start it with TLS (dask scheduler --protocol tls --tls-ca-file ... --tls-cert ... "
                f"--tls-key ...) and give the study the same credentials in Dask's configuration "
                f"(distributed.comm.tls)")
    return f"{note}\nDask dashboard: {dashboard_link(client)}"


def dashboard_link(client) -> str:
    """The dashboard's address if it can be opened from here, else why not (without bokeh the
    scheduler serves only its health and metrics pages there)."""
    from importlib.util import find_spec
    from urllib.parse import urlsplit

    from distributed.comm import get_address_host

    if find_spec("bokeh") is None or "dashboard" not in client.scheduler_info().get("services", {}):
        return "none (pip install bokeh to see it)"
    link, scheduler_host = client.dashboard_link, get_address_host(client.scheduler.address)
    if is_loopback(urlsplit(link).hostname or "") and not is_loopback(scheduler_host):
        return f"only on the scheduler's machine ({scheduler_host})"
    return link


def is_loopback(host: str) -> bool:
    return host == "localhost" or host.startswith("127.") or host == "::1"


def local_cluster(options: ClusterOptions, device: str):
    from distributed import Nanny, Scheduler, SpecCluster

    cores = available_cores()
    if device == "cuda":
        gpus = visible_gpus()
        groups = [gpus[i:i + options.gpus_per_training]
                  for i in range(0, len(gpus) - options.gpus_per_training + 1, options.gpus_per_training)]
        if not groups:
            raise UserError(f"--gpus-per-training {options.gpus_per_training}: only {len(gpus)} GPU(s) visible")
        groups = groups[:worker_count(options) or len(groups)]
        if options.gpus_per_training == 1 and cuda_cluster_available():
            return cuda_cluster([g[0] for g in groups], max(1, len(cores) // len(groups)))
        shares = split(cores, len(groups))
        environments = [{"CUDA_VISIBLE_DEVICES": ",".join(group), **gpu_worker_threads(len(share))}
                        for group, share in zip(groups, shares)]
    else:
        count = worker_count(options) or max(1, len(cores) // CPU_CORES_PER_WORKER)
        if count > len(cores):
            raise UserError(f"--workers {count}: this machine has {len(cores)} usable core(s); more workers than "
                            f"cores would only make each training slower")
        shares = split(cores, count)
        environments = [cpu_worker_threads(len(share)) for share in shares]
    workers = {f"worker-{i}": {"cls": Nanny, "options": {
        "host": LOOPBACK, "nthreads": 1, "resources": {RESOURCE: 1}, "name": f"worker-{i}",
        "env": {**env, CORES_VARIABLE: ",".join(map(str, share))}}}
        for i, (env, share) in enumerate(zip(environments, shares))}
    scheduler = {"cls": Scheduler, "options": {"host": LOOPBACK, "dashboard_address": DASHBOARD_ADDRESS}}
    return SpecCluster(workers=workers, scheduler=scheduler, name="nnunet-t1t2 study")


def cuda_cluster_available() -> bool:
    try:
        import dask_cuda  # noqa: F401
    except ImportError:
        return False
    return True


def cuda_cluster(gpus: list[str], cores_per_worker: int):
    from dask_cuda import LocalCUDACluster

    return LocalCUDACluster(CUDA_VISIBLE_DEVICES=gpus, threads_per_worker=1, resources={RESOURCE: 1},
                            env=gpu_worker_threads(cores_per_worker), host=LOOPBACK,
                            dashboard_address=DASHBOARD_ADDRESS)


def available_cores() -> list[int]:
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))


def visible_gpus() -> list[str]:
    """The GPUs this process may use, as ``CUDA_VISIBLE_DEVICES`` names them."""
    import torch

    count = torch.cuda.device_count()
    listed = [g for g in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if g.strip()]
    return listed[:count] if listed else [str(i) for i in range(count)]


def split(cores: list[int], parts: int) -> list[list[int]]:
    """``cores`` in ``parts`` contiguous shares of nearly equal size (at least one core each)."""
    size, extra = divmod(len(cores), parts)
    shares, start = [], 0
    for i in range(parts):
        end = start + max(1, size + (i < extra))
        shares.append(cores[start:end] or cores[-1:])
        start = end
    return shares


def cpu_worker_threads(cores: int) -> dict[str, str]:
    return {"OMP_NUM_THREADS": str(cores), "MKL_NUM_THREADS": str(cores)}


def gpu_worker_threads(cores: int) -> dict[str, str]:
    """A GPU worker's share of the cores for nnU-Net's augmentation and export processes."""
    return {**cpu_worker_threads(cores), "nnUNet_n_proc_DA": str(cores), "nnUNet_def_n_proc": str(cores)}


def pin_worker_to_its_cores() -> None:
    """Called in a worker before each step: restrict it (and so the commands it starts) to the
    cores the local cluster gave it."""
    cores = os.environ.get(CORES_VARIABLE)
    if cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(c) for c in cores.split(",")})


def worker_cores() -> int:
    """How many cores the worker running this may use (for nnU-Net's ``-np`` options)."""
    return int(os.environ.get("OMP_NUM_THREADS") or len(available_cores()))


def batch_cluster(options: ClusterOptions, device: str, log_folder: Path):
    """A dask-jobqueue cluster that submits one job per worker, up to ``--workers`` jobs at once."""
    try:
        import dask_jobqueue
    except ImportError:
        raise UserError(f"--cluster {options.cluster} needs dask-jobqueue: pip install \"nnunet-t1t2[cluster]\"") \
            from None
    cluster_class = getattr(dask_jobqueue, {"slurm": "SLURMCluster", "lsf": "LSFCluster", "pbs": "PBSCluster",
                                            "sge": "SGECluster", "htcondor": "HTCondorCluster"}[options.cluster])
    try:
        cluster = cluster_class(**job_options(options, device, log_folder))
    except ValueError as e:  # dask-jobqueue's message for missing cores or memory
        raise UserError(f"--cluster {options.cluster}: {e} (options --cores and --memory, or Dask's jobqueue "
                        f"configuration)") from None
    cluster.adapt(minimum_jobs=1, maximum_jobs=worker_count(options) or 8)
    return cluster


def study_credentials(system: str):
    """TLS credentials made for this study only: the scheduler and the study's jobs hold them, and
    neither accepts a connection without them."""
    from distributed.security import Security

    try:
        return Security.temporary()
    except ImportError:
        raise UserError(f"--cluster {system} encrypts the connections to its jobs, which needs the package "
                        f"cryptography: pip install \"nnunet-t1t2[cluster]\"") from None


def job_options(options: ClusterOptions, device: str, log_folder: Path) -> dict:
    """The keyword arguments of the dask-jobqueue cluster class for ``options.cluster``."""
    import dask

    system = options.cluster
    if system not in BATCH_SYSTEMS:
        raise UserError(f"--cluster {system}: choose one of {', '.join(BATCH_SYSTEMS)}")
    configured = dask.config.get(f"jobqueue.{system}", {}) or {}
    kwargs: dict = {"processes": 1, "python": sys.executable, "log_directory": str(log_folder),
                    "worker_extra_args": [*configured.get("worker-extra-args", []), "--resources", f"{RESOURCE}=1"],
                    # the jobs' copy of the study's key goes beside their logs, on the shared file system
                    "security": study_credentials(system),
                    "shared_temp_directory": configured.get("shared-temp-directory") or str(log_folder),
                    "scheduler_options": {"dashboard_address": DASHBOARD_ADDRESS,
                                          **(configured.get("scheduler-options") or {})}}
    kwargs.update({k: v for k, v in {"cores": options.cores, "memory": options.memory}.items() if v is not None})
    unsupported = [f"--{name}" for name, value in (("queue", options.queue), ("walltime", options.walltime),
                                                   ("account", options.account))
                   if value is not None and system == "htcondor"]
    if unsupported:
        raise UserError(f"--cluster htcondor has no {', '.join(unsupported)}; set them as job-extra-directives "
                        f"in Dask's jobqueue configuration")
    if options.queue is not None:
        kwargs["queue"] = options.queue
    if options.walltime is not None:
        kwargs["walltime"] = options.walltime
    if options.account is not None:
        kwargs["project" if system in ("lsf", "sge") else "account"] = options.account
    gpus = options.gpus_per_job or (options.gpus_per_training if device == "cuda" else 0)
    if gpus:
        if system == "htcondor":
            kwargs["job_extra_directives"] = {**configured.get("job-extra-directives", {}), "request_gpus": str(gpus)}
        else:
            kwargs["job_extra_directives"] = [*configured.get("job-extra-directives", []),
                                              GPU_DIRECTIVES[system].format(n=gpus)]
    threads = options.cores or configured.get("cores")
    if threads:
        share = gpu_worker_threads(threads) if device == "cuda" else cpu_worker_threads(threads)
        kwargs["job_script_prologue"] = [*configured.get("job-script-prologue", []),
                                         *(f"export {k}={v}" for k, v in share.items())]
    return kwargs
