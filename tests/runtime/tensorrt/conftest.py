"""TensorRT tests run against stand-ins generated from the API dumps (see tests/support/tensorrt)."""
from tests.support.tensorrt.fixtures import emulated, tiers, trt10  # noqa: F401
