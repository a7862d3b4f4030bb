"""Scalar argument checks shared by every public entry point.

Each check returns the value in its working type or raises before any work: `TypeError` when the
argument is not of the kind asked for (a float or bool given as a count, a string given as a
number), `ValueError` when it is of the right kind but out of range or not finite. Messages name
the argument, say what was expected and show what was given. Array arguments are checked at the
array boundary (`_arrays.as_operand`, `_arrays.host_array`).
"""

from __future__ import annotations

import math
import numbers
import operator
from typing import Any, Optional, Sequence

import numpy as np

#: The largest count the compiled kernels take (their int arguments are 32-bit).
INT32_MAX = 2**31 - 1


def integer(value: Any, name: str, *, minimum: Optional[int] = None,
            maximum: Optional[int] = None) -> int:
    """`value` as an int: TypeError unless it is an integer (bools and floats are not, even 4.0),
    ValueError outside [minimum, maximum]."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got bool {value!r}")
    try:
        result = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {describe(value)}") from None
    if (minimum is not None and result < minimum) or (maximum is not None and result > maximum):
        raise ValueError(f"{name} must be an integer {_interval(minimum, maximum)}, got {result}")
    return result


def real(value: Any, name: str, *, minimum: Optional[float] = None,
         maximum: Optional[float] = None, above: bool = False, below: bool = False) -> float:
    """`value` as a float: TypeError unless it is a real number (not a bool, string or complex),
    ValueError unless it is finite and within the bounds (`above` / `below`: strictly)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {describe(value)}")
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(f"{name} must be a finite number, got {result}")
    too_low = minimum is not None and (result <= minimum if above else result < minimum)
    too_high = maximum is not None and (result >= maximum if below else result > maximum)
    if too_low or too_high:
        raise ValueError(f"{name} must be a finite number "
                         f"{_interval(minimum, maximum, above, below)}, got {value!r}")
    return result


def sizes(value: Any, name: str, *, minimum: int = 1,
          lengths: Optional[Sequence[int]] = None) -> tuple:
    """`value` (an image's or volume's shape) as a tuple of ints: TypeError unless a sequence of
    integers, ValueError if it is empty, a size is below `minimum`, or (given `lengths`) it has
    another number of sizes."""
    try:
        items = None if isinstance(value, (str, bytes)) else list(value)
    except TypeError:
        items = None
    if items is None:
        raise TypeError(f"{name} must be a sequence of integer sizes, got {describe(value)}")
    result = tuple(integer(size, f"{name}[{axis}]") for axis, size in enumerate(items))
    if not result or (lengths is not None and len(result) not in lengths):
        counts = "at least 1" if lengths is None else " or ".join(map(str, lengths))
        raise ValueError(f"{name} must have {counts} sizes, got {list(result)}")
    if min(result) < minimum:
        raise ValueError(f"{name} must be sizes >= {minimum}, got {list(result)}")
    return result


def choice(value: Any, name: str, options: Sequence[Any]) -> Any:
    """`value` itself; ValueError unless it is one of `options` (compared by equality, strings
    only with strings)."""
    for option in options:
        if type(value) is type(option) and value == option:
            return value
    listed = ", ".join(repr(option) for option in options)
    raise ValueError(f"{name} must be one of {listed}, got {describe(value)}")


def level_index(level: Any, count: int, name: str = "level") -> int:
    """A position in a list of `count` levels, negative counting from the end as in Python;
    TypeError unless an integer, ValueError outside -count..count-1 (the message gives the
    range)."""
    index = integer(level, name)
    if count == 0:
        raise ValueError(f"there is no {name} to choose: the hierarchy has no levels")
    if not -count <= index < count:
        raise ValueError(f"{name} must be in -{count}..{count - 1} (there are {count} levels), "
                         f"got {index}")
    return index


def describe(value: Any) -> str:
    """The type and a short repr of `value`, for messages."""
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{type(value).__name__} {text}"


def _interval(minimum: Optional[float], maximum: Optional[float], above: bool = False,
              below: bool = False) -> str:
    low = "(" if above else "["
    high = ")" if below else "]"
    if minimum is not None and maximum is not None:
        return f"in {low}{minimum}, {maximum}{high}"
    if minimum is not None:
        return f"{'>' if above else '>='} {minimum}"
    return f"{'<' if below else '<='} {maximum}"
