"""Who can reach the study's Dask cluster: the local cluster listens on loopback only, a batch
system's cluster only through TLS with the study's own credentials, and ``--scheduler`` uses Dask's
TLS configuration and says whether its connection is encrypted."""
from __future__ import annotations

import io
import ipaddress
import json
import stat
import subprocess
import sys
import time
from pathlib import Path

import dask
import psutil
import pytest
from distributed import Client, LocalCluster
from distributed.security import Security

from nnunet_t1t2.study.cluster import ClusterOptions, job_options, study_client


def listening_sockets() -> list[tuple[str, int]]:
    """The (address, port) every process of this process's tree listens on."""
    me = psutil.Process()
    return [(c.laddr.ip, c.laddr.port) for process in (me, *me.children(recursive=True))
            for c in process.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]


def test_the_local_cluster_listens_on_loopback_only(tmp_path):
    before = set(listening_sockets())
    log = io.StringIO()
    with study_client(ClusterOptions(workers="1"), "cpu", tmp_path, stream=log) as client:
        client.wait_for_workers(1, timeout=120)
        opened = set(listening_sockets()) - before
    assert len(opened) >= 3, opened  # the scheduler, the worker's nanny and the worker
    assert all(ipaddress.ip_address(host).is_loopback for host, _ in opened), opened
    assert "this machine only (loopback" in log.getvalue()


def test_a_batch_systems_cluster_takes_only_connections_with_the_studys_credentials(tmp_path):
    import dask_jobqueue

    options = ClusterOptions(cluster="slurm", cores=1, memory="1GB")
    with dask_jobqueue.SLURMCluster(**job_options(options, "cpu", tmp_path)) as cluster:
        assert cluster.scheduler_address.startswith("tls://")
        script = cluster.job_script()
        assert "--protocol tls://" in script and "--tls-key" in script
        keys = list(tmp_path.glob(".dask-jobqueue.worker.key.*"))  # the jobs' copy, on the shared file system
        assert len(keys) == 1 and stat.S_IMODE(keys[0].stat().st_mode) == 0o600
        with pytest.raises(Exception):  # neither plain TCP nor TLS without the study's certificate
            Client(cluster.scheduler_address.replace("tls://", "tcp://"), timeout=5)
        with pytest.raises(Exception):
            Client(cluster.scheduler_address, timeout=5, security=Security.temporary())
        with Client(cluster.scheduler_address, timeout=30, security=cluster.security) as client:
            assert client.scheduler_info()["address"] == cluster.scheduler_address


def tls_configuration(security: Security, folder) -> dict:
    """Dask's configuration for a client holding ``security``'s credentials, as files."""
    files = {}
    for name, contents in (("ca-file", security.tls_ca_file), ("cert", security.tls_client_cert),
                           ("key", security.tls_client_key)):
        files[name] = folder / f"{name}.pem"
        files[name].write_text(contents)
    return {"distributed.comm.require-encryption": True, "distributed.comm.tls.ca-file": str(files["ca-file"]),
            "distributed.comm.tls.client.cert": str(files["cert"]),
            "distributed.comm.tls.client.key": str(files["key"])}


def test_an_existing_scheduler_is_reached_with_dasks_tls_configuration_and_the_log_says_so(tmp_path):
    security = Security.temporary()
    with LocalCluster(n_workers=1, processes=False, threads_per_worker=1, dashboard_address=None, protocol="tls",
                      security=security, resources={"training": 1}) as cluster:
        options = ClusterOptions(scheduler=cluster.scheduler_address)
        log = io.StringIO()
        with dask.config.set(tls_configuration(security, tmp_path)):
            with study_client(options, "cpu", tmp_path, stream=log) as client:
                assert client.submit(sum, [1, 2], resources={"training": 1}).result(timeout=60) == 3
        assert f"Dask scheduler {cluster.scheduler_address}: encrypted (TLS)" in log.getvalue()


def test_a_separately_started_tls_scheduler_and_worker_run_the_studys_tasks(tmp_path):
    """``--scheduler`` end to end: ``dask scheduler`` and ``dask worker`` started by hand on loopback
    with TLS, and the study's client holding the same credentials through Dask's configuration.
    Their HTTP servers (health and metrics pages, even with ``--no-dashboard``) listen on every
    interface unless given a loopback ``--dashboard-address`` too."""
    configuration = tls_configuration(Security.temporary(), tmp_path)
    tls = ["--tls-ca-file", configuration["distributed.comm.tls.ca-file"],
           "--tls-cert", configuration["distributed.comm.tls.client.cert"],
           "--tls-key", configuration["distributed.comm.tls.client.key"]]
    dask_command = str(Path(sys.executable).parent / "dask")
    scheduler_file = tmp_path / "scheduler.json"
    loopback = ["--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0"]
    processes = [subprocess.Popen([dask_command, "scheduler", "--protocol", "tls", *loopback,
                                   "--scheduler-file", str(scheduler_file), *tls])]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.is_file():
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.2)
        processes.append(subprocess.Popen([dask_command, "worker", "--scheduler-file", str(scheduler_file),
                                           *loopback, "--nthreads", "1", "--resources", "training=1", *tls]))
        address = json.loads(scheduler_file.read_text())["address"]
        log = io.StringIO()
        with dask.config.set(configuration):
            with study_client(ClusterOptions(scheduler=address), "cpu", tmp_path, stream=log) as client:
                assert client.submit(sum, [1, 2], resources={"training": 1}).result(timeout=60) == 3
                listening = listening_sockets()  # the scheduler's and the worker's, started from here
        assert address.startswith("tls://127.0.0.1:") and f"Dask scheduler {address}: encrypted (TLS)" in log.getvalue()
        assert len(listening) >= 5, listening  # scheduler, its HTTP server, nanny, worker, its HTTP server
        assert all(ipaddress.ip_address(host).is_loopback for host, _ in listening), listening
        with pytest.raises(Exception):  # and nobody without the credentials gets in
            Client(address, timeout=5, security=Security.temporary())
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait(timeout=60)
