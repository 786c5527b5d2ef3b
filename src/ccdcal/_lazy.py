"""Lazy public names for a package (:pep:`562`): import a submodule on first use.

A package lists where each public name lives; its ``__getattr__`` imports that
module the first time the name is asked for and keeps the value, so importing
the package costs nothing until a name is used.  Static type checkers see the
names through an ``if TYPE_CHECKING:`` import block in the package.

Examples
--------
>>> import types
>>> pkg = types.ModuleType("demo_pkg")
>>> getattr_, dir_ = lazy_attributes(pkg, {"sqrt": "math"})
>>> getattr_("sqrt")(9.0)
3.0
>>> "sqrt" in dir_()
True
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Collection, Mapping
from types import ModuleType
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(
    package: ModuleType | str,
    names: Mapping[str, str],
    *,
    submodules: Collection[str] = (),
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Make a package's ``__getattr__`` and ``__dir__`` for names loaded on first use.

    Parameters
    ----------
    package : module or str
        The package (or its name, looked up in :data:`sys.modules` when a
        name is first asked for).
    names : mapping of str to str
        Public name -> the module it is imported from.
    submodules : collection of str
        Subpackages of ``package`` reachable as attributes without an import.

    Returns
    -------
    (__getattr__, __dir__)
        Assign both at the package's top level.
    """

    def _module() -> ModuleType:
        if isinstance(package, ModuleType):
            return package
        import sys

        return sys.modules[package]

    def __getattr__(name: str) -> Any:
        module = _module()
        if name in names:
            value = getattr(importlib.import_module(names[name]), name)
        elif name in submodules:
            value = importlib.import_module(f"{module.__name__}.{name}")
        else:
            raise AttributeError(f"module {module.__name__!r} has no attribute {name!r}")
        setattr(module, name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(_module()), *names, *submodules})

    return __getattr__, __dir__
