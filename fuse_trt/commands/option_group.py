"""Click options that reach a command as one typed configuration.

``option_group("int8", options, make)`` adds ``options`` to a command and replaces their
values by one keyword argument ``int8 = make(**values)``; the command never sees the loose
values, so nobody keeps a list of option names by hand.
"""
from __future__ import annotations

import functools
from collections.abc import Callable


def option_group(name: str, options: list[Callable], make: Callable[..., object]):
    def decorate(command):
        @functools.wraps(command)
        def with_config(*args, **kwargs):
            values = {key: kwargs.pop(key) for key in keys}
            return command(*args, **kwargs, **{name: make(**values)})

        before = len(getattr(with_config, "__click_params__", []))
        for option in reversed(options):
            with_config = option(with_config)
        keys = [param.name for param in with_config.__click_params__[before:]]
        return with_config
    return decorate
