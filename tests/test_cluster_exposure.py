"""Who can reach the study's Dask cluster: the local cluster listens on loopback only, a batch
system's cluster only through TLS with the study's own credentials, and ``--scheduler`` uses Dask's
TLS configuration and says whether its connection is encrypted."""
from __future__ import annotations

import io
import ipaddress
import stat

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
            "distributed.comm.tls.client.cert": str(files["cert"]), "distributed.comm.tls.client.key": str(files["key"])}


def test_an_existing_scheduler_is_reached_with_daskss_tls_configuration_and_the_log_says_so(tmp_path):
    security = Security.temporary()
    with LocalCluster(n_workers=1, processes=False, threads_per_worker=1, dashboard_address=None, protocol="tls",
                      security=security, resources={"training": 1}) as cluster:
        options = ClusterOptions(scheduler=cluster.scheduler_address)
        log = io.StringIO()
        with dask.config.set(tls_configuration(security, tmp_path)):
            with study_client(options, "cpu", tmp_path, stream=log) as client:
                assert client.submit(sum, [1, 2], resources={"training": 1}).result(timeout=60) == 3
        assert f"Dask scheduler {cluster.scheduler_address}: encrypted (TLS)" in log.getvalue()
