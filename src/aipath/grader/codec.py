"""The values that cross between the trusted check process and the confined learner process.

A small tagged binary encoding, written here rather than borrowed, because the one property that
matters is what the *decoder* can build: the trusted side decodes bytes that learner code wrote,
so it must never run code chosen by them.  Plain ``pickle`` would (``__reduce__``), and so would
``np.load(allow_pickle=True)``.  This decoder builds only:

- ``None``, ``bool``, ``int``, ``float``, ``complex``, ``str``, ``bytes``;
- ``list``, ``tuple``, ``dict`` and ``collections.Counter`` (keys of the hashable kinds above),
  ``set`` and ``frozenset`` (members of those kinds), ``slice`` (``ctrs[:] = …`` on a learner's
  array held in its process);
- NumPy's own functions (``np.mean``, ufuncs), by name: the decoder looks the name up in
  ``numpy`` and accepts only a ufunc or array function found there;
- NumPy random generators (``Generator``), as their bit generator's kind and state, or, for a
  generator of the checks, as a numbered mirror with its state (``grader/mirrors.py``): the
  decoder's ``on_mirror`` says which generator the number is;
- NumPy arrays and scalars of an allowlisted dtype (bools, integers, floats, complex, fixed-width
  strings, datetimes): dtype text + shape + raw little-endian buffer; arrays of ``object`` dtype
  element by element (each element decoded by the same rules);
- pandas ``DataFrame``, ``Series`` and ``Index`` rebuilt from such arrays (dtype names from an
  allowlist), when pandas is imported;
- torch tensors of an allowlisted dtype, through NumPy, when torch is imported;
- handles: an object stays in the process that owns it and the other side gets a numbered
  handle (``Handle``) whose meaning the caller of :func:`decode` decides;
- in one direction only, from the checks to learner code: a check's own object as a copy
  (``Copied``, its pickle), decoded only where ``accept_copies`` is set (the learner's side).

Anything else the encoder meets becomes a handle (see :class:`Encoder`).  Every length, count
and nesting depth is bounded, every tag is checked and trailing bytes are an error: a garbled
or malicious message raises :class:`DecodeError`, never builds something half-valid.
"""

from __future__ import annotations

import importlib
import io
import math
import pickle
import re
import struct
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_DEPTH = 64
MAX_ITEMS = 50_000_000
MAX_MESSAGE_BYTES = 1 << 30
"""A message (one call's arguments or result) is at most 1 GiB; a lab's data is far smaller."""

_DTYPE = re.compile(
    r"^[<|](b1|i[1248]|u[1248]|f[248]|c(8|16)|U\d{1,6}|S\d{1,6}|[Mm]8(\[[a-z]{1,2}\])?)$"
)
"""The dtypes an array may have on the wire: plain numbers, fixed-width text, datetimes."""

_PANDAS_DTYPES = frozenset(
    {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
     "float32", "float64", "complex128", "object", "str", "string", "category", "boolean",
     "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64",
     "Float32", "Float64"}
)  # fmt: skip
"""pandas column dtypes rebuilt with ``astype(name)`` (datetimes travel as numpy datetime64)."""

_TORCH_DTYPES = frozenset(
    {"float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
     "bool", "complex64", "complex128"}
)  # fmt: skip


BIT_GENERATORS = frozenset({"PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937"})
"""NumPy random generators travel as their bit generator's name and state (plain data): the
other side builds a fresh ``Generator`` of that kind and sets the state, which NumPy checks."""


class DecodeError(ValueError):
    """The bytes are not a message this protocol allows (garbled, forged or over a limit)."""


class EncodeError(TypeError):
    """A value cannot be sent this way (a caller that allows no handles met a non-data object)."""


@dataclass(frozen=True)
class Handle:
    """A numbered object that lives in one of the two processes.

    ``mine`` says where the object lives: in the process that *decodes* the message (the
    sender passes back a handle it had received) or, False, in the sender's own table.  ``kind``
    is a short description of the object ("function pairwise_distances"), ``flags`` the
    protocols its type supports (the ``FLAG_*`` bits), so a proxy for it supports the same, and
    ``origin`` where its type is defined ("sklearn.pipeline:Pipeline"), so that ``isinstance`` in
    a check can recognise a library object (see :func:`aipath.grader.remote.library_class`).
    """

    id: int
    mine: bool
    kind: str = ""
    flags: int = 0
    origin: str = ""  # "module:qualname" of the object's type, as its own process reports it


FLAG_CALL = 1
FLAG_LEN = 2
FLAG_GETITEM = 4
FLAG_ITER = 8
FLAG_BOOL = 16
FLAG_FUNCTION = 32
FLAG_SHARED = 64
"""A handle's ``flags``: what ``type(obj)`` defines (``__call__``, ``__len__``, …); FUNCTION
marks a Python function, whose source the other side may look up in the learner's file; SHARED
marks a check's object that learner code uses by reference (``aipath.checks.by_reference``): its
public attributes and methods answer from the check's process."""

BY_REFERENCE = "_aipath_by_reference"
"""The class attribute ``aipath.checks.by_reference`` sets: the class's objects cross to learner
code as SHARED handles instead of copies."""


_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_F64 = struct.Struct("<d")
_C128 = struct.Struct("<dd")


class _CopyReader(pickle.Unpickler):
    """Unpickles a copy from the trusted side (only ever on the learner's side).

    The objects it held of this side come back as themselves, and the check's own functions in
    it as handles the learner may call (``TrustedPeer.copy_for_learner`` writes them so).
    """

    def __init__(self, file: io.BytesIO, on_handle: Callable[[Handle], Any]) -> None:
        super().__init__(file)
        self._handles = on_handle

    def persistent_load(self, pid: Any) -> Any:
        if not isinstance(pid, tuple) or len(pid) not in (3, 5) or not isinstance(pid[1], int):
            raise DecodeError("a copy that refers to an object in an unknown way")
        mine = pid[0] == "r"
        if len(pid) == 5:  # a check's object used by reference: ("s", id, kind, flags, origin)
            flags = pid[3] if type(pid[3]) is int else 0
            return self._handles(Handle(pid[1], False, str(pid[2]), flags & 0xFF, str(pid[4])))
        return self._handles(Handle(pid[1], mine, str(pid[2]), 0 if mine else FLAG_CALL))


@dataclass(frozen=True)
class Copied:
    """A check's own object sent to the learner's process as a copy: its pickle.

    Only the trusted side makes these, and only the learner's side accepts them (``Decoder(...,
    accept_copies=True)``): learner code may run whatever the checks send it, but nothing the
    learner's process sends is ever unpickled where the verdict is decided.
    """

    data: bytes


class Encoder:
    """Turns a value into bytes; ``handle_of`` decides what a non-data object becomes.

    ``handle_of(obj)`` returns the :class:`Handle` to send instead (registering the object in its
    owner's table), or raises :class:`EncodeError`.  The encoder runs on both sides; only the
    decoder has to distrust its input.
    """

    def __init__(
        self,
        handle_of: Callable[[Any], Handle | Copied],
        mirror_of: Callable[[Any], int | None] | None = None,
    ) -> None:
        self._handle_of = handle_of
        self._mirror_of = mirror_of  # a generator's mirror number (None: it crosses as a copy)
        self._parts: list[bytes] = []

    def encode(self, value: Any) -> bytes:
        self._parts = []
        self._value(value, 0)
        data = b"".join(self._parts)
        self._parts = []
        return data

    def _put(self, data: bytes) -> None:
        self._parts.append(data)

    def _text(self, tag: bytes, data: bytes) -> None:
        self._put(tag + _U32.pack(len(data)) + data)

    def _value(self, value: Any, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise EncodeError("a value nested more than 64 levels deep")
        kind = type(value)
        if value is None:
            self._put(b"N")
        elif kind is bool:
            self._put(b"T" if value else b"F")
        elif kind is int:
            self._int(value)
        elif kind is float:
            self._put(b"f" + _F64.pack(value))
        elif kind is complex:
            self._put(b"c" + _C128.pack(value.real, value.imag))
        elif kind is str:
            self._text(b"s", value.encode("utf-8", "surrogatepass"))
        elif kind is bytes:
            self._text(b"b", value)
        elif kind is list or kind is tuple:
            self._put((b"l" if kind is list else b"t") + _U32.pack(len(value)))
            for item in value:
                self._value(item, depth + 1)
        elif kind is dict or kind is Counter:
            self._put((b"d" if kind is dict else b"K") + _U32.pack(len(value)))
            for key, item in value.items():
                self._value(key, depth + 1)
                self._value(item, depth + 1)
        elif kind is set or kind is frozenset:
            self._put((b"E" if kind is set else b"Z") + _U32.pack(len(value)))
            for item in value:
                self._value(item, depth + 1)
        elif kind is slice:
            self._put(b"L")
            for part in (value.start, value.stop, value.step):
                self._value(part, depth + 1)
        elif kind is Handle:  # an object its owner put in its table on purpose (``hold``)
            self._handle(value)
        elif not self._library_value(value, depth):
            sent = self._handle_of(value)
            if isinstance(sent, Copied):
                self._put(b"Q" + _U64.pack(len(sent.data)) + sent.data)
            else:
                self._handle(sent)

    def _int(self, value: int) -> None:
        size = max(1, (value.bit_length() + 8) // 8)
        self._text(b"i", value.to_bytes(size, "little", signed=True))

    def _handle(self, handle: Handle) -> None:
        tag = b"r" if handle.mine else b"h"
        kind = handle.kind.encode("utf-8", "replace")[:200]
        origin = handle.origin.encode("utf-8", "replace")[:300]
        flags = bytes([handle.flags & 0xFF])
        self._put(
            tag
            + _U64.pack(handle.id)
            + flags
            + _U32.pack(len(kind))
            + kind
            + _U32.pack(len(origin))
            + origin
        )

    def _library_value(self, value: Any, depth: int) -> bool:
        """NumPy, pandas and torch values by value; False when ``value`` is none of those."""
        if getattr(type(value), "_aipath_is_proxy", False):
            return False  # the other side's object goes back as its handle, whatever it claims
        numpy = sys.modules.get("numpy")
        if numpy is None:
            return False
        if isinstance(value, numpy.ndarray) and not isinstance(value, numpy.ma.MaskedArray):
            return self._array(numpy, numpy.asarray(value), depth)
        if isinstance(value, numpy.generic):
            array = numpy.asarray(value)
            text = _dtype_text(array.dtype)
            if text is None:
                return False
            self._text(b"g", text.encode("ascii"))
            self._text(b"b", numpy.ascontiguousarray(array).tobytes())
            return True
        name = _numpy_function_name(numpy, value)
        if name is not None:
            self._text(b"U", name.encode("ascii"))
            return True
        wire = _dtype_wire(numpy, value)
        if wire is not None:
            self._text(b"Y", wire)
            return True
        if type(value) is numpy.random.Generator:
            bits = value.bit_generator
            name = type(bits).__name__
            if name not in BIT_GENERATORS:
                return False
            number = None if self._mirror_of is None else self._mirror_of(value)
            if number is None:
                self._text(b"G", name.encode("ascii"))
            else:
                self._put(b"W" + _U64.pack(number))
                self._text(b"s", name.encode("ascii"))
            self._value(bits.state, depth + 1)
            return True
        pandas = sys.modules.get("pandas")
        if pandas is not None and self._pandas(pandas, value, depth):
            return True
        torch = sys.modules.get("torch")
        if torch is not None and type(value) is torch.Tensor:
            name = str(value.dtype).removeprefix("torch.")
            if name not in _TORCH_DTYPES or value.layout != torch.strided:
                return False
            plain = value.detach().cpu()
            if name == "bfloat16":
                plain = plain.float()
            self._text(b"P", name.encode("ascii"))
            self._put(b"T" if value.requires_grad else b"F")
            return self._array(numpy, plain.contiguous().numpy(), depth)
        return False

    def _array(self, numpy: Any, array: Any, depth: int) -> bool:
        if array.dtype == object and self._strings(numpy, array):
            return True
        if array.dtype == object:
            self._put(b"O" + bytes([array.ndim]) + b"".join(_U64.pack(n) for n in array.shape))
            for item in array.ravel(order="C"):
                self._value(item, depth + 1)
            return True
        text = _dtype_text(array.dtype)
        if text is None:
            return False
        data = numpy.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False)
        self._text(b"a", text.encode("ascii"))
        self._put(bytes([array.ndim]) + b"".join(_U64.pack(n) for n in array.shape))
        self._put(_U64.pack(data.nbytes))
        self._put(data.tobytes(order="C"))
        return True

    def _strings(self, numpy: Any, array: Any) -> bool:
        """An object array of str, None and NaN (the missing value of a pandas text column)
        as a fixed-width text array and two masks: a text column of a few hundred thousand
        rows then crosses through NumPy's C loops, not item by item."""
        pandas = sys.modules.get("pandas")
        if pandas is None or array.size == 0:
            return False
        flat = array.ravel(order="C")
        if pandas.api.types.infer_dtype(flat, skipna=True) != "string":
            return False
        missing = pandas.isna(flat)
        none = numpy.equal(flat, None) & missing
        if not all(_is_nan(item) for item in flat[missing & ~none]):
            return False  # pd.NA or NaT among the strings: item by item
        text = numpy.where(missing, "", flat).astype(str)
        self._put(b"V" + bytes([array.ndim]) + b"".join(_U64.pack(n) for n in array.shape))
        for part in (text, none, missing & ~none):
            self._array(numpy, part, 0)
        return True

    def _pandas(self, pandas: Any, value: Any, depth: int) -> bool:
        if type(value) is pandas.DataFrame:
            if not all(_pandas_dtype(value[c]) for c in value.columns) or (
                value.columns.duplicated().any()
            ):
                return False
            self._put(b"D")
            self._index(pandas, value.columns, depth)
            self._index(pandas, value.index, depth)
            for position in range(value.shape[1]):
                self._column(value.iloc[:, position], depth)
            return True
        if type(value) is pandas.Series:
            if not _pandas_dtype(value):
                return False
            self._put(b"S")
            self._value(value.name, depth + 1)
            self._index(pandas, value.index, depth)
            self._column(value, depth)
            return True
        if isinstance(value, pandas.Index) and not isinstance(value, pandas.MultiIndex):
            self._index(pandas, value, depth)
            return True
        return False

    def _column(self, column: Any, depth: int) -> None:
        name = str(column.dtype)
        self._text(b"s", name.encode("ascii"))
        if name == "category":
            self._value(column.astype(object).to_numpy(dtype=object, na_value=None), depth + 1)
            # the categories in their order, and whether they are ordered: the codes a model
            # sees (XGBoost's categorical splits) depend on that order
            categories = column.cat.categories
            self._value(categories.astype(object).to_numpy(dtype=object), depth + 1)
            self._value(bool(column.cat.ordered), depth + 1)
        elif (
            name.startswith("datetime64")
            or name.startswith("timedelta64")
            or (column.dtype.kind in "biufc" and name[0].islower())
        ):
            self._value(column.to_numpy(), depth + 1)
        else:
            self._value(column.to_numpy(dtype=object, na_value=None), depth + 1)

    def _index(self, pandas: Any, index: Any, depth: int) -> None:
        if type(index) is pandas.RangeIndex:
            self._put(b"R")
            self._value([index.start, index.stop, index.step, index.name], depth + 1)
            return
        freq = getattr(index, "freqstr", None) if type(index) is pandas.DatetimeIndex else None
        if isinstance(freq, str) and _FREQ.match(freq):
            # A date index keeps its frequency ("MS", "D"): learner code that builds the next
            # dates from history.index.freq must see it, as it would in one process.
            self._put(b"J")
            self._value(index.name, depth + 1)
            self._text(b"s", freq.encode("ascii"))
        else:
            self._put(b"I")
            self._value(index.name, depth + 1)
        self._column(pandas.Series(index, copy=False), depth)


def _numpy_function_name(numpy: Any, value: Any) -> str | None:
    """``"mean"`` for ``np.mean``: a NumPy function crosses by name, not as a handle.

    A check's ``statistic=np.mean`` is then called in the learner process itself, not once
    per resample across the socket.
    """
    if not isinstance(value, _numpy_function_types(numpy)):
        return None
    name = getattr(value, "__name__", None)
    if not isinstance(name, str) or name.startswith("_") or not name.isidentifier():
        return None
    return name if getattr(numpy, name, None) is value else None


def _numpy_function_types(numpy: Any) -> tuple[type, ...]:
    kinds: list[type] = [numpy.ufunc, type(numpy.mean)]
    return tuple(kinds)


def _dtype_text(dtype: Any) -> str | None:
    """The wire name of a NumPy dtype (little-endian), or None when it may not travel."""
    if dtype.fields is not None or dtype.hasobject or dtype.subdtype is not None:
        return None
    text = str(dtype.newbyteorder("<").str) if dtype.byteorder != "|" else str(dtype.str)
    return text if _DTYPE.match(text) else None


def _dtype_wire(numpy: Any, value: Any) -> bytes | None:
    """A NumPy dtype (b"d…") or a scalar type that is a dtype's own type, such as numpy.float64,
    scikit-learn's ``dtype=`` parameter (b"t…"), by its wire name; None for anything else."""
    if isinstance(value, numpy.dtype):
        kind, dtype = b"d", value
    elif (
        isinstance(value, type)
        and issubclass(value, numpy.generic)
        and value not in (numpy.object_, numpy.void)
    ):
        try:
            dtype = numpy.dtype(value)
        except TypeError:
            return None
        if dtype.type is not value:
            return None  # an abstract type (numpy.floating): no dtype of its own
        kind = b"t"
    else:
        return None
    text = _dtype_text(dtype)
    return None if text is None else kind + text.encode("ascii")


def _pandas_dtype(column: Any) -> bool:
    name = str(column.dtype)
    return name in _PANDAS_DTYPES or bool(re.match(r"^(datetime|timedelta)64\[[a-z]{1,2}\]$", name))


_TAGS = tuple(bytes([n]) for n in range(256))


class Decoder:
    """Builds values from bytes by the rules above; ``on_handle`` turns a Handle into an object."""

    def __init__(
        self,
        on_handle: Callable[[Handle], Any],
        *,
        accept_copies: bool = False,
        on_mirror: Callable[[int, str, Any], Any] | None = None,
    ) -> None:
        self._on_handle = on_handle
        self._accept_copies = accept_copies
        self._on_mirror = on_mirror  # (number, bit generator name, state) → the generator
        self._data = memoryview(b"")
        self._pos = 0
        self._items = 0

    def decode(self, data: bytes) -> Any:
        if len(data) > MAX_MESSAGE_BYTES:
            raise DecodeError("message over the size limit")
        self._data = memoryview(data)
        self._pos = 0
        self._items = 0
        try:
            value = self._value(0)
        except (struct.error, UnicodeDecodeError, OverflowError, MemoryError) as exc:
            raise DecodeError(f"malformed message: {exc}") from None
        if self._pos != len(self._data):
            raise DecodeError("trailing bytes after the message")
        return value

    # ----- primitives -----------------------------------------------------------------------
    def _take(self, size: int) -> memoryview:
        end = self._pos + size
        if size < 0 or end > len(self._data):
            raise DecodeError("message cut short")
        chunk = self._data[self._pos : end]
        self._pos = end
        return chunk

    def _u32(self) -> int:
        return int(_U32.unpack(self._take(4))[0])

    def _u64(self) -> int:
        return int(_U64.unpack(self._take(8))[0])

    def _sized(self) -> memoryview:
        return self._take(self._u32())

    def _count(self, n: int) -> int:
        self._items += n
        if self._items > MAX_ITEMS:
            raise DecodeError("too many items in one message")
        return n

    def _expect(self, tag: bytes) -> None:
        if bytes(self._take(1)) != tag:
            raise DecodeError(f"expected {tag!r}")

    def _ascii(self, tag: bytes) -> str:
        self._expect(tag)
        text = bytes(self._sized())
        if not text.isascii():
            raise DecodeError("a type name must be ASCII")
        return text.decode("ascii")

    # ----- values ---------------------------------------------------------------------------
    def _value(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise DecodeError("nested too deep")
        pos = self._pos
        if pos >= len(self._data):
            raise DecodeError("message cut short")
        data = self._data
        tag = _TAGS[data[pos]]  # one byte, without a slice and a bytes() per value
        self._pos = pos + 1
        if tag == b"s" or tag == b"i":  # the most common values, read in place
            if pos + 5 > len(data):
                raise DecodeError("message cut short")
            end = pos + 5 + _U32.unpack_from(data, pos + 1)[0]
            if end > len(data):
                raise DecodeError("message cut short")
            self._pos = end
            if tag == b"s":
                return str(data[pos + 5 : end], "utf-8", "surrogatepass")
            if end - pos - 5 > 4096:
                raise DecodeError("integer too large")
            return int.from_bytes(data[pos + 5 : end], "little", signed=True)
        if tag == b"N":
            return None
        if tag == b"T":
            return True
        if tag == b"F":
            return False
        if tag == b"i":
            raw = self._sized()
            if len(raw) > 4096:
                raise DecodeError("integer too large")
            return int.from_bytes(raw, "little", signed=True)
        if tag == b"f":
            return float(_F64.unpack(self._take(8))[0])
        if tag == b"c":
            real, imag = _C128.unpack(self._take(16))
            return complex(real, imag)
        if tag == b"s":
            return bytes(self._sized()).decode("utf-8", "surrogatepass")
        if tag == b"b":
            return bytes(self._sized())
        if tag in (b"l", b"t"):
            n = self._count(self._u32())
            items = [self._value(depth + 1) for _ in range(n)]
            return items if tag == b"l" else tuple(items)
        if tag == b"L":
            start, stop, step = (self._value(depth + 1) for _ in range(3))
            return slice(start, stop, step)
        if tag in (b"d", b"K"):
            n = self._count(self._u32())
            result: dict[Any, Any] = {} if tag == b"d" else Counter()
            for _ in range(n):
                key = self._value(depth + 1)
                if not _hashable(key):
                    raise DecodeError("a dict key of an unhashable kind")
                result[key] = self._value(depth + 1)
            return result
        if tag in (b"E", b"Z"):
            n = self._count(self._u32())
            members = []
            for _ in range(n):
                member = self._value(depth + 1)
                if not _hashable(member):
                    raise DecodeError("a set member of an unhashable kind")
                members.append(member)
            return set(members) if tag == b"E" else frozenset(members)
        if tag == b"Q":
            if not self._accept_copies:
                raise DecodeError("a pickled object, which only the checks' side may send")
            size = self._u64()
            return _CopyReader(io.BytesIO(bytes(self._take(size))), self._on_handle).load()
        if tag in (b"h", b"r"):
            ident = self._u64()
            flags = bytes(self._take(1))[0]
            kind = bytes(self._sized()).decode("utf-8", "replace")
            origin = bytes(self._sized()).decode("utf-8", "replace")
            return self._on_handle(Handle(ident, tag == b"r", kind, flags, origin))
        if tag in (b"a", b"O", b"g"):
            return self._numpy(tag, depth)
        if tag == b"V":
            return self._strings()
        if tag in (b"D", b"S", b"I", b"J", b"R"):
            return self._pandas(tag, depth)
        if tag == b"P":
            return self._tensor(depth)
        if tag == b"G":
            return self._generator(depth)
        if tag == b"W":
            number = self._u64()
            name = self._ascii(b"s")
            state = self._value(depth + 1)
            if self._on_mirror is None:
                raise DecodeError("a mirrored random generator where none may cross")
            return self._on_mirror(number, name, state)
        if tag == b"Y":
            return self._dtype()
        if tag == b"U":
            import numpy as np

            name = bytes(self._sized()).decode("ascii", "strict")
            found = getattr(np, name, None) if name.isidentifier() else None
            if name.startswith("_") or not isinstance(found, _numpy_function_types(np)):
                raise DecodeError(f"no NumPy function {name!r}")
            return found
        raise DecodeError(f"unknown tag {tag!r}")

    def _dtype(self) -> Any:
        import numpy as np

        text = bytes(self._sized()).decode("ascii", "strict")
        kind, name = text[:1], text[1:]
        if kind not in ("d", "t") or not _DTYPE.match(name):
            raise DecodeError(f"dtype {text!r} may not cross")
        dtype = np.dtype(name)
        return dtype if kind == "d" else dtype.type

    def _generator(self, depth: int) -> Any:
        name = bytes(self._sized()).decode("ascii", "strict")
        return build_generator(name, self._value(depth + 1))

    def _shape(self) -> tuple[int, ...]:
        ndim = bytes(self._take(1))[0]
        if ndim > 32:
            raise DecodeError("too many dimensions")
        shape = tuple(self._u64() for _ in range(ndim))
        if math.prod(shape) > MAX_ITEMS:
            raise DecodeError("array too large")
        return shape

    def _numpy(self, tag: bytes, depth: int) -> Any:
        import numpy as np

        if tag == b"O":
            shape = self._shape()
            n = self._count(math.prod(shape))
            out = np.empty(n, dtype=object)
            for i in range(n):
                out[i] = self._value(depth + 1)
            return out.reshape(shape)
        text = bytes(self._sized()).decode("ascii", "strict")
        if not _DTYPE.match(text):
            raise DecodeError(f"dtype {text!r} may not cross")
        dtype = np.dtype(text)
        if tag == b"g":
            self._expect(b"b")
            raw = self._sized()
            if len(raw) != dtype.itemsize:
                raise DecodeError("scalar of the wrong size")
            return np.frombuffer(bytes(raw), dtype=dtype)[0]
        shape = self._shape()
        nbytes = self._u64()
        if nbytes != math.prod(shape) * dtype.itemsize:
            raise DecodeError("array buffer of the wrong size")
        self._count(math.prod(shape))
        raw = self._take(nbytes)
        return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()

    def _strings(self) -> Any:
        import numpy as np

        shape = self._shape()
        n = math.prod(shape)
        text, none, nan = (self._value(MAX_DEPTH) for _ in range(3))
        if not (
            isinstance(text, np.ndarray)
            and text.dtype.kind == "U"
            and isinstance(none, np.ndarray)
            and isinstance(nan, np.ndarray)
            and none.dtype == bool
            and nan.dtype == bool
            and text.size == none.size == nan.size == n
        ):
            raise DecodeError("a malformed block of strings")
        out = text.ravel().astype(object)
        out[none.ravel()] = None
        out[nan.ravel()] = math.nan
        return out.reshape(shape)

    def _tensor(self, depth: int) -> Any:
        torch = sys.modules.get("torch")
        name = bytes(self._sized()).decode("ascii", "strict")
        grad = bytes(self._take(1))
        array = self._value(depth + 1)
        if torch is None or name not in _TORCH_DTYPES or grad not in (b"T", b"F"):
            raise DecodeError("a tensor this side cannot build")
        import numpy as np

        if not isinstance(array, np.ndarray) or array.dtype == object:
            raise DecodeError("a tensor must carry a numeric array")
        tensor = torch.from_numpy(array).to(getattr(torch, name))
        if grad == b"T":
            tensor.requires_grad_(True)
        return tensor

    def _pandas(self, tag: bytes, depth: int) -> Any:
        pandas: Any = sys.modules.get("pandas")
        if pandas is None:
            pandas = importlib.import_module("pandas")
        if tag in (b"I", b"J", b"R"):
            self._pos -= 1
            return self._index(pandas, depth)
        if tag == b"S":
            name = self._value(depth + 1)
            if not _hashable(name):
                raise DecodeError("a Series name of an unhashable kind")
            index = self._index(pandas, depth)
            series = self._column(pandas, depth, index)
            series.name = name
            return series
        columns = self._index(pandas, depth)
        index = self._index(pandas, depth)
        data = {position: self._column(pandas, depth, index) for position in range(len(columns))}
        frame = pandas.DataFrame(data, copy=False) if data else pandas.DataFrame(index=index)
        frame.columns = columns
        return frame

    def _column(self, pandas: Any, depth: int, index: Any = None) -> Any:
        """One column (a Series); ``index`` replaces its positions (set, never aligned)."""
        name = self._ascii(b"s")
        values = self._value(depth + 1)
        import numpy as np

        if not isinstance(values, np.ndarray) or values.ndim != 1:
            raise DecodeError("a column must be a 1-D array")
        if (
            values.dtype == object
            and pandas.api.types.infer_dtype(values, skipna=True) not in ("string", "empty")
            and not all(_plain(item) for item in values)
        ):
            raise DecodeError("a column of objects holds something other than plain values")
        dated = re.match(r"^(datetime|timedelta)64\[[a-z]{1,2}\]$", name)
        if name not in _PANDAS_DTYPES and not dated:
            raise DecodeError(f"column dtype {name!r} may not cross")
        series = pandas.Series(values, copy=False)
        if name == "category":
            categories, ordered = self._value(depth + 1), self._value(depth + 1)
            if (
                not isinstance(categories, np.ndarray)
                or categories.ndim != 1
                or type(ordered) is not bool
                or not all(_plain(item) and _hashable(item) for item in categories)
            ):
                raise DecodeError("a category column without plain categories")
            try:
                series = series.astype(pandas.CategoricalDtype(list(categories), ordered=ordered))
            except (TypeError, ValueError) as exc:
                raise DecodeError(f"a category column that cannot be rebuilt: {exc}") from exc
        elif str(series.dtype) != name:
            series = series.astype(name)
        if index is not None:
            if len(index) != len(series):
                raise DecodeError("a column whose length is not its index's")
            series.index = index
        return series

    def _index(self, pandas: Any, depth: int) -> Any:
        tag = bytes(self._take(1))
        if tag == b"R":
            parts = self._value(depth + 1)
            if (
                not isinstance(parts, list)
                or len(parts) != 4
                or not all(type(p) is int for p in parts[:3])
                or not _hashable(parts[3])
            ):
                raise DecodeError("a malformed RangeIndex")
            start, stop, step, name = parts
            if step == 0:
                raise DecodeError("a RangeIndex with step 0")
            return pandas.RangeIndex(start, stop, step, name=name)
        if tag not in (b"I", b"J"):
            raise DecodeError("expected an index")
        name = self._value(depth + 1)
        if not _hashable(name):
            raise DecodeError("an index name of an unhashable kind")
        freq = self._ascii(b"s") if tag == b"J" else None
        if freq is not None and not _FREQ.match(freq):
            raise DecodeError("a malformed index frequency")
        index = pandas.Index(self._column(pandas, depth), name=name, copy=False)
        if freq is None:
            return index
        if type(index) is not pandas.DatetimeIndex:
            raise DecodeError("a frequency on an index that holds no dates")
        try:
            return pandas.DatetimeIndex(index, freq=freq)
        except (ValueError, TypeError) as exc:
            raise DecodeError(f"dates that do not follow their frequency {freq!r}") from exc


_FREQ = re.compile(r"^[A-Za-z0-9-]{1,32}$")
"""What a date index's frequency may look like on the wire ("MS", "D", "15min", "W-SUN")."""


def build_generator(name: str, state: Any) -> Any:
    """A fresh ``numpy.random.Generator`` of bit generator ``name`` at ``state`` (checked)."""
    import numpy as np

    if name not in BIT_GENERATORS or not isinstance(state, dict):
        raise DecodeError("a random generator this side does not build")
    bits = getattr(np.random, name)(0)  # seeded: no entropy drawn for a state set next
    try:
        bits.state = state
    except (TypeError, ValueError, KeyError) as exc:
        raise DecodeError(f"a random generator's state NumPy refuses: {exc}") from None
    return np.random.Generator(bits)


def _is_nan(value: Any) -> bool:
    return type(value) is float and value != value


def _hashable(value: Any) -> bool:
    if value is None or type(value) in (bool, int, float, complex, str, bytes):
        return True
    if type(value) is tuple or type(value) is frozenset:
        return all(_hashable(item) for item in value)
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(value, numpy.generic)


def _plain(value: Any) -> bool:
    """An element a pandas column of objects may hold: a scalar, never a handle or container."""
    return _hashable(value)
