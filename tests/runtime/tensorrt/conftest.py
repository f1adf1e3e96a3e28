"""TensorRT tests run against stand-ins generated from the API dumps (see tests/trt_fakes)."""
from tests.trt_fakes.fixtures import emulated, tiers, trt10  # noqa: F401
