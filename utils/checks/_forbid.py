"""Library functions an exercise forbids: calling them raises `ForbiddenCall`, however reached.

`forbid(["torch.nn.functional.scaled_dot_product_attention"])` does two things
while it is active: it replaces the attribute where the name points (so
``F.scaled_dot_product_attention(...)`` fails), and it installs a profile hook
that compares every call with the forbidden function itself, which catches an
alias bound before (``sdpa = F.scaled_dot_product_attention``), the same
builtin reached under another module's name, and a method called on a tensor
(``x.softmax`` when ``torch.Tensor.softmax`` is forbidden). A call that the
student's code catches is still reported when the block ends. Everything is
restored afterwards. Used by every lab's checks (`utils.checks._core.run_check`)
and by the grader's sandbox.
"""

from __future__ import annotations

import importlib
import sys
import threading
import types
from collections.abc import Iterable
from types import FrameType, TracebackType
from typing import Any

from utils.i18n import _

__all__ = ["ForbiddenCall", "forbid"]


class ForbiddenCall(AssertionError):
    """The student's code called a library function that the exercise asks them to write."""

    def __init__(self, name: str) -> None:
        super().__init__(_("your code calls `{name}`, which this exercise asks you to write "
                           "yourself from tensor operations").format(name=name))
        self.name = name

    def _render_traceback_(self) -> list[str]:  # in Jupyter: the message, no frames
        return [f"\x1b[1;31m{type(self).__name__}\x1b[0m: {self}"]


def _resolve(dotted: str) -> tuple[Any, str, Any]:
    """(owner, attribute, object) for a dotted name: the longest importable module, then getattr."""
    parts = dotted.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            owner: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for part in parts[split:-1]:
            owner = getattr(owner, part)
        return owner, parts[-1], getattr(owner, parts[-1])
    raise ValueError(_("cannot find {dotted!r}: give module.function or "
                       "module.Class.method").format(dotted=dotted))


_PATCHABLE = (types.FunctionType, types.BuiltinFunctionType, types.MethodDescriptorType,
              types.WrapperDescriptorType)


def _operator_builtins(target: Any) -> list[Any]:
    """The C functions behind a `torch.ops` operator (its packet and every overload)."""
    found = [getattr(target, "_op", None)]
    overloads = getattr(target, "overloads", None)
    if callable(overloads):
        found += [getattr(getattr(target, name), "_op", None) for name in overloads()]
    return [op for op in found if op is not None]


class forbid:  # noqa: N801 - used as a context manager, like contextlib's lower-case helpers
    """Make the named functions raise `ForbiddenCall` inside the ``with`` block."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = tuple(names)
        self.violations: list[str] = []
        self._patched: list[tuple[Any, str, Any, bool]] = []

    # -------------------------------------------------------------------- matching calls
    def _index(self) -> None:
        self._by_code: dict[Any, str] = {}  # Python functions: their code object
        self._by_id: dict[int, str] = {}  # builtins: the function object itself
        self._methods: list[tuple[str, type, str]] = []  # C methods: (name, class, attribute)
        for dotted, (_owner, _attr, target) in zip(self.names, self._targets, strict=True):
            code = getattr(target, "__code__", None)
            if code is not None:
                self._by_code[code] = dotted
            elif hasattr(target, "__objclass__"):  # a method descriptor such as Tensor.softmax
                self._methods.append((dotted, target.__objclass__, target.__name__))
            self._by_id[id(target)] = dotted
            for op in _operator_builtins(target):  # torch.ops.aten.X and X.default
                self._by_id[id(op)] = dotted

    def _match(self, frame: FrameType, event: str, arg: Any) -> str | None:
        if event == "call":
            return self._by_code.get(frame.f_code)
        if event != "c_call":
            return None
        hit = self._by_id.get(id(arg))
        if hit is not None:
            return hit
        owner = getattr(arg, "__self__", None)
        for dotted, cls, attr in self._methods:
            if getattr(arg, "__name__", None) == attr and isinstance(owner, cls):
                return dotted
        return None

    def _hook(self, frame: FrameType, event: str, arg: Any) -> None:
        hit = self._match(frame, event, arg)
        if hit is not None:
            self.violations.append(hit)
            raise ForbiddenCall(hit)  # the hook is switched off by this; __exit__ still knows

    def _blocked(self, dotted: str) -> Any:
        def blocked(*args: Any, **kwargs: Any) -> Any:
            self.violations.append(dotted)
            raise ForbiddenCall(dotted)

        blocked.__name__ = dotted.rsplit(".", 1)[-1]
        return blocked

    # -------------------------------------------------------------------- the block
    def __enter__(self) -> forbid:
        self._targets = [_resolve(name) for name in self.names]
        if not self.names:
            return self
        self._index()
        for dotted, (owner, attr, target) in zip(self.names, self._targets, strict=True):
            if not isinstance(target, _PATCHABLE):
                continue  # e.g. a torch.ops operator, whose attributes callers use: hook only
            own = isinstance(owner, type) and attr in vars(owner)
            self._patched.append((owner, attr, target, own or not isinstance(owner, type)))
            setattr(owner, attr, self._blocked(dotted))
        self._previous = sys.getprofile(), threading.getprofile()
        threading.setprofile(self._hook)
        sys.setprofile(self._hook)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if not self.names:
            return
        sys.setprofile(self._previous[0])
        threading.setprofile(self._previous[1])
        for owner, attr, original, was_own in reversed(self._patched):
            if was_own:
                setattr(owner, attr, original)
            else:  # the method was inherited: remove the shadowing attribute
                delattr(owner, attr)
        self._patched.clear()
        if self.violations and not isinstance(error, ForbiddenCall):
            raise ForbiddenCall(self.violations[0]) from None
