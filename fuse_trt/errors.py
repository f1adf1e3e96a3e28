"""The user-error family, re-exported from its home in the bottom layer (fuse_trt.engine.errors)."""
from fuse_trt.engine.errors import *  # noqa: F401,F403
from fuse_trt.engine.errors import __all__  # noqa: F401
