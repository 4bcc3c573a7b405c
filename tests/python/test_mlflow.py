"""viz's mlflow+http:// destination against real MLflow servers, under faults: the
server killed and restarted mid-run, the training process killed and restarted
on its spool, the server down for a whole run, and four processes as four ranks.

The servers run on 127.0.0.1 with the backend store VIZ_MLFLOW_STORE names
(scripts/mlflow-server.sh starts the SQLite and PostgreSQL ones in CI); everything
is read back through MLflow's REST API with MLflow's own client.
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
os.environ.setdefault("VIZ_LIBRARY", os.path.join(ROOT, "target", "debug", "libviz.so"))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))

import viz  # noqa: E402

STORE = os.environ.get("VIZ_MLFLOW_STORE")
if not STORE:
    if os.environ.get("CI"):
        raise RuntimeError("CI must run the MLflow tests: set VIZ_MLFLOW_STORE (scripts/mlflow-server.sh)")
    pytest.skip("VIZ_MLFLOW_STORE is not set: no MLflow backend store to test against", allow_module_level=True)

mlflow = pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient  # noqa: E402

TRAINER = os.path.join(os.path.dirname(__file__), "mlflow_trainer.py")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A real `mlflow server` on 127.0.0.1, in its own process group."""

    def __init__(self, port=None, auth_password=None, tls=None, ca=None):
        self.auth_password = auth_password
        # (certificate file, key file): serve https with them, signed by `ca`.
        self.tls, self.ca = tls, ca
        self.dir = tempfile.mkdtemp(prefix="viz-mlflow-test-")
        self.port = port or free_port()
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        # A SQLite store per server; PostgreSQL's is shared (it is a server itself).
        self.store = f"sqlite:///{self.dir}/mlflow.db" if STORE.startswith("sqlite") else STORE
        self.proc = None

    def start(self):
        env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
        auth = []
        if self.auth_password:
            # MLflow's basic-auth app, its admin user's password set by us. Its own
            # SQLite user store, so a PostgreSQL run does not share users.
            auth = ["--app-name", "basic-auth"]
            env.update(MLFLOW_AUTH_ADMIN_PASSWORD=self.auth_password, MLFLOW_FLASK_SERVER_SECRET_KEY="viz-tests",
                       MLFLOW_AUTH_CONFIG_PATH=self.auth_config())
        if self.tls:
            auth += ["--uvicorn-opts", f"--ssl-certfile {self.tls[0]} --ssl-keyfile {self.tls[1]}"]
        mlflow_cli = os.path.join(os.path.dirname(sys.executable), "mlflow")
        self.log = open(os.path.join(self.dir, "server.log"), "ab")
        self.proc = subprocess.Popen(
            [mlflow_cli, "server", *auth, "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
             "--backend-store-uri", self.store, "--artifacts-destination", os.path.join(self.dir, "artifacts")],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        deadline = time.time() + 120
        while time.time() < deadline:
            assert self.proc.poll() is None, open(os.path.join(self.dir, "server.log")).read()
            try:
                import ssl
                context = ssl.create_default_context(cafile=self.ca) if self.tls else None
                urllib.request.urlopen(self.url + "/health", timeout=2, context=context)
                return self
            except OSError:
                time.sleep(0.5)
        raise TimeoutError("the MLflow server did not start")

    def auth_config(self):
        path = os.path.join(self.dir, "auth.ini")
        with open(path, "w") as f:
            f.write("[mlflow]\ndefault_permission = READ\n"
                    f"database_uri = sqlite:///{self.dir}/auth.db\nadmin_username = admin\n")
        return path

    def kill(self):
        """SIGKILL, the whole process group: no graceful anything."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.kill()


@pytest.fixture(scope="module")
def server():
    s = Server().start()
    yield s
    s.stop()


def unique(what):
    return f"{what}-{os.getpid()}-{time.time_ns()}"


def history(url, experiment, run, key):
    client = MlflowClient(tracking_uri=url)
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], filter_string=f"attributes.run_name = '{run}'")
    assert len(runs) == 1, [r.info.run_name for r in runs]
    return runs[0], client.get_metric_history(runs[0].info.run_id, key)


def destination(server_url, run, spool, extra=""):
    return (f"mlflow+{server_url}?experiment=viz-faults&run={run}&spool={spool}"
            f"&retry_initial=50ms&retry_max=1s{extra}")


def test_a_server_killed_and_restarted_mid_run_loses_nothing():
    server = Server().start()
    try:
        run = unique("server-kill")
        spool = tempfile.mkdtemp(prefix="viz-spool-")
        n = 30_000
        c = viz.Collector(backends=[destination(server.url, run, spool)])
        loss = c.intern("loss")
        killed = threading.Event()

        def outage():
            server.kill()
            killed.set()
            time.sleep(2)
            server.start()

        restarter = None
        for step in range(n):
            c.collect_scalar(loss, step, 1.0 / (step + 1))
            if step == n // 3:
                c.flush()
                restarter = threading.Thread(target=outage)
                restarter.start()
                killed.wait()
            if step % 1000 == 0:
                time.sleep(0.05)
        restarter.join()
        c.wait_acknowledged(180_000)
        stats = c.remote_stats(0)
        c.close()
        assert stats["delivered"] == n and stats["depth"] == 0, stats
        assert stats["failures"] >= 1, f"the outage went unnoticed: {stats}"
        found, metrics = history(server.url, "viz-faults", run, "loss")
        steps = [m.step for m in metrics]
        assert set(steps) == set(range(n))
        assert len(steps) - n <= 1000, f"{len(steps) - n} duplicates; at most one batch may repeat"
        assert found.info.status == "FINISHED"
    finally:
        server.stop()


def run_trainer(url, first, last, kill_after=None):
    """Runs mlflow_trainer.py; with kill_after, SIGKILLs it once it has spooled that
    many steps and returns the last step it reported spooled."""
    p = subprocess.Popen([sys.executable, TRAINER, url, str(first), str(last), "1000"],
                         stdout=subprocess.PIPE, text=True)
    spooled = first
    for line in p.stdout:
        if line.startswith("spooled "):
            spooled = int(line.split()[1])
            if kill_after is not None and spooled >= kill_after:
                p.send_signal(signal.SIGKILL)
                p.wait()
                return spooled
        elif line.startswith("acknowledged"):
            out = line
    assert p.wait() == 0
    return out


def test_a_training_process_killed_mid_run_delivers_the_rest_on_restart(server):
    run = unique("process-kill")
    spool = tempfile.mkdtemp(prefix="viz-spool-")
    url = destination(server.url, run, spool)
    n = 40_000
    spooled = run_trainer(url, 0, n, kill_after=20_000)
    assert 20_000 <= spooled < n
    # Training resumes from its last durable step, on the same spool.
    run_trainer(url, spooled, n)
    _, metrics = history(server.url, "viz-faults", run, "loss")
    steps = [m.step for m in metrics]
    assert set(steps) == set(range(n)), "every spooled step arrives"
    repeated_before_kill = len([s for s in steps if s < spooled]) - spooled
    assert repeated_before_kill <= 1000, f"{repeated_before_kill} duplicates; at most one batch"


def test_a_server_down_for_the_whole_run_gets_everything_once_up():
    port = free_port()
    run = unique("down")
    spool = tempfile.mkdtemp(prefix="viz-spool-")
    limit = 64 << 20
    n = 20_000
    c = viz.Collector(backends=[destination(f"http://127.0.0.1:{port}", run, spool,
                                            f"&spool_max_bytes={limit}")])
    loss = c.intern("loss")
    for step in range(n):
        c.collect_scalar(loss, step, float(step))
    c.flush()
    with pytest.raises(viz.Timeout):
        c.wait_acknowledged(500)
    stats = c.remote_stats(0)
    assert stats["depth"] == n and stats["delivered"] == 0, stats
    assert 0 < stats["spool_bytes"] < limit, stats
    assert stats["failures"] >= 1, stats
    server = Server(port).start()
    try:
        c.wait_acknowledged(180_000)
        assert c.remote_stats(0)["delivered"] == n
        c.close()
        _, metrics = history(server.url, "viz-faults", run, "loss")
        assert sorted(m.step for m in metrics) == list(range(n))
    finally:
        server.stop()


def test_four_processes_as_four_ranks_share_one_run(server):
    run = unique("ranks")
    n = 5_000
    procs = [subprocess.Popen([sys.executable, TRAINER,
                               destination(server.url, run, tempfile.mkdtemp(prefix="viz-spool-"),
                                           f"&rank={rank}&ranks=shared"), "0", str(n)],
                              stdout=subprocess.PIPE, text=True)
             for rank in range(4)]
    for p in procs:
        out = p.communicate()[0]
        assert p.returncode == 0 and "acknowledged" in out, out
    for rank in range(4):
        _, metrics = history(server.url, "viz-faults", run, f"rank-{rank}/loss")
        assert sorted(m.step for m in metrics) == list(range(n)), f"rank {rank}"


def test_credentials_come_from_the_environment_and_never_show(monkeypatch):
    secret = f"pw-{time.time_ns()}"
    server = Server(auth_password=secret).start()
    try:
        for var in ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
            monkeypatch.delenv(var, raising=False)
        run = unique("auth")
        spool = tempfile.mkdtemp(prefix="viz-spool-")
        reports = []
        c = viz.Collector(backends=[destination(server.url, run, spool)])
        c.on_error(lambda r: reports.append(r))
        for step in range(100):
            c.collect_scalar("loss", step, 1.0)
        with pytest.raises(viz.Timeout):
            c.wait_acknowledged(2000)
        assert c.remote_stats(0)["failures"] >= 1
        c.close()
        text = " ".join(str(r) for r in reports)
        assert "HTTP 401" in text and "MLFLOW_TRACKING_USERNAME" in text, text
        # Nothing is lost: with the credentials, the next process delivers it all.
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", secret)
        reports.clear()
        c = viz.Collector(backends=[destination(server.url, run, spool)])
        c.on_error(lambda r: reports.append(r))
        for step in range(100, 200):
            c.collect_scalar("loss", step, 1.0)
        c.wait_acknowledged(120_000)
        assert c.remote_stats(0)["delivered"] == 200
        c.close()
        _, metrics = history(server.url, "viz-faults", run, "loss")
        assert sorted(m.step for m in metrics) == list(range(200))
        # The password is in no error and no spool file.
        assert all(secret not in str(r) for r in reports)
        for name in os.listdir(spool):
            with open(os.path.join(spool, name), "rb") as f:
                assert secret.encode() not in f.read(), name
    finally:
        server.stop()


def certificates(dir):
    """A CA, and a server certificate for 127.0.0.1 it signed: (ca, cert, key) files."""
    import datetime
    import ipaddress
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    now = datetime.datetime.now(datetime.timezone.utc)

    def builder(subject, issuer, public_key):
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=1)))

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "viz test CA")])
    ca = (builder(ca_name, ca_name, ca_key.public_key())
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]), ca_name, key.public_key())
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .sign(ca_key, hashes.SHA256()))
    paths = [os.path.join(dir, n) for n in ("ca.pem", "cert.pem", "key.pem")]
    for path, data in zip(paths, (ca.public_bytes(serialization.Encoding.PEM),
                                  cert.public_bytes(serialization.Encoding.PEM),
                                  key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))):
        with open(path, "wb") as f:
            f.write(data)
    return paths


def test_https_through_rustls_trusts_only_the_given_ca(monkeypatch):
    certs = tempfile.mkdtemp(prefix="viz-tls-")
    ca, cert, key = certificates(certs)
    server = Server(tls=(cert, key), ca=ca).start()
    try:
        https = server.url.replace("http", "mlflow+http", 1)
        run = unique("https")
        # Not trusted by default: the certificate error is reported, nothing is lost.
        reports = []
        c = viz.Collector(backends=[f"{https}?experiment=viz-faults&run={run}&spool={certs}/untrusted"])
        c.on_error(lambda r: reports.append(r))
        c.collect_scalar("loss", 0, 1.0)
        with pytest.raises(viz.Timeout):
            c.wait_acknowledged(1500)
        c.close()
        assert any("certificate" in str(r).lower() for r in reports), reports
        # With its CA: delivered over TLS.
        c = viz.Collector(backends=[f"{https}?experiment=viz-faults&run={run}&spool={certs}/trusted&ca_file={ca}"])
        for step in range(500):
            c.collect_scalar("loss", step, 1.0)
        c.wait_acknowledged(120_000)
        c.close()
        monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", ca)
        _, metrics = history(server.url, "viz-faults", run, "loss")
        assert sorted(m.step for m in metrics) == list(range(500))
        with pytest.raises(viz.InvalidConfig, match="ca_file"):
            viz.Collector(backends=[f"{https}?run=x&spool={certs}/bad&ca_file={key}"])
    finally:
        server.stop()
