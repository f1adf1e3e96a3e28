"""Start the real ``tritonserver`` that ships in the ``nvidia-pytriton`` wheel, on loopback only.

The wheel holds Triton 2.51 with the Python backend and one backend stub per Python
version. A backend directory is assembled in a temp folder from links to those files (the
stub of the running Python next to ``libtriton_python.so``). The stub embeds Python and
finds its environment through ``PATH`` (it ignores ``PYTHONPATH``), so the environment's
``bin`` goes first there.
"""
from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0


def pytriton_server_dir() -> Path:
    spec = importlib.util.find_spec("pytriton")
    assert spec is not None and spec.submodule_search_locations, \
        "nvidia-pytriton (a dev extra) is required for the Triton tests"
    return Path(list(spec.submodule_search_locations)[0]) / "tritonserver"


def python_backend_dir(server_dir: Path, into: Path) -> Path:
    """``into/backends`` with a ``python`` backend whose stub matches this Python."""
    python = into / "backends" / "python"
    python.mkdir(parents=True)
    shipped = server_dir / "backends" / "python"
    for name in ("libtriton_python.so", "triton_python_backend_utils.py"):
        (python / name).symlink_to(shipped / name)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    stub = server_dir / "python_backend_stubs" / version / "triton_python_backend_stub"
    assert stub.is_file(), f"the wheel has no Python backend stub for Python {version}"
    (python / "triton_python_backend_stub").symlink_to(stub)
    return into / "backends"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class RunningServer:
    process: subprocess.Popen
    http_port: int
    grpc_port: int
    log_path: Path

    @property
    def http_url(self) -> str:
        return f"127.0.0.1:{self.http_port}"

    @property
    def grpc_url(self) -> str:
        return f"grpc://127.0.0.1:{self.grpc_port}"

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> int:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT_S; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT_S)
        return self.process.returncode


def start_tritonserver(repository: Path, workdir: Path) -> RunningServer:
    """Launch the server on 127.0.0.1 (HTTP and gRPC), metrics off; not yet ready."""
    server_dir = pytriton_server_dir()
    backends = python_backend_dir(server_dir, workdir)
    http_port, grpc_port = free_port(), free_port()
    command = [str(server_dir / "bin" / "tritonserver"), "--model-repository", str(repository),
               "--backend-directory", str(backends), "--http-address", "127.0.0.1",
               "--http-port", str(http_port), "--grpc-address", "127.0.0.1",
               "--grpc-port", str(grpc_port), "--allow-metrics", "false",
               "--exit-timeout-secs", "5"]
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    log_path = workdir / "tritonserver.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                   stdin=subprocess.DEVNULL)
    return RunningServer(process, http_port, grpc_port, log_path)
