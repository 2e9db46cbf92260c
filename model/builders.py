"""Fast positional constructors for the frozen, slotted record dataclasses (hot paths only).

A frozen dataclass's `__init__` takes keyword arguments and sets every field through
`object.__setattr__` (frozen forbids plain assignment): ≈ 2–3 µs for a 13-field `Ticker`,
more than parsing the message it comes from. `positional(cls, names)` returns a function
taking the `names` fields positionally that fills the same slots with plain assignments on
a private twin class (the same `__slots__`, no frozen `__setattr__`) and then makes the
object a `cls` (`__class__` assignment, allowed because the two layouts are identical):
≈ 0.2 µs, the same object `cls(**fields)` gives, compared equal, hashed and encoded alike.

Invariants: every slot is set (the fields not in `names` take their declared default, so a
class with a `default_factory` or without a default for an omitted field is refused);
nothing is checked — these records validate nothing in `__init__` either (no
`__post_init__`: refused too), so a builder may only be used where the values were
already parsed and checked, as the venue parsers do. tests/unit/test_builders.py compares
builders with `cls(**fields)`.
"""

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def positional(cls: type[T], names: tuple[str, ...]) -> Callable[..., T]:
    """A constructor `build(*values)` for the fields `names` of the frozen slotted
    dataclass `cls`, in that order; the other fields get their defaults."""
    if not dataclasses.is_dataclass(cls) or not hasattr(cls, "__slots__") or "__dict__" in dir(cls):
        raise TypeError(f"{cls.__name__}: not a slotted dataclass")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} validates in __post_init__: build it with its __init__")
    fields = dataclasses.fields(cls)
    unknown = set(names) - {f.name for f in fields}
    if unknown:
        raise TypeError(f"{cls.__name__} has no field {sorted(unknown)}")
    slots = tuple(getattr(cls, "__slots__"))  # noqa: B009 — typed as type[T], which declares no __slots__
    if slots != tuple(f.name for f in fields):
        raise TypeError(f"{cls.__name__}: slots {slots} are not its fields")
    defaults: dict[str, Any] = {}
    lines = []
    for f in fields:
        if f.name in names:
            lines.append(f"    self.{f.name} = {f.name}")
            continue
        if f.default is dataclasses.MISSING:
            raise TypeError(f"{cls.__name__}.{f.name} has no default: pass it")
        defaults[f"_default_{f.name}"] = f.default
        lines.append(f"    self.{f.name} = _default_{f.name}")
    twin = type(f"_{cls.__name__}Builder", (), {"__slots__": slots})
    source = (f"def build({', '.join(names)}):\n    self = _new(_twin)\n" + "\n".join(lines)
              + "\n    self.__class__ = _cls\n    return self\n")
    namespace: dict[str, Any] = {"_new": object.__new__, "_twin": twin, "_cls": cls, **defaults}
    exec(source, namespace)  # the source is built from the dataclass's own field names
    build: Callable[..., T] = namespace["build"]
    build.__doc__ = f"{cls.__name__}({', '.join(names)}) positionally, the other fields at their defaults."
    return build
