"""Calls across the boundary between the trusted check process and the confined learner process.

Both processes hold one end of a socket pair and speak in framed messages (an 8-byte length,
then a :mod:`aipath.grader.codec` value).  A message is a dict with an ``op``:

- requests: ``getattr``, ``call``, ``repr``, ``str``, ``len``, ``bool``, ``getitem``, ``iter``,
  ``source`` (trusted → learner, on objects of the learner process) and, learner → trusted,
  ``call`` on a callable a check passed to learner code, and ``getattr`` of a public name,
  ``call``, ``repr``, ``str``, ``len``, ``bool``, ``getitem`` and ``iter`` on an object of a class
  the checks marked :func:`aipath.checks.by_reference` (a scripted environment, a spy policy);
- the notification ``reseed`` (trusted → learner, before each check; no reply);
- replies: ``ok`` (``value``), ``raise`` (``error``: an exception described as plain data) and,
  from the learner process only, ``timeout`` (its alarm fired in the learner's code).

Each side answers the other's requests while it waits for its own reply, so a check's function
that learner code calls back (a ``lambda`` handed to ``numerical_gradient``) works, and so does
learner code that check code calls from inside such a callback.

What the learner process can do to the trusted one is therefore bounded by what the trusted side
accepts: values its strict decoder builds, exceptions it rebuilds from names and text (never from
learner classes), calls of the callables a check handed over, and the end of the conversation.
It has no way to reach the trusted side's modules, objects or files: a trusted handle answers
only ``call`` (and, for an object the checks share by reference, the lookup of a name without a
leading underscore), and what comes back is data, a copy, a function to call or another shared
object.
"""

from __future__ import annotations

import builtins
import contextlib
import copy
import importlib
import inspect
import io
import itertools
import os
import pickle
import socket
import struct
import sys
import traceback
import types
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NoReturn

from aipath.grader.codec import (
    BY_REFERENCE,
    FLAG_BOOL,
    FLAG_CALL,
    FLAG_FUNCTION,
    FLAG_GETITEM,
    FLAG_ITER,
    FLAG_LEN,
    FLAG_SHARED,
    MAX_MESSAGE_BYTES,
    Copied,
    DecodeError,
    Decoder,
    EncodeError,
    Encoder,
    Handle,
)
from aipath.grader.mirrors import GeneratorMirrors

_HEADER = struct.Struct("<Q")
MAX_ITER_ITEMS = 1_000_000
MAX_RAISED_KEPT = 256
"""Exceptions one side keeps to raise again as themselves (see :meth:`Peer.error_data`)."""
_RAISED_NUMBER = "_aipath_raised_number"
MAX_COPY_BYTES = MAX_MESSAGE_BYTES  # a check object copied to learner code: one message


class PeerGone(Exception):
    """The other process closed its end: it ended (or was killed) mid-conversation."""


class ProtocolError(Exception):
    """A message that is no part of the protocol: garbled, forged or out of turn."""


_SMALL = 1 << 16
"""A message up to this size goes out in one write with its header, and a read asks for this
much: a call and its reply are then one system call each way, and the other side wakes once."""


class Channel:
    """Framed messages over one connected stream socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._pending = bytearray()  # bytes read past the end of the last message

    def send(self, payload: bytes) -> None:
        header = _HEADER.pack(len(payload))
        try:
            if len(payload) <= _SMALL:
                self.sock.sendall(header + payload)
            else:  # no copy of a large array's bytes just to prepend eight
                self.sock.sendall(header)
                self.sock.sendall(payload)
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise PeerGone(str(exc)) from None

    def recv(self) -> bytes:
        size = int(_HEADER.unpack(self._exact(_HEADER.size))[0])
        if size > MAX_MESSAGE_BYTES:
            raise ProtocolError("a message over the size limit")
        return self._exact(size)

    def _exact(self, size: int) -> bytes:
        pending = self._pending
        while len(pending) < size:
            want = size - len(pending)
            try:
                chunk = self.sock.recv(max(want, _SMALL) if want <= _SMALL else want)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                raise PeerGone("the other process closed the connection")
            if not pending and len(chunk) == size:
                return chunk
            pending += chunk
        data = bytes(pending[:size])
        del pending[:size]
        return data


# ----- exceptions as data -----------------------------------------------------------------------
def exception_data(exc: BaseException, learner_path: str) -> dict[str, Any]:
    """What the other side needs to rebuild ``exc`` and describe it as the grader does today."""
    from aipath.grader.learnerframes import learner_frames
    from aipath.grader.sandbox import LearnerExit, SandboxViolation
    from aipath.grader.shapes import is_shape_error, shapes_on_line

    frames = learner_frames(exc.__traceback__, learner_path) if learner_path else []
    bases = [k.__name__ for k in type(exc).__mro__ if getattr(builtins, k.__name__, None) is k]
    data: dict[str, Any] = {
        "type": type(exc).__name__,
        "bases": bases,
        "text": _safe_str(exc),
        "frames": [[f.filename, f.lineno or 0, f.name, f.line or ""] for f in frames],
        "shape_error": bool(frames) and is_shape_error(exc),
        "shapes": "",
        "exit": "",
        "code": None,
        "import_name": None,
    }
    args = exc.args
    if len(args) <= 8 and all(type(a) in _PLAIN_ARG_TYPES for a in args):
        data["args"] = list(args)  # KeyError('Neighborhood').args[0] is the key, not its repr
    if data["shape_error"]:
        data["shapes"] = shapes_on_line(exc.__traceback__, learner_path)
    if isinstance(exc, SandboxViolation):
        data["exit"] = "sandbox"
    elif isinstance(exc, LearnerExit | SystemExit):
        data["exit"] = "os" if isinstance(exc, LearnerExit) else "sys"
        code = exc.code
        data["code"] = code if code is None or type(code) in (int, str, bool) else repr(code)
    elif isinstance(exc, ImportError):
        name = exc.name
        data["import_name"] = name if isinstance(name, str) else None
    return data


_PLAIN_ARG_TYPES = (str, int, float, bool, type(None))


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # a learner's __str__ that raises
        return f"<{type(exc).__name__}: its message could not be read>"


class RemoteTrace:
    """The learner's frames of an exception raised in the other process (for the plugin)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.frames = [
            traceback.FrameSummary(str(f[0]), int(f[1]), str(f[2]), line=str(f[3]))
            for f in data.get("frames", [])
            if isinstance(f, list) and len(f) == 4 and isinstance(f[1], int)
        ]
        self.shape_error = data.get("shape_error") is True
        shapes = data.get("shapes")
        self.shapes = shapes if isinstance(shapes, str) else ""


REMOTE_TRACE = "__aipath_remote__"
"""The attribute of a rebuilt exception that holds its :class:`RemoteTrace`."""

_NEVER_REBUILT = frozenset({"KeyboardInterrupt", "GeneratorExit", "SystemExit"})
"""Builtin bases a rebuilt exception never gets: pytest would stop the whole session for the
first (a check left unrun is not a failed one), and the others have their own paths."""

_classes: dict[tuple[str, type[BaseException]], type[BaseException]] = {}


def _text_class(name: str, base: type[BaseException]) -> type[BaseException]:
    """A class named like the learner's exception, under ``base``, whose str() is the text sent."""
    key = (name, base)
    if key not in _classes:

        def __init__(self: BaseException, text: str = "") -> None:
            BaseException.__init__(self, text)

        def __str__(self: BaseException) -> str:
            return str(self.args[0]) if self.args else ""

        _classes[key] = type(name, (base,), {"__init__": __init__, "__str__": __str__})
    return _classes[key]


def rebuild_exception(data: Any) -> BaseException:
    """An exception that classifies, prints and is caught like the one raised over there.

    The class is a builtin one (``ValueError`` for ``ValueError``; the nearest builtin base for
    a learner's own class, under the learner's class name): ``except ValueError`` in a check
    works as before, and nothing of the learner's class runs here.
    """
    from aipath.grader.sandbox import LearnerExit, SandboxViolation

    if not isinstance(data, dict):
        raise ProtocolError("an error reply without an error")
    name = data.get("type")
    text = data.get("text")
    bases = data.get("bases")
    if not isinstance(name, str) or not isinstance(text, str) or not isinstance(bases, list):
        raise ProtocolError("a malformed error")
    name = name if name.isidentifier() else "LearnerException"
    exit_kind = data.get("exit")
    code = data.get("code")
    exc: BaseException
    if exit_kind == "sandbox":
        exc = SandboxViolation(text)
    elif exit_kind == "os":
        exc = LearnerExit(code if isinstance(code, int) else 1)
    elif exit_kind == "sys":
        exc = SystemExit(code)
    else:
        base: type[BaseException] = Exception
        for candidate in bases:
            found = getattr(builtins, candidate, None) if isinstance(candidate, str) else None
            if (
                isinstance(found, type)
                and issubclass(found, BaseException)
                and candidate not in _NEVER_REBUILT
                and not issubclass(found, BaseExceptionGroup)
            ):
                base = found
                break
        args = data.get("args")
        plain_args = (
            tuple(args)
            if isinstance(args, list) and all(type(a) in _PLAIN_ARG_TYPES for a in args)
            else None
        )
        exc = _plain_or_text_class(name, base, text, plain_args)
        if isinstance(exc, ImportError):
            import_name = data.get("import_name")
            exc.name = import_name if isinstance(import_name, str) else None
    setattr(exc, REMOTE_TRACE, RemoteTrace(data))
    return exc


def _plain_or_text_class(
    name: str, base: type[BaseException], text: str, args: tuple[Any, ...] | None = None
) -> BaseException:
    if base.__name__ == name:
        for attempt in (args, (text,) if text else ()):
            if attempt is None:
                continue
            with contextlib.suppress(Exception):
                plain = base(*attempt)
                if str(plain) == text:
                    return plain
    return _text_class(name, base)(text)


def remote_trace(exc: BaseException) -> RemoteTrace | None:
    """The learner's frames of ``exc`` when it was rebuilt from the learner process."""
    trace = getattr(exc, REMOTE_TRACE, None)
    return trace if isinstance(trace, RemoteTrace) else None


# ----- the two ends -----------------------------------------------------------------------------
def _flags_of(obj: Any) -> int:
    kind = type(obj)
    flags = 0
    for flag, name in (
        (FLAG_CALL, "__call__"),
        (FLAG_LEN, "__len__"),
        (FLAG_GETITEM, "__getitem__"),
        (FLAG_ITER, "__iter__"),
        (FLAG_BOOL, "__bool__"),
    ):
        if hasattr(kind, name):
            flags |= flag
    if hasattr(obj, "__code__") or hasattr(obj, "__wrapped__"):
        flags |= FLAG_FUNCTION
    return flags


def _kind_of(obj: Any) -> str:
    kind = type(obj).__name__
    name = getattr(type(obj), "__qualname__", kind)
    own = obj.__dict__.get("__name__") if hasattr(obj, "__dict__") else None
    return f"{name} {own}" if isinstance(own, str) else str(name)


def is_by_reference(obj: Any) -> bool:
    """Whether ``obj`` is of a class the checks share by reference (:func:`aipath.checks.by_reference`)."""
    return not isinstance(obj, type) and any(BY_REFERENCE in vars(k) for k in type(obj).__mro__)


def _library_origin(obj: Any) -> str:
    """``module:qualname`` of the nearest class of ``obj`` that is not the checks' own (a spy
    ``gym.Wrapper`` of the checks reports ``gymnasium.core:Wrapper``), or "" for none but object.

    The learner's side claims that class for its proxy when it has it imported, so that
    ``isinstance(env, gym.Env)`` in learner code holds as it did in one process.
    """
    for klass in type(obj).__mro__:
        if klass is object:
            break
        if not _checks_own(klass):
            return f"{klass.__module__}:{klass.__qualname__}"
    return ""


class Peer:
    """One end of the conversation: its table of exported objects and the request loop."""

    accepts_copies = False  # only the learner's side unpickles (what the checks send it)
    creates_mirrors = False  # only the checks' side numbers its random generators (mirrors.py)

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.mirrors = GeneratorMirrors(creates=self.creates_mirrors)
        self._objects: dict[int, Any] = {}
        self._ids: dict[int, int] = {}
        self._next = 1
        self._raised: dict[int, BaseException] = {}  # what this side raised to the other, by number
        self._next_raised = 1
        self.last_reply: dict[str, Any] = {}

    # the codec's hooks
    def export(self, obj: Any) -> Handle:
        """Put ``obj`` in this side's table (once per object) and return its handle."""
        key = id(obj)
        ident = self._ids.get(key)
        if ident is None:
            ident = self._next
            self._next += 1
            self._ids[key] = ident
            self._objects[ident] = obj
        kind = type(obj)
        origin = f"{getattr(kind, '__module__', '')}:{getattr(kind, '__qualname__', '')}"
        return Handle(ident, False, _kind_of(obj), _flags_of(obj), origin)

    def handle_of(self, obj: Any) -> Handle | Copied:
        if isinstance(obj, RemoteProxy):
            if object.__getattribute__(obj, "_aipath_peer") is not self:
                raise EncodeError("a proxy of another conversation")
            return Handle(object.__getattribute__(obj, "_aipath_id"), True)
        return self.export(obj)

    def on_handle(self, handle: Handle) -> Any:
        if handle.mine:
            if handle.id not in self._objects:
                raise DecodeError(f"no object {handle.id} here")
            return self._objects[handle.id]
        return make_proxy(self, handle, self.class_of(handle))

    def class_of(self, handle: Handle) -> type | None:
        """The class a proxy for ``handle`` reports as its ``__class__`` (None: none)."""
        return None

    def encode(self, message: dict[str, Any]) -> bytes:
        """``message`` as bytes, with the newest state of each mirrored generator that moved."""
        mirrors = self.mirrors
        moved = mirrors.moved() if len(mirrors) else None
        if moved:
            message = {**message, "rngs": moved}
        data = Encoder(self.handle_of, mirrors.number_of).encode(message)
        if moved:
            mirrors.sent(moved)
        return data

    def decode(self, data: bytes) -> dict[str, Any]:
        mirrors = self.mirrors
        message = Decoder(
            self.on_handle, accept_copies=self.accepts_copies, on_mirror=mirrors.resolve
        ).decode(data)
        if not isinstance(message, dict) or not isinstance(message.get("op"), str):
            raise ProtocolError("a message that is not a request or a reply")
        if "rngs" in message:
            mirrors.apply(message.pop("rngs"))
        return message

    def send(self, message: dict[str, Any]) -> None:
        try:
            data = self.encode(message)
        except (EncodeError, RecursionError, ValueError) as exc:
            data = self.encode(self.error_reply(exc, message.get("out", "")))
        self.channel.send(data)

    def error_reply(self, exc: BaseException, out: Any = "") -> dict[str, Any]:
        return {"op": "raise", "error": self.error_data(exc, ""), "out": out}

    def error_data(self, exc: BaseException, learner_path: str) -> dict[str, Any]:
        """:func:`exception_data`, numbered, so the same exception can come back as itself.

        In one process a wrapper that lets an exception through re-raises the very object: a
        check's fake model raises its own ``_Rejected``, the learner's wrapper lets it pass, and
        the check catches ``_Rejected``.  Across the boundary each side rebuilds what the other
        raised; an exception that goes back unchanged is named by the number it came with, and
        the side that raised it first raises its own object again (a number it never sent is
        rebuilt like any other error).
        """
        data = exception_data(exc, learner_path)
        theirs = getattr(exc, _RAISED_NUMBER, None)
        if type(theirs) is int:
            data["theirs"] = theirs
            return data
        number = self._next_raised
        self._next_raised += 1
        self._raised[number] = exc
        if len(self._raised) > MAX_RAISED_KEPT:
            del self._raised[next(iter(self._raised))]
        data["mine"] = number
        return data

    def rebuilt(self, data: Any) -> BaseException:
        """The exception an error reply describes: this side's own again, or a rebuilt one."""
        if isinstance(data, dict):
            theirs = data.get("theirs")
            if type(theirs) is int and theirs in self._raised:
                return self._raised[theirs]
        exc = rebuild_exception(data)
        mine = data.get("mine")
        if type(mine) is int:
            setattr(exc, _RAISED_NUMBER, mine)
        return exc

    def request(self, message: dict[str, Any]) -> Any:
        """Send a request; serve the other side's requests until its reply comes; the value."""
        self.channel.send(self.encode(message))
        while True:
            incoming = self.receive()
            op = incoming["op"]
            if op in ("ok", "raise", "timeout"):
                self.last_reply = incoming
                return self.on_reply(incoming)
            reply = self.serve(incoming)
            if reply is not None:
                self.send(reply)

    def notify(self, message: dict[str, Any]) -> None:
        """Send a message that gets no reply (a failure shows at the next request)."""
        with contextlib.suppress(PeerGone):
            self.channel.send(self.encode(message))

    def receive(self) -> dict[str, Any]:
        return self.decode(self.channel.recv())

    def on_reply(self, reply: dict[str, Any]) -> Any:
        if reply["op"] == "ok":
            return reply.get("value")
        if reply["op"] == "raise":
            raise self.rebuilt(reply.get("error"))
        raise ProtocolError(f"unexpected reply {reply['op']!r}")

    def serve(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """The reply to the other side's request; None for a notification (no reply)."""
        raise NotImplementedError  # pragma: no cover - each end defines what it answers

    # what proxies ask
    def remote(self, op: str, ident: int, **fields: Any) -> Any:
        return self.request({"op": op, "id": ident, **fields})

    def call(self, ident: int, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Call the other side's object; arrays it changed in place change here too.

        Arguments travel by value, so ``X -= X.mean(0)`` in learner code would otherwise leave
        the check's ``X`` as it was, and a check that the input is left alone could not see it.
        The learner process reports each top-level array argument whose bytes changed; it is
        copied back into the check's array (same shape and dtype only); a pandas frame or series
        it changed takes the learner's contents whole (rows, columns, dtypes).  A random generator
        of learner code passed to a check comes back likewise; one of the checks is mirrored
        (``mirrors.py``) and stays in step with every message, also after the call returned.
        """
        try:
            return self.request({"op": "call", "id": ident, "args": list(args), "kwargs": kwargs})
        finally:
            changed = self.last_reply.get("changed")
            self.last_reply = {}
            if isinstance(changed, dict):
                _copy_back(changed, args, kwargs)


def global_generator_states() -> dict[str, Any]:
    """The state of this process's global random generators: Python's, NumPy's, torch's.

    NumPy's and torch's only when they are imported (a lab that never loads torch must not pay
    for it).  In the trusted mode the checks ask the learner process for these
    (:meth:`TrustedPeer.learner_generator_states`): its generators are the ones learner code
    moves.
    """
    import random

    state: dict[str, Any] = {"random": random.getstate()}
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        # ("MT19937", keys, pos, has_gauss, cached_gaussian)
        legacy = tuple(numpy.random.get_state(legacy=True))
        state["numpy"] = (legacy[1].tobytes(), *legacy[2:])
    torch = sys.modules.get("torch")
    if torch is not None:
        state["torch"] = torch.random.get_rng_state().numpy().tobytes()
    return state


_active: TrustedPeer | None = None


def library_class(origin: str, learner_dir: str | None = None) -> type | None:
    """The class named by a handle's ``origin`` when it is a library's, already imported here.

    ``learner_dir`` is the learner's folder as a resolved path (``os.path.realpath``).

    A learner object of a library type (a scikit-learn ``Pipeline``, an ``nn.Module``, a
    tokenizer) then passes ``isinstance`` in the check as it did in one process, while every
    attribute and call still goes to the learner's process.  Nothing is imported for it: only a
    module this process loaded itself, from outside the learner's folder, and a class reached by
    plain attribute lookup whose own module and name are the ones reported.  A class of the
    learner's own file is never found here (its module is not imported in the trusted process),
    so it stays an opaque proxy.  The origin is the learner process's report, as trustworthy as
    its answers: it decides what ``isinstance`` says, not what runs where.
    """
    module_name, _, qualname = origin.partition(":")
    module = sys.modules.get(module_name) if module_name and qualname else None
    path = getattr(module, "__file__", None)
    if module is None or not isinstance(path, str):
        return None
    if learner_dir is not None and os.path.realpath(path).startswith(learner_dir + os.sep):
        return None
    found: Any = module
    for part in qualname.split("."):
        if not part.isidentifier():
            return None
        found = inspect.getattr_static(found, part, None)
    if (
        not isinstance(found, type)
        or found.__module__ != module_name
        or found.__qualname__ != qualname
        or issubclass(found, BaseException)
    ):
        return None
    return found


def active_peer() -> TrustedPeer | None:
    """The trusted side's peer while a trusted-mode check runs in this process, else None."""
    return _active


class TrustedPeer(Peer):
    """The check side: decodes strictly, answers only calls of callables it handed over.

    ``on_timeout(message)`` and ``on_lost(reason)`` end the check (they do not return): the
    learner process reported its alarm, or it ended, died or broke the protocol mid-call.
    """

    creates_mirrors = True

    def __init__(
        self,
        channel: Channel,
        *,
        on_timeout: Callable[[dict[str, Any]], NoReturn],
        on_lost: Callable[[str], NoReturn],
        learner_dir: str | None = None,
    ) -> None:
        super().__init__(channel)
        self._on_timeout = on_timeout
        self._on_lost = on_lost
        self._learner_dir = None if learner_dir is None else os.path.realpath(learner_dir)
        self._classes: dict[str, type | None] = {}
        self._shared: set[int] = set()  # the ids of objects learner code uses by reference
        self._methods: dict[tuple[int, str], Any] = {}  # one handle per shared object's method
        self._method_ids: set[int] = set()  # id() of those bound methods: sent as "method"

    def class_of(self, handle: Handle) -> type | None:
        origin = handle.origin
        if origin not in self._classes:  # once per type in a check, not once per handle
            self._classes[origin] = library_class(origin, self._learner_dir)
        return self._classes[origin]

    def handle_of(self, obj: Any) -> Handle | Copied:
        if isinstance(obj, RemoteProxy):
            return super().handle_of(obj)
        shared = is_by_reference(obj) or _iterated_only(obj)
        if shared or (callable(obj) and not isinstance(obj, type) and not _torch_module(obj)):
            # A shared object, or a function learner code calls.  A check's generator (a
            # watched iterate_minibatches that yields the learner's batches) is shared too:
            # learner code may iterate over it, and nothing else (see _shared_op).
            return self._export(obj, shared)
        return self.copy_for_learner(obj)

    def export(self, obj: Any) -> Handle:
        return self._export(obj, is_by_reference(obj))

    def _export(self, obj: Any, shared: bool) -> Handle:
        """:meth:`export` with ``is_by_reference(obj)`` already known (one MRO walk a value)."""
        handle = super().export(obj)
        if shared:
            self._shared.add(handle.id)
            flags = (handle.flags & ~FLAG_FUNCTION) | FLAG_SHARED
            origin = "" if _iterated_only(obj) else _library_origin(obj)
            return Handle(handle.id, False, handle.kind, flags, origin)
        kind = "method" if id(obj) in self._method_ids else "function"
        return Handle(handle.id, False, kind, FLAG_CALL)

    def copy_for_learner(self, obj: Any) -> Copied:
        """A check's own object (a reference model, a fitted scaler) for learner code: a copy.

        A handle would let learner code walk from the object's attributes into this process
        (its modules, the event writer); a copy gives it the object's behaviour and nothing of
        this process.  What learner code changes in the copy stays in the copy.
        """
        if isinstance(obj, type | types.ModuleType):
            raise EncodeError(
                f"a check passed the {type(obj).__name__} {getattr(obj, '__name__', '?')} to "
                "learner code: in the trusted mode only data, functions and copies of objects cross"
            )
        buffer = io.BytesIO()
        try:
            _CopyWriter(buffer, self).dump(obj)
            data = buffer.getvalue()
        except Exception as exc:
            raise EncodeError(
                f"a check passed a {type(obj).__name__} to learner code, and in the trusted mode "
                f"an object crosses as a copy, which this one cannot be ({exc}): pass data or a "
                "function, or keep the lab in the shared mode"
            ) from exc
        if len(data) > MAX_COPY_BYTES:
            raise EncodeError(f"a {type(obj).__name__} of {len(data):,} bytes is too large to copy")
        return Copied(data)

    def request(self, message: dict[str, Any]) -> Any:
        try:
            return super().request(message)
        except PeerGone as exc:
            self._on_lost(str(exc))
        except (ProtocolError, DecodeError) as exc:
            self._on_lost(f"protocol: {exc}")

    def activate(self) -> None:
        """Make this the peer :func:`active_peer` returns (the check library asks it)."""
        global _active
        _active = self

    def hold(self, value: Any) -> Any:
        """``value`` as an object of the learner's process, for the check: a proxy of the copy
        made there (see :func:`aipath.checks.in_learner_process`)."""
        held = self.request({"op": "hold", "value": value})
        if not isinstance(held, RemoteProxy):
            raise ProtocolError("hold answered with something other than a handle")
        return held

    def build(self, cls: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """``cls(*args, **kwargs)`` made in the learner's process, for the check: a proxy of it
        (see :func:`aipath.checks.built_in_learner_process`)."""
        if not isinstance(cls, type) or _checks_own(cls):
            raise EncodeError(
                "built_in_learner_process needs a library's class (the learner's process imports "
                f"it there), not {cls!r}"
            )
        origin = f"{cls.__module__}:{cls.__qualname__}"
        message = {"op": "build", "class": origin, "args": list(args), "kwargs": kwargs}
        built = self.request(message)
        if not isinstance(built, RemoteProxy):
            raise ProtocolError("build answered with something other than a handle")
        return built

    def library_global(self, module: str, name: str) -> Any:
        """``module.name`` as the learner's process has it (a proxy, or data by value)."""
        return self.request({"op": "global", "module": module, "name": name})

    def learner_generator_states(self) -> dict[str, Any]:
        """:func:`global_generator_states` of the learner process."""
        states = self.request({"op": "generator_states"})
        if not isinstance(states, dict):
            raise ProtocolError("generator states that are not a dict")
        return states

    def receive_ready(self) -> dict[str, Any]:
        """The learner process's first message: its module (a proxy) or its import error."""
        try:
            message = self.receive()
            if message["op"] == "timeout":  # a loop at the top level of the learner's file
                self.on_reply(message)
            if message["op"] != "ready":
                raise ProtocolError(f"{message['op']!r} before the learner's module was ready")
        except PeerGone as exc:
            self._on_lost(str(exc))
        except (ProtocolError, DecodeError) as exc:
            self._on_lost(f"protocol: {exc}")
        self.on_output(message)
        return message

    def on_output(self, message: dict[str, Any]) -> None:
        """Print what learner code printed, here, where pytest captures it for the check."""
        out, err = message.get("out", ""), message.get("err", "")
        if isinstance(out, str) and out:
            sys.stdout.write(out)
        if isinstance(err, str) and err:
            sys.stderr.write(err)

    def on_reply(self, reply: dict[str, Any]) -> Any:
        self.on_output(reply)
        reemit_warnings(reply.get("warnings"))
        if reply["op"] == "timeout":
            self._on_timeout(reply)
        return super().on_reply(reply)

    def serve(self, message: dict[str, Any]) -> dict[str, Any]:
        op, raw = message["op"], message.get("id")
        ident = raw if type(raw) is int else -1
        target = self._objects.get(ident)
        if target is None or (op != "call" and ident not in self._shared):
            error = PermissionError(
                "learner code may only call the functions a check passed it and use the public "
                "attributes of the objects it shares"
            )
            return self.error_reply(error)
        if op != "call":
            try:
                return {"op": "ok", "value": self._shared_op(op, ident, target, message)}
            except Exception as exc:
                return self.error_reply(exc)
        args, kwargs = message.get("args"), message.get("kwargs")
        if (
            not isinstance(args, list)
            or not isinstance(kwargs, dict)
            or not all(isinstance(k, str) for k in kwargs)
        ):
            return self.error_reply(ProtocolError("a call without its arguments"))
        before = _snapshots(args, kwargs)
        try:
            reply: dict[str, Any] = {"op": "ok", "value": target(*args, **kwargs)}
        except Exception as exc:
            reply = self.error_reply(exc)
        changed = _changes(before)  # a learner's generator a spy drew from continues there
        if changed:
            reply["changed"] = changed
        return reply

    def _shared_op(self, op: str, ident: int, target: Any, message: dict[str, Any]) -> Any:
        """A request on an object the checks share by reference: public names only."""
        kind = type(target).__name__
        if _iterated_only(target) and op not in ("iter", "repr", "str", "bool"):
            raise PermissionError(f"learner code may iterate over a check's generator, not {op} it")
        if op == "getattr":
            name = message.get("name")
            if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
                raise AttributeError(
                    f"learner code may use the public attributes of the check's {kind}, not "
                    f"{name!r}"
                )
            value = getattr(target, name)
            if _class_method(target, name, value):
                # One handle per method, sent as a "method" the learner's side keeps: a loop
                # calling env.step() then costs one round trip a step, not two.
                cached = self._methods.get((ident, name))
                if cached is not None and cached.__func__ is value.__func__:
                    return cached
                self._methods[(ident, name)] = value
                self._method_ids.add(id(value))
            return value
        answer = _plain_op(op, target, message)
        if answer is not _NOT_PLAIN:
            return answer
        if op == "setattr":
            raise AttributeError(f"learner code cannot set attributes of the check's {kind}")
        raise PermissionError(f"learner code cannot {op} the check's {kind}")


_NOT_PLAIN = object()


def _plain_op(op: str, target: Any, message: dict[str, Any]) -> Any:
    """What both sides answer alike about their own objects (``repr``, ``str``, ``len``,
    ``bool``, ``getitem``, ``iter``); :data:`_NOT_PLAIN` for any other request."""
    if op == "repr":
        return repr(target)
    if op == "str":
        return str(target)
    if op == "len":
        return len(target)
    if op == "bool":
        return bool(target)
    if op == "getitem":
        return target[message.get("key")]
    if op == "iter":
        items = list(itertools.islice(iter(target), MAX_ITER_ITEMS + 1))
        if len(items) > MAX_ITER_ITEMS:
            raise OverflowError("an iterator of more than a million items")
        return items
    return _NOT_PLAIN


def _class_method(target: Any, name: str, value: Any) -> bool:
    """Whether ``value`` is ``target.name`` bound from a plain function of its class (not an
    attribute of the object itself, which a check may replace while learner code runs)."""
    if not isinstance(value, types.MethodType) or value.__self__ is not target:
        return False
    own = getattr(target, "__dict__", None)
    if isinstance(own, dict) and name in own:
        return False
    found = inspect.getattr_static(type(target), name, None)
    return isinstance(found, types.FunctionType) and found is value.__func__


class _CopyWriter(pickle.Pickler):
    """Pickles a check's object for learner code, with two kinds of members kept by reference.

    A learner object the check holds (a proxy: the learner's vectorizer inside a check's
    pipeline) becomes a reference to the learner's own object again; a function of the checks
    (their module is never imported in the learner's process, a lambda has no name to import)
    becomes a handle learner code may call, as when it is passed on its own.
    """

    def __init__(self, file: io.BytesIO, peer: TrustedPeer) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._peer = peer

    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, type) and _checks_own(obj):
            # Its module is never imported in the learner's process: unpickling would fail there.
            raise pickle.PicklingError(
                f"{obj.__qualname__} is a class of the checks, which learner code cannot import"
            )
        if isinstance(obj, RemoteProxy):
            handle = self._peer.handle_of(obj)
            assert isinstance(handle, Handle)
            return ("r", handle.id, "")
        if isinstance(obj, types.FunctionType | types.MethodType) and _checks_own(obj):
            return ("h", self._peer.export(obj).id, "function")
        if is_by_reference(obj):
            shared = self._peer.export(obj)
            return ("s", shared.id, shared.kind, shared.flags, shared.origin)
        return None


def _iterated_only(obj: Any) -> bool:
    """A check's generator object: shared with learner code, which may only iterate over it."""
    return type(obj) is types.GeneratorType


def _torch_module(obj: Any) -> bool:
    """Whether ``obj`` is a ``torch.nn.Module``: callable, but handed to learner code as a copy.

    A check's ``nn.MultiheadAttention`` given to ``mha_params(module)`` is data to read (its
    weights), as in one process; a handle would only let learner code call it.
    """
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


def _built(message: dict[str, Any]) -> Any:
    """The object a ``build`` request asks for: a library class, imported here, called."""
    origin, args, kwargs = message.get("class"), message.get("args"), message.get("kwargs")
    if not isinstance(origin, str) or not isinstance(args, list) or not isinstance(kwargs, dict):
        raise ProtocolError("a build request without its class and arguments")
    importlib.import_module(origin.partition(":")[0])
    cls = library_class(origin)
    if cls is None:
        raise LookupError(f"no library class {origin!r} to build in the learner's process")
    return cls(*args, **kwargs)


def _checks_own(func: Any) -> bool:
    """A function or class pickle could not name in the learner's process: the checks' (pytest
    imports ``checks.py`` under a name derived from its folder, such as ``tiny.checks``), or a
    local one."""
    module = getattr(func, "__module__", None) or ""
    qualname = getattr(func, "__qualname__", "") or ""
    if module.split(".")[0] in {"checks", "__main__"} or "<" in qualname:
        return True
    filename = getattr(sys.modules.get(module), "__file__", None) or ""
    return os.path.basename(filename) == "checks.py"


class LearnerPeer(Peer):
    """The learner side: every object may be exported; requests run learner code, captured."""

    accepts_copies = True

    def __init__(self, channel: Channel, learner_path: str) -> None:
        super().__init__(channel)
        self.learner_path = learner_path
        self.on_reseed: Callable[[int], None] = lambda _seed: None
        self._before: list[tuple[int | str, Any, Any]] = []
        self._methods: dict[tuple[int, str], RemoteProxy] = {}  # the checks' shared methods

    def on_handle(self, handle: Handle) -> Any:
        value = super().on_handle(handle)
        if not handle.mine and not handle.flags & (FLAG_CALL | FLAG_SHARED):
            raise DecodeError("the checks hand learner code functions and shared objects only")
        return value

    def remote(self, op: str, ident: int, **fields: Any) -> Any:
        """As :meth:`Peer.remote`; a method of a shared object of the checks is looked up once."""
        if op != "getattr":
            return super().remote(op, ident, **fields)
        key = (ident, str(fields.get("name")))
        method = self._methods.get(key)
        if method is None:
            method = super().remote(op, ident, **fields)
            if not isinstance(method, RemoteProxy):
                return method
            if object.__getattribute__(method, "_aipath_kind") != "method":
                return method
            self._methods[key] = method
        return method

    def class_of(self, handle: Handle) -> type | None:
        """A library class a shared object of the checks is an instance of (a spy environment:
        ``gymnasium.core:Wrapper``), for ``isinstance`` in learner code."""
        if handle.mine or not handle.flags & FLAG_SHARED:
            return None
        return library_class(handle.origin)

    def error_reply(self, exc: BaseException, out: Any = "") -> dict[str, Any]:
        return {"op": "raise", "error": self.error_data(exc, self.learner_path), "out": out}

    def serve_forever(self) -> None:
        """Answer requests until the trusted side closes its end."""
        while True:
            try:
                message = self.receive()
            except PeerGone:
                return
            reply = self.serve(message)
            if reply is not None:
                self.send(reply)

    def serve(self, message: dict[str, Any]) -> dict[str, Any] | None:
        if message["op"] == "reseed":  # a notification: before each check, no reply
            seed = message.get("seed")
            self.on_reseed(seed if type(seed) is int else 0)
            return None
        outer, self._before = self._before, []
        try:
            with _captured() as (out, err), _recorded_warnings() as caught:
                try:
                    value = self._run(message)
                    reply: dict[str, Any] = {"op": "ok", "value": value}
                except BaseException as exc:  # learner code may raise anything: it is data
                    reply = self.error_reply(exc)
            changed = _changes(self._before)
        finally:
            self._before = outer
        if changed:
            reply["changed"] = changed
        for key, stream in (("out", out), ("err", err)):
            text = stream.getvalue()
            if text:  # most calls print nothing: no field to encode and decode
                reply[key] = text
        if caught:
            reply["warnings"] = warnings_data(caught)
        return reply

    def _snapshot(self, args: list[Any], kwargs: dict[str, Any]) -> None:
        # An object of this process that came back as its handle (a generator the check keeps
        # here, see ``hold``) is the caller's own already: nothing to send back.
        # A check's generator mirrored here is synced with every message already.
        own, mirrored = self._ids, self.mirrors.number_of
        self._before.extend(
            snap
            for snap in _snapshots(args, kwargs)
            if id(snap[1]) not in own and mirrored(snap[1]) is None
        )

    def _run(self, message: dict[str, Any]) -> Any:
        op = message["op"]
        if op == "generator_states":
            return global_generator_states()
        if op == "hold":  # keep the value here; the checks get a handle to this very object
            return self.export(message.get("value"))
        if op == "build":  # a library object made here (one that cannot be copied)
            return self.export(_built(message))
        if op == "global":  # a library's module attribute as this process has it
            module, name = message.get("module"), message.get("name")
            if not isinstance(module, str) or not isinstance(name, str):
                raise ProtocolError("a global request without its module and name")
            return getattr(importlib.import_module(module), name)  # objects cross as handles
        ident = message.get("id")
        if not isinstance(ident, int) or ident not in self._objects:
            raise LookupError(f"no learner object {ident!r}")
        target = self._objects[ident]
        if op == "getattr":
            return getattr(target, str(message.get("name")))
        if op == "setattr":
            name = message.get("name")
            if not isinstance(name, str) or (name.startswith("__") and name.endswith("__")):
                raise ProtocolError("setattr of a name that is not a plain attribute")
            setattr(target, name, message.get("value"))
            return None
        if op == "call":
            args, kwargs = message.get("args"), message.get("kwargs")
            if not isinstance(args, list) or not isinstance(kwargs, dict):
                raise ProtocolError("a call without its arguments")
            self._snapshot(args, kwargs)
            return target(*args, **kwargs)
        if op == "copy":
            return copy.copy(target)
        if op == "deepcopy":
            return copy.deepcopy(target)
        if op == "setitem":
            target[message.get("key")] = message.get("value")
            return None
        answer = _plain_op(op, target, message)
        if answer is not _NOT_PLAIN:
            return answer
        if op == "source":
            return self._source(target)
        raise ProtocolError(f"unknown request {op!r}")

    def _source(self, target: Any) -> list[Any] | None:
        """Where ``target`` (unwrapped) was defined: file, first line and name, if a function."""
        import inspect

        with contextlib.suppress(ValueError):
            target = inspect.unwrap(target)
        code = getattr(target, "__code__", None)
        if code is None:
            return None
        return [str(code.co_filename), int(code.co_firstlineno), str(code.co_name)]


_Snapshot = tuple[int | str, Any, Any]


def _snapshots(args: list[Any], kwargs: dict[str, Any]) -> list[_Snapshot]:
    """Each top-level array, frame, list or dict argument as it was (see :meth:`Peer.call`)."""
    numpy = sys.modules.get("numpy")
    before: list[_Snapshot] = []
    keyed: list[tuple[int | str, Any]] = [*enumerate(args), *kwargs.items()]
    for key, arg in keyed:
        if type(arg) in (list, dict):
            encoded = _plain_bytes(arg)
            if encoded is not None:  # plain data only: a list holding handles is left out
                before.append((key, arg, _Plain(encoded)))
        elif numpy is None:
            continue
        elif isinstance(arg, numpy.ndarray) and arg.dtype != object:
            before.append((key, arg, arg.tobytes()))
        elif type(arg) is numpy.random.Generator:
            before.append((key, arg, None))  # its state goes back after every call
        elif _is_frame(arg):
            before.append((key, arg, arg.copy(deep=True)))
        elif _is_tensor(arg):
            before.append((key, arg, _TensorSnapshot(arg.detach().clone())))
    return before


@dataclass(frozen=True)
class _TensorSnapshot:
    """A torch tensor argument's values before the call (``q /= scale`` in learner code)."""

    values: Any


def _is_tensor(value: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and type(value) is torch.Tensor and value.layout == torch.strided


def _changes(before: list[_Snapshot]) -> dict[int | str, Any]:
    """The arguments of ``before`` that the call changed in place, by position or name."""
    return {key: arg for key, arg, snap in before if _changed(arg, snap)}


def _is_frame(value: Any) -> bool:
    pandas = sys.modules.get("pandas")
    return pandas is not None and type(value) in (pandas.DataFrame, pandas.Series)


@dataclass(frozen=True)
class _Plain:
    """The encoding of a list or dict argument before the call."""

    data: bytes


def _plain_bytes(value: Any) -> bytes | None:
    """``value`` encoded, or None if it holds anything but data (or is too big to watch)."""

    def refuse(_obj: Any) -> Handle:
        raise EncodeError("not plain data")

    try:
        data = Encoder(refuse).encode(value)
    except (EncodeError, RecursionError, OverflowError):
        return None
    return data if len(data) <= MAX_WATCHED_BYTES else None


MAX_WATCHED_BYTES = 8 << 20
"""A list or dict argument larger than this, encoded, is not compared after the call."""


def _changed(arg: Any, snapshot: Any) -> bool:
    """Whether learner code changed an argument in place (a generator: always sent back)."""
    if snapshot is None:
        return True
    if isinstance(snapshot, _Plain):
        return _plain_bytes(arg) != snapshot.data
    if isinstance(snapshot, bytes):
        return bool(arg.tobytes() != snapshot)
    if isinstance(snapshot, _TensorSnapshot):
        import torch

        before, now = snapshot.values, arg.detach()
        if before.shape != now.shape or before.dtype != now.dtype:
            return True
        if before.is_floating_point() or before.is_complex():
            return not bool(torch.isclose(now, before, rtol=0.0, atol=0.0, equal_nan=True).all())
        return not torch.equal(now, before)
    same = (
        arg.equals(snapshot)
        and arg.index.equals(snapshot.index)
        and list(arg.index.names) == list(snapshot.index.names)
    )
    if same and hasattr(arg, "columns"):
        same = arg.columns.equals(snapshot.columns) and list(arg.columns.names) == list(
            snapshot.columns.names
        )
    return not same


def _copy_back(changed: dict[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    numpy = sys.modules.get("numpy")
    for key, new in changed.items():
        if type(key) is int and 0 <= key < len(args):
            original = args[key]
        elif isinstance(key, str) and key in kwargs:
            original = kwargs[key]
        else:
            continue
        if type(original) is list and type(new) is list:
            original[:] = new
        elif type(original) is dict and type(new) is dict:
            original.clear()
            original.update(new)
        elif numpy is None:
            continue
        elif (
            type(original) is numpy.random.Generator
            and type(new) is numpy.random.Generator
            and type(original.bit_generator) is type(new.bit_generator)
        ):
            original.bit_generator.state = new.bit_generator.state
        elif _is_tensor(original) and _is_tensor(new):
            if original.shape == new.shape and original.dtype == new.dtype:
                import torch

                with torch.no_grad():
                    original.copy_(new)
        elif _is_frame(original) and type(new) is type(original):
            # pandas has no public "become that frame" in place: its block manager is swapped,
            # so the check's object now holds what learner code left in its copy.
            original._mgr = new._mgr
            if hasattr(original, "_clear_item_cache"):
                original._clear_item_cache()
        elif (
            isinstance(original, numpy.ndarray)
            and isinstance(new, numpy.ndarray)
            and original.shape == new.shape
            and original.dtype == new.dtype
            and original.flags.writeable
        ):
            numpy.copyto(original, new)


MAX_WARNINGS = 50
"""Distinct warnings one request sends back (a loop warning on every step sends one)."""


@contextlib.contextmanager
def _recorded_warnings() -> Iterator[list[warnings.WarningMessage]]:
    """Every warning learner code raises during one request, for the checks' side to raise again.

    Recorded whatever the filters say ("always"): the checks' side applies its own filters when
    it raises them again, so ``warnings.catch_warnings(record=True)`` or ``pytest.warns`` around
    a call of learner code sees what it saw when both ran in one process.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught


def warnings_data(caught: list[warnings.WarningMessage]) -> list[list[Any]]:
    """Recorded warnings as data: category name, its builtin bases, text, file and line."""
    seen: set[tuple[str, str, str, int]] = set()
    out: list[list[Any]] = []
    for w in caught:
        category = w.category
        key = (category.__name__, _safe_text(w.message), str(w.filename), int(w.lineno or 0))
        if key in seen:
            continue
        seen.add(key)
        bases = [k.__name__ for k in category.__mro__ if getattr(builtins, k.__name__, None) is k]
        out.append([key[0], bases, key[1], key[2], key[3]])
        if len(out) >= MAX_WARNINGS:
            break
    return out


def _safe_text(message: Any) -> str:
    try:
        return str(message)
    except Exception:  # a learner's warning whose __str__ raises
        return "<a warning whose message could not be read>"


def reemit_warnings(data: Any) -> None:
    """Raise here, under this process's filters, the warnings learner code raised over there.

    The category is a builtin one (``RuntimeWarning``), or a class named like the learner's own
    under its nearest builtin base: nothing of the learner's class runs here.
    """
    if not isinstance(data, list):
        return
    for item in data[:MAX_WARNINGS]:
        if not (isinstance(item, list) and len(item) == 5 and isinstance(item[1], list)):
            continue
        name, bases, text, filename, lineno = item
        if not (isinstance(name, str) and isinstance(text, str) and isinstance(filename, str)):
            continue
        base: type[Warning] = UserWarning
        for candidate in bases:
            found = getattr(builtins, candidate, None) if isinstance(candidate, str) else None
            if isinstance(found, type) and issubclass(found, Warning):
                base = found
                break
        category = base
        if name != base.__name__ and name.isidentifier():
            category = _text_class(name, base)  # type: ignore[assignment]
        line = lineno if type(lineno) is int and lineno > 0 else 1
        warnings.warn_explicit(text, category, filename, line)


@contextlib.contextmanager
def _captured() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    """What learner code prints during one request, sent back with the reply (pytest shows it)."""
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        yield out, err
    finally:
        sys.stdout, sys.stderr = saved


# ----- proxies ----------------------------------------------------------------------------------
_REMOTE_DUNDERS = frozenset({"__name__", "__qualname__"})
"""Dunder attributes looked up in the other process; any other one a proxy does not have (a
library probing ``__array_interface__`` gets AttributeError at once, not a round trip)."""


class RemoteProxy:
    """An object of the other process: attribute access, calls and repr cross the boundary."""

    __slots__ = ("__weakref__", "_aipath_id", "_aipath_kind", "_aipath_peer")
    _aipath_is_proxy = True  # the codec sends it back as a handle, whatever __class__ says

    def __init__(self, peer: Peer, handle: Handle) -> None:
        object.__setattr__(self, "_aipath_peer", peer)
        object.__setattr__(self, "_aipath_id", handle.id)
        object.__setattr__(self, "_aipath_kind", handle.kind)

    def _aipath_remote(self, op: str, **fields: Any) -> Any:
        peer: Peer = object.__getattribute__(self, "_aipath_peer")
        return peer.remote(op, object.__getattribute__(self, "_aipath_id"), **fields)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__") and name not in _REMOTE_DUNDERS:
            raise AttributeError(name)
        return self._aipath_remote("getattr", name=name)

    def __setattr__(self, name: str, value: Any) -> None:
        """Set the attribute on the other side's object (a check replacing a learner function
        with a watched one: ``monkeypatch.setattr(learner, "step", watched)``).

        ``value`` crosses like an argument: data by value, a check's function as a handle that
        calls back into the check's process, a proxy as the other side's own object again.
        """
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(f"cannot set {name!r} on learner code's {self._aipath_kind}")
        self._aipath_remote("setattr", name=name, value=value)

    def __copy__(self) -> Any:
        """A copy made in the other process (a new object there, or its data)."""
        return self._aipath_remote("copy")

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        """A deep copy made in the other process: scikit-learn's ``clone`` of a learner's
        estimator deep-copies the parameters it cannot clone, and the check must get a copy
        that later changes to the learner's object do not reach."""
        return self._aipath_remote("deepcopy")

    def __repr__(self) -> str:
        text = self._aipath_remote("repr")
        return text if isinstance(text, str) else f"<{self._aipath_kind}>"

    def __str__(self) -> str:
        text = self._aipath_remote("str")
        return text if isinstance(text, str) else f"<{self._aipath_kind}>"


class _Callable(RemoteProxy):
    __slots__ = ()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        peer: Peer = object.__getattribute__(self, "_aipath_peer")
        return peer.call(object.__getattribute__(self, "_aipath_id"), args, kwargs)


class _Len(RemoteProxy):
    __slots__ = ()

    def __len__(self) -> int:
        n = self._aipath_remote("len")
        if type(n) is not int or n < 0:
            raise TypeError("len() of learner code's object is not a non-negative int")
        return n


class _GetItem(RemoteProxy):
    __slots__ = ()

    def __getitem__(self, key: Any) -> Any:
        return self._aipath_remote("getitem", key=key)

    def __setitem__(self, key: Any, value: Any) -> None:
        """Set an item of the other side's object (the checks' side refuses it on its own)."""
        self._aipath_remote("setitem", key=key, value=value)


class _Iter(RemoteProxy):
    __slots__ = ()

    def __iter__(self) -> Iterator[Any]:
        items = self._aipath_remote("iter")
        return iter(items if isinstance(items, list) else [])


class _Bool(RemoteProxy):
    __slots__ = ()

    def __bool__(self) -> bool:
        return self._aipath_remote("bool") is True


class _Function(RemoteProxy):
    """A learner function: ``inspect.getsource`` finds its text in the learner's file.

    ``__wrapped__`` is an empty function (our own code: ``compile("")``) carrying the file, first
    line and name the learner process reports: ``inspect`` follows ``__wrapped__`` and reads the lines from the file
    itself (the trusted side may read the learner's file as text), so ``no_loops`` looks at the
    same source it looked at when the function lived in the checks' process.
    """

    __slots__ = ()

    @property
    def __wrapped__(self) -> Any:
        where = self._aipath_remote("source")
        if (
            not isinstance(where, list)
            or len(where) != 3
            or not isinstance(where[0], str)
            or type(where[1]) is not int
            or not isinstance(where[2], str)
            or (not where[2].isidentifier() and where[2] != "<lambda>")
        ):
            raise AttributeError("__wrapped__")
        filename, line, name = where
        code = compile("", filename, "exec").replace(co_firstlineno=max(1, line), co_name=name)
        # A function (not the bare code object), so that inspect.getmodule finds no module by
        # name at once instead of scanning every loaded module's file (about a second).
        return types.FunctionType(code, {"__name__": "<learner process>"}, name)


_PROXY_CLASSES: dict[tuple[int, type | None], type[RemoteProxy]] = {}
_MIXINS = (
    (FLAG_CALL, _Callable),
    (FLAG_LEN, _Len),
    (FLAG_GETITEM, _GetItem),
    (FLAG_ITER, _Iter),
    (FLAG_BOOL, _Bool),
)


def make_proxy(peer: Peer, handle: Handle, claimed: type | None = None) -> RemoteProxy:
    """A proxy whose type supports what the remote object's type supports, and no more.

    With ``claimed`` (a library class, see :func:`library_class`), the proxy's ``__class__`` is
    that class: ``isinstance(proxy, Pipeline)`` holds as it would for the object itself, while
    ``type(proxy)`` stays the proxy's.
    """
    flags = handle.flags
    if flags & FLAG_FUNCTION and not flags & FLAG_CALL:
        flags &= ~FLAG_FUNCTION
    cls = _PROXY_CLASSES.get((flags, claimed))
    if cls is None:
        bases: list[type[RemoteProxy]] = [m for bit, m in _MIXINS if flags & bit]
        if flags & FLAG_FUNCTION:
            bases.insert(0, _Function)
        namespace: dict[str, Any] = {"__slots__": ()}
        if claimed is not None:
            namespace["__class__"] = property(lambda _self: claimed)
        if not bases and claimed is None:
            cls = RemoteProxy
        else:
            cls = type("RemoteProxy", tuple(bases) or (RemoteProxy,), namespace)
        _PROXY_CLASSES[(flags, claimed)] = cls
    return cls(peer, handle)
