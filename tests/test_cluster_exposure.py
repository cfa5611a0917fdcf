"""Who can reach the study's Dask cluster: the local cluster listens on loopback only, a batch
system's cluster only through TLS with the study's own credentials, and ``--scheduler`` uses Dask's
TLS configuration and says whether its connection is encrypted."""
from __future__ import annotations

import io
import ipaddress
import json
import signal
import socket
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import dask
import psutil
import pytest
from distributed import Client, LocalCluster
from distributed.security import Security

from conftest import COARSE_MR
from nnunet_t1t2.study.cluster import ClusterOptions, job_options, study_client
from nnunet_t1t2.study.protocol import make_protocol
from nnunet_t1t2.study.state import FOUND_AFTER_A_STOP, STUDY_PROCESS
from nnunet_t1t2.study.steps import study_steps


BIN = Path(sys.executable).parent


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


@dataclass
class HandStartedCluster:
    address: str
    configuration: dict
    """Dask's TLS configuration holding the cluster's credentials (what a user puts in ~/.config/dask)."""
    worker: str
    """The worker as the study state records it (name and host)."""
    listening: list[tuple[str, int]]
    """Where the scheduler and the worker listen."""


@pytest.fixture(scope="module")
def hand_started_cluster(tmp_path_factory) -> Iterator[HandStartedCluster]:
    """``dask scheduler`` and ``dask worker`` started by hand on loopback with TLS, as the help of
    ``--scheduler`` tells. Their HTTP servers (health and metrics pages, even with ``--no-dashboard``)
    listen on every interface unless given a loopback ``--dashboard-address`` too."""
    folder = tmp_path_factory.mktemp("tls_cluster")
    configuration = tls_configuration(Security.temporary(), folder)
    tls = ["--tls-ca-file", configuration["distributed.comm.tls.ca-file"],
           "--tls-cert", configuration["distributed.comm.tls.client.cert"],
           "--tls-key", configuration["distributed.comm.tls.client.key"]]
    dask_command = str(BIN / "dask")
    scheduler_file = folder / "scheduler.json"
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
        with dask.config.set(configuration), Client(address, timeout=30) as client:
            client.wait_for_workers(1, timeout=60)
            (worker,) = client.scheduler_info()["workers"].values()
        yield HandStartedCluster(address, configuration, f"{worker['name']} on {socket.gethostname()}",
                                 listening_sockets())
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait(timeout=60)


def test_a_separately_started_tls_scheduler_and_worker_run_the_studys_tasks(hand_started_cluster, tmp_path):
    """``--scheduler``: the study's client holds the credentials through Dask's configuration."""
    address, log = hand_started_cluster.address, io.StringIO()
    with dask.config.set(hand_started_cluster.configuration):
        with study_client(ClusterOptions(scheduler=address), "cpu", tmp_path, stream=log) as client:
            assert client.submit(sum, [1, 2], resources={"training": 1}).result(timeout=60) == 3
    assert address.startswith("tls://127.0.0.1:") and f"Dask scheduler {address}: encrypted (TLS)" in log.getvalue()
    listening = hand_started_cluster.listening
    assert len(listening) >= 5, listening  # scheduler, its HTTP server, nanny, worker, its HTTP server
    assert all(ipaddress.ip_address(host).is_loopback for host, _ in listening), listening
    with pytest.raises(Exception):  # and nobody without the credentials gets in
        Client(address, timeout=5, security=Security.temporary())


def dask_environment(configuration: dict) -> dict[str, str]:
    """Dask's configuration as the ``DASK_*`` variables a user would export."""
    return {"DASK_" + key.upper().replace(".", "__").replace("-", "_"): str(value)
            for key, value in configuration.items()}


@pytest.mark.slow
def test_a_study_on_the_hand_started_tls_cluster_stops_on_sigterm_resumes_and_finishes(hand_started_cluster,
                                                                                       tmp_path):
    """``nnunet-t1t2 study --scheduler tls://...`` end to end, through the real commands on the
    separately started worker: stopped with SIGTERM once the source model is trained (the commands it
    runs on that worker stopped with it), run again, finished with every step done."""
    from test_study import SOURCE_STEP, environment, processes_left_working_in, state, wait_for

    data, out = tmp_path / "patients", tmp_path / "out"
    env = {**environment(), **dask_environment(hand_started_cluster.configuration)}
    subprocess.run([str(BIN / "nnunet-t1t2"), "phantom", "--out", str(data), "--n", "6", "--n-t2", "3",
                    "--seed", "1", "--size", "small", *COARSE_MR], env=env, check=True, capture_output=True)
    command = [str(BIN / "nnunet-t1t2"), "study", "--data", str(data), "--out", str(out), "--preset", "demo",
               "--strategies", "no-ft", "fc", "--device", "cpu", "--accept-unlearned-source",
               "--scheduler", hand_started_cluster.address]
    log = tmp_path / "stopped_run.log"
    with open(log, "w", encoding="utf-8") as stream:
        first = subprocess.Popen(command, env=env, stdout=stream, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: (out / "study_state.json").is_file() and SOURCE_STEP in state(out)["steps"],
                     "the source training finished", first, log)
        finally:
            first.send_signal(signal.SIGTERM)
            first.wait(120)
    stopped = log.read_text(encoding="utf-8")
    assert f"Dask scheduler {hand_started_cluster.address}: encrypted (TLS)" in stopped, stopped[-3000:]
    assert processes_left_working_in(out) == [], stopped[-3000:]  # on the worker, too
    recorded_when_stopped = set(state(out)["steps"])

    finished = subprocess.run(command, env=env, capture_output=True, encoding="utf-8", errors="replace",
                              timeout=1500)
    assert finished.returncode == 0, finished.stdout[-4000:] + finished.stderr[-4000:]
    assert "training T1 source SEUNetTrainer fold 0 seed 0 ... skipped (done)" in finished.stdout
    steps = state(out)["steps"]
    protocol = make_protocol("demo", ["no-ft", "fc"], environ=environment())
    expected = {step.key for step in study_steps(protocol, generate_phantom=False)}
    assert recorded_when_stopped < expected and set(steps) == expected
    # every step but the report (written by the study process) ran on that worker, none on a local cluster
    # (a step that finished while the study stopped is found done, not run again)
    assert steps[SOURCE_STEP]["worker"] == hand_started_cluster.worker and steps["report"]["worker"] == STUDY_PROCESS
    assert {step["worker"] for key, step in steps.items() if key != "report"} <= {hand_started_cluster.worker,
                                                                                 FOUND_AFTER_A_STOP}
    assert finished.stdout.rstrip().endswith(f"report: {out / 'report.md'}")
