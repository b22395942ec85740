"""`openreplica.protocol`'s public names: `__all__`, what the package holds and the index
in its docstring say the same thing."""

from __future__ import annotations

import re
import types

from openreplica import protocol

_BACKTICKED_NAME = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)`")


def _public_names() -> set[str]:
    """Names bound in the package that are not private and not its submodules."""
    return {
        name
        for name, value in vars(protocol).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }


def test_every_name_in_all_is_importable() -> None:
    missing = [name for name in protocol.__all__ if not hasattr(protocol, name)]
    assert missing == []
    namespace: dict[str, object] = {}
    exec("from openreplica.protocol import *", namespace)
    assert set(protocol.__all__) <= set(namespace)


def test_all_lists_each_name_once() -> None:
    assert len(protocol.__all__) == len(set(protocol.__all__))


def test_nothing_public_is_left_out_of_all() -> None:
    assert _public_names() - set(protocol.__all__) == set()


def test_every_exported_name_is_documented_in_the_package_index() -> None:
    documented = set(_BACKTICKED_NAME.findall(protocol.__doc__ or ""))
    assert set(protocol.__all__) - documented == set()


def test_the_index_names_nothing_that_is_not_exported() -> None:
    documented = {n for n in _BACKTICKED_NAME.findall(protocol.__doc__ or "") if n[:2] != "__"}
    assert documented - set(protocol.__all__) == set()
