"""A client for a model repository from `fuse-trt export-triton`, over ``tritonclient``.

``tritonclient`` is an optional extra (``pip install 'fuse-trt[triton]'``), imported only
when a client is made. ``url`` is ``host:port`` or ``http://host:port`` (HTTP/REST) or
``grpc://host:port`` (gRPC). Each thread gets its own connection, so one client may be
shared by threads that send requests at the same time.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Mapping

import numpy as np

from fuse_trt.engine.errors import BackendUnavailableError, InferenceInputError
from fuse_trt.engine.spec import ModelSpec

TRITON_EXTRA_HINT = "the triton backend needs tritonclient: pip install 'fuse-trt[triton]'"


def family_name(engine: str, precision: str) -> str:
    """The model-name prefix export-triton gives an engine ("onnx" or "trt") and precision."""
    return f"fusion_{engine}_{precision}"


def tier_model(family: str, tier: str) -> str:
    return f"{family}_{tier}"


def _split_url(url: str) -> tuple[str, str]:
    for scheme in ("grpc", "http"):
        if url.startswith(f"{scheme}://"):
            return scheme, url[len(scheme) + 3:]
    return "http", url


def _client_module(protocol: str):
    try:
        if protocol == "grpc":
            import tritonclient.grpc as module
        else:
            import tritonclient.http as module
    except ImportError as error:
        raise BackendUnavailableError(f"{TRITON_EXTRA_HINT} ({error})") from None
    return module


class TritonFusionClient:
    """Sends planned feeds to the tier models of a Triton server; returns the outputs."""

    def __init__(self, url: str, timeout_s: float = 60.0):
        self.url = url
        self.protocol, self.address = _split_url(url)
        self.timeout_s = timeout_s
        self._module = _client_module(self.protocol)
        self._local = threading.local()
        self._opened: list = []  # every thread's connection, closed together
        self._opened_lock = threading.Lock()

    def _client(self):
        client = getattr(self._local, "client", None)
        if client is None:
            kwargs = {"network_timeout": self.timeout_s} if self.protocol == "http" else {}
            client = self._module.InferenceServerClient(self.address, **kwargs)
            self._local.client = client
            with self._opened_lock:
                self._opened.append(client)
        return client

    def _call(self, what: str, function, *args, **kwargs):
        from tritonclient.utils import InferenceServerException

        try:
            return function(*args, **kwargs)
        except InferenceServerException as error:
            raise BackendUnavailableError(
                f"Triton at {self.url}: {what}: {error.message()}") from None
        except (OSError, ConnectionError) as error:
            raise BackendUnavailableError(f"Triton at {self.url}: {what}: {error}") from None

    def wait_until_ready(self, timeout_s: float, poll_s: float = 0.2) -> None:
        """Return once the server says it is ready; BackendUnavailableError after ``timeout_s``."""
        from tritonclient.utils import InferenceServerException

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if self._client().is_server_ready():
                    return
            except (InferenceServerException, OSError):  # not listening yet
                pass
            time.sleep(poll_s)
        raise BackendUnavailableError(f"Triton at {self.url} not ready after {timeout_s:.0f} s")

    def is_model_ready(self, model: str) -> bool:
        return bool(self._call(f"model {model}", self._client().is_model_ready, model))

    def metadata(self, model: str) -> dict:
        kwargs = {"as_json": True} if self.protocol == "grpc" else {}
        return self._call(f"model {model}", self._client().get_model_metadata, model, **kwargs)

    def check_model(self, model: str, spec: ModelSpec) -> None:
        """Raise if the served model's tensor names differ from the bundle's spec."""
        metadata = self.metadata(model)
        served = {entry["name"] for entry in metadata["inputs"]}, \
            {entry["name"] for entry in metadata["outputs"]}
        expected = set(spec.input_names), set(spec.output_names)
        if served != expected:
            raise BackendUnavailableError(
                f"Triton model {model} has inputs/outputs {sorted(served[0])}/"
                f"{sorted(served[1])}, the bundle expects {sorted(expected[0])}/"
                f"{sorted(expected[1])}: export the repository from this bundle")

    def infer(self, model: str, feed: Mapping[str, np.ndarray],
              outputs: list[str]) -> dict[str, np.ndarray]:
        from tritonclient.utils import InferenceServerException, np_to_triton_dtype

        inputs = []
        for name, array in feed.items():
            tensor = self._module.InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
            tensor.set_data_from_numpy(np.ascontiguousarray(array))
            inputs.append(tensor)
        requested = [self._module.InferRequestedOutput(name) for name in outputs]
        try:
            result = self._client().infer(model, inputs, outputs=requested)
        except InferenceServerException as error:
            raise InferenceInputError(f"Triton model {model}: {error.message()}") from None
        return {name: result.as_numpy(name) for name in outputs}

    def close(self) -> None:
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for client in opened:
            client.close()
        self._local = threading.local()
