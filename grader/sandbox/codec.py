"""What crosses the boundary between the grader and a worker: JSON and raw array bytes only.

A message is a header (a dict: JSON, or a fixed binary layout for the common call and reply, see
"framing" below) followed by binary blobs, each one array: a short binary header (dtype string,
memory order, shape) and the raw bytes (:func:`write_blob` / :func:`read_blob`; plain numeric dtypes
only, never objects or pickles). Values are encoded as tagged JSON trees so that tuples stay tuples,
dicts may have non-string keys, and arrays/tensors keep their dtype, shape and flags::

    None, bool, int, str          as themselves
    float                         {"$": "float", "v": "nan" | "inf" | "-inf"} when not finite
    tuple / list / dict           {"$": "tuple" | "list", "v": [...]}, {"$": "dict", "k": [...], "v": [...]}
    numpy.ndarray                 {"$": "nd", "i": blob, "ro": read-only?, "cls": subclass name or None}
    numpy scalar                  {"$": "npscalar", "i": blob}
    torch.Tensor                  {"$": "pt", "i": blob, "dtype": "float32", "rg": requires_grad, "cls": ...}
    numpy / torch dtypes          {"$": "npdtype" | "ptdtype", "v": "float32"}
    anything else (worker only)   {"$": "opaque", "type": "module.Name"}

Decoding never runs code of the sender: it builds builtins, plain ndarrays, plain tensors and the
inert placeholder classes below. This file is copied next to the worker (it must import nothing
from the grader).
"""

from __future__ import annotations

import json
import math
import struct
import sys
from marshal import dumps as _marshal_dumps  # bound before any submission code runs

import numpy as np

MAX_DEPTH = 64
MAX_ITEMS = 200_000


class CodecError(Exception):
    """A value cannot be encoded, or a message is malformed or too large."""


class TruncatedMessage(CodecError, EOFError):
    """The other side closed its end in the middle of a message (most often: its process ended)."""


class Opaque:
    """Stands for an object of a type that cannot cross the boundary (a class instance, a function, ...).

    It has no behaviour: it equals only itself, has no array interface and no length."""

    __slots__ = ("type_name",)

    def __init__(self, type_name: str):
        self.type_name = type_name

    def __repr__(self):
        return f"<{self.type_name} object (not data)>"


_FOREIGN: dict[tuple[str, str], type] = {}


def _foreign_class(base: type, qualname: str) -> type:
    """An inert subclass of ``base`` carrying the name of the sender's subclass, so that exact-type
    checks (``type(x) is np.ndarray``) fail as they would in-process, with the same type name."""
    module, _, name = qualname.rpartition(".")
    key = (base.__name__, qualname)
    if key not in _FOREIGN:
        _FOREIGN[key] = type(name or "subclass", (base,), {"__module__": module or "submission"})
    return _FOREIGN[key]


def _torch():
    return sys.modules.get("torch")


def _is_tensor(x) -> bool:
    torch = _torch()
    return torch is not None and isinstance(x, torch.Tensor)


def _qualname(t: type) -> str:
    return f"{t.__module__}.{t.__qualname__}"


def _count_items(coder, n: int) -> None:
    """``n`` more items for an Encoder or Decoder taken at once (a list of scalars): the same limit
    as one by one."""
    coder.items += n
    if coder.items > MAX_ITEMS:
        raise CodecError("value nested too deeply or too many items")


class Encoder:
    def __init__(self, strict: bool):
        self.strict = strict  # grader side: unsupported values are a grader bug, not an opaque object
        self.blobs: list[bytes] = []
        self.items = 0
        torch = _torch()
        self.tensor_type = torch.Tensor if torch is not None else ()

    def blob(self, arr: np.ndarray) -> int:
        self.blobs.append(write_blob(arr if type(arr) is np.ndarray else np.asarray(arr)))
        return len(self.blobs) - 1

    def encode(self, x, depth: int = 0):
        self.items += 1
        if depth > MAX_DEPTH or self.items > MAX_ITEMS:
            raise CodecError("value nested too deeply or too many items")
        if x is None or type(x) in (bool, int, str):
            return x
        if type(x) is float:
            return x if math.isfinite(x) else {"$": "float", "v": repr(x)}
        if type(x) in (list, tuple):
            if depth < MAX_DEPTH and all(type(v) in _SELF_ENCODED for v in x):  # ids, sentences: at once
                _count_items(self, len(x))
                return {"$": type(x).__name__, "v": list(x)}
            return {"$": type(x).__name__, "v": [self.encode(v, depth + 1) for v in x]}
        if type(x) is dict:
            return {
                "$": "dict",
                "k": [self.encode(k, depth + 1) for k in x],
                "v": [self.encode(v, depth + 1) for v in x.values()],
            }
        if isinstance(x, np.ndarray):
            if x.dtype.hasobject or x.dtype.fields is not None or x.dtype.kind not in KINDS:
                return self.opaque(x)
            cls = None if type(x) is np.ndarray else _qualname(type(x))
            return {"$": "nd", "i": self.blob(np.asarray(x)), "ro": not x.flags.writeable, "cls": cls}
        if isinstance(x, self.tensor_type):  # before the rarer kinds below, none of which is a tensor
            return self.tensor(x)
        if isinstance(x, np.generic) and not isinstance(x, np.object_) and x.dtype.kind in KINDS:
            return {"$": "npscalar", "i": self.blob(np.asarray(x))}
        if isinstance(x, np.dtype):
            return {"$": "npdtype", "v": x.str}
        if isinstance(x, type) and issubclass(x, np.generic):
            return {"$": "npdtype", "v": np.dtype(x).str}
        torch = _torch()
        if torch is not None and isinstance(x, torch.dtype):
            return {"$": "ptdtype", "v": str(x).removeprefix("torch.")}
        return self.opaque(x)

    def tensor(self, x):
        torch = _torch()
        t = x.detach()
        dtype = _TORCH_DTYPE_NAMES.get(t.dtype)
        if dtype is None:
            dtype = _TORCH_DTYPE_NAMES[t.dtype] = str(t.dtype).removeprefix("torch.")
        if t.dtype is torch.bfloat16:
            t = t.float()
        if t.is_complex() or t.layout != torch.strided or not t.is_cpu:
            return self.opaque(x)
        cls = None if type(x) is torch.Tensor or type(x) is torch.nn.Parameter else _qualname(type(x))
        if t.is_conj() or t.is_neg():
            t = t.resolve_conj().resolve_neg()
        return {"$": "pt", "i": self.blob(t.numpy()), "dtype": dtype, "rg": x.requires_grad, "cls": cls}

    def opaque(self, x):
        if self.strict:
            raise CodecError(f"cannot send a {type(x).__module__}.{type(x).__name__} to the submission")
        return {"$": "opaque", "type": _qualname(type(x))}


def encode(value, strict: bool = True) -> tuple[object, list[bytes]]:
    enc = Encoder(strict)
    return enc.encode(value), enc.blobs


def same_tree(a, b) -> bool:
    """Two encoded trees are the same: equal, and of the same type at every node (``==`` alone
    takes ``1``, ``1.0`` and ``True`` for one another, so it would miss ``ids[0] = float(ids[0])``).
    Compared as marshal version 2 bytes (a tree holds only None, bools, ints, floats, strings,
    lists and dicts): that version writes no back-references and no interning marks, so equal
    values of equal types give equal bytes; 4 times faster than a Python walk of the tree."""
    return a == b and _marshal_dumps(a, 2) == _marshal_dumps(b, 2)


KINDS = "biufcmMSU"  # bool, integers, floats, complex, time, bytes, str: the dtypes that cross
_BLOB_HEAD = struct.Struct("<B8sB6x")  # order ("C" or "F"), dtype string (e.g. "<f8"), ndim; then ndim int64
_ORDERS = (ord("C"), ord("F"))


# values that are their own tree (encode) and trees that are their own value (decode): a list of only
# these is copied as it is, not walked (a float is its own tree only when finite: not in the first)
_SELF_ENCODED = frozenset({type(None), bool, int, str})
_SELF_DECODED = frozenset({type(None), bool, int, str, float})
# what has been checked once: dtype names and codes both ways
_TORCH_DTYPE_NAMES: dict = {}  # torch.float32 -> "float32"
_TORCH_DTYPES: dict = {}  # "float32" -> torch.float32
_DTYPE_CODES: dict = {}  # np.dtype -> its dtype string as the blob head holds it, once checked
_DTYPES_READ: dict = {}  # a blob head's dtype string -> the np.dtype, once checked
_SHAPES = [struct.Struct(f"<{n}q") for n in range(65)]  # the shape after the head, by ndim


def _dtype_code(dtype: np.dtype) -> bytes:
    code = _DTYPE_CODES.get(dtype)
    if code is None:
        code = dtype.str.encode("ascii")
        if dtype.hasobject or dtype.fields is not None or dtype.kind not in KINDS or len(code) > 8:
            raise CodecError(f"cannot send an array of dtype {dtype}")
        _DTYPE_CODES[dtype] = code
    return code


def write_blob(arr: np.ndarray) -> bytes:
    """One array as bytes: ``_BLOB_HEAD``, the shape, the raw data (Fortran-ordered arrays stay so)."""
    code = _dtype_code(arr.dtype)
    if arr.ndim > 64:
        raise CodecError("an array of more than 64 dimensions")
    flags = arr.flags
    c_order, f_order = flags.c_contiguous, flags.f_contiguous
    order = "F" if f_order and not c_order else "C"
    head = _BLOB_HEAD.pack(ord(order), code, arr.ndim) + _SHAPES[arr.ndim].pack(*arr.shape)
    if c_order or f_order:  # one copy of the data, not two
        return b"".join((head, arr.reshape(-1, order=order).view(np.uint8).data))
    return head + arr.tobytes(order=order)


def read_blob(data, copy: bool = True) -> np.ndarray:
    """The array of :func:`write_blob` (a bytes-like object); anything else raises :class:`CodecError`.

    With ``copy`` the array owns a copy; without, it is a view of ``data`` when that is writable and
    aligned (a received message's buffer, which nothing else uses), else a copy."""
    try:
        order, code, ndim = _BLOB_HEAD.unpack_from(data)
        if order not in _ORDERS or ndim > 64:
            raise CodecError("malformed array")
        shape = _SHAPES[ndim].unpack_from(data, _BLOB_HEAD.size)
        dtype = _DTYPES_READ.get(code)
        checked = dtype is not None
        if not checked:
            dtype = np.dtype(code.rstrip(b"\0").decode("ascii"))
    except (struct.error, TypeError, ValueError, UnicodeDecodeError) as e:
        raise CodecError("malformed array") from e
    if not checked:
        if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None or dtype.kind not in KINDS:
            raise CodecError("object arrays are not accepted")
        if len(_DTYPES_READ) < 256:  # checked once per dtype string; a sender cannot grow it without bound
            _DTYPES_READ[code] = dtype
    start = _BLOB_HEAD.size + 8 * ndim
    if any(n < 0 for n in shape) or len(data) - start != math.prod(shape) * dtype.itemsize:
        raise CodecError("malformed array")
    if math.prod(shape) * dtype.itemsize == 0:
        return np.zeros(shape, dtype=dtype, order=chr(order))
    arr = np.frombuffer(data, dtype=dtype, offset=start).reshape(shape, order=chr(order))
    if copy or not arr.flags.writeable or not arr.flags.aligned:
        return arr.copy(order="K")
    return arr


class Decoder:
    def __init__(self, blobs: list[bytes], copy: bool = True):
        self.blobs, self.copy = blobs, copy
        self.items = 0
        self.requires_grad = False  # a tensor that requires grad was decoded

    def array(self, i) -> np.ndarray:
        if type(i) is not int or not 0 <= i < len(self.blobs):
            raise CodecError("bad blob index")
        return read_blob(self.blobs[i], self.copy)

    def decode(self, x, depth: int = 0):
        self.items += 1
        if depth > MAX_DEPTH or self.items > MAX_ITEMS:
            raise CodecError("value nested too deeply or too many items")
        if x is None or type(x) in (bool, int, str, float):
            return x
        if type(x) is not dict:
            raise CodecError("malformed value")
        tag = x.get("$")
        if tag == "float":
            return float({"nan": "nan", "inf": "inf", "-inf": "-inf"}[x["v"]])
        if tag == "list" or tag == "tuple":
            values = x["v"]
            if depth < MAX_DEPTH and all(type(v) in _SELF_DECODED for v in values):  # the same, at once
                _count_items(self, len(values))
                return list(values) if tag == "list" else tuple(values)
            items = [self.decode(v, depth + 1) for v in values]
            return items if tag == "list" else tuple(items)
        if tag == "dict":
            keys = [self.decode(k, depth + 1) for k in x["k"]]
            if len(keys) != len(x["v"]):
                raise CodecError("malformed dict")
            return {k: self.decode(v, depth + 1) for k, v in zip(keys, x["v"], strict=True)}
        if tag == "nd":
            arr = self.array(x["i"])
            if x.get("cls"):
                arr = arr.view(_foreign_class(np.ndarray, str(x["cls"])[:200]))
            if x.get("ro"):
                arr.flags.writeable = False
            return arr
        if tag == "npscalar":
            return self.array(x["i"])[()]
        if tag == "npdtype":
            return np.dtype(str(x["v"]))
        if tag == "pt":
            return self.tensor(x)
        if tag == "ptdtype":
            import torch

            dtype = getattr(torch, str(x["v"]), None)
            if not isinstance(dtype, torch.dtype):
                raise CodecError("unknown torch dtype")
            return dtype
        if tag == "opaque":
            return Opaque(str(x.get("type", "object"))[:200])
        raise CodecError(f"unknown tag {str(tag)[:20]!r}")

    def tensor(self, x):
        import torch

        arr = self.array(x["i"])
        name = x["dtype"]
        dtype = _TORCH_DTYPES.get(name) if type(name) is str else None
        if dtype is None:
            dtype = getattr(torch, str(name), None)
            if not isinstance(dtype, torch.dtype):
                raise CodecError("unknown torch dtype")
            if len(_TORCH_DTYPES) < 64:
                _TORCH_DTYPES[name] = dtype
        if not arr.flags.writeable:
            arr = arr.copy()
        t = torch.from_numpy(arr)
        if t.dtype is not dtype:  # bfloat16 travels as float32
            t = t.to(dtype)
        if x.get("cls"):
            t = t.as_subclass(_foreign_class(torch.Tensor, str(x["cls"])[:200]))
        if x.get("rg") and (t.is_floating_point() or t.is_complex()):
            t.requires_grad_(True)
            self.requires_grad = True
        return t


def decode(tree, blobs: list[bytes], copy: bool = True):
    """The value of ``encode``; ``copy=False`` lets arrays be views of a received message's buffer."""
    return Decoder(blobs, copy).decode(tree)


# --- framing: one message = a fixed frame head, then a body of the length it announces -------------
#
# The frame head (``_FRAME``: magic, kind, head length, blob count, body length) is read first, so
# that the body's size is checked before anything is allocated. The body is the message head (JSON,
# or for the two common messages a fixed binary layout), a table of blob lengths and the blobs, each
# part padded to 8 bytes (array data stays aligned). A message is written with one ``writev``.
#
# The common messages are a call whose arguments are plain arrays only and its reply whose result is
# one plain array or a tuple of them ("plain" in the header): the arrays are the blobs, in order, and
# no JSON is made or parsed. Any other header is sent as JSON; both read back as the same dict.

MAGIC = b"GRD\x01"
_FRAME = struct.Struct("<4sB3xIIQ")  # magic, kind, head length, blob count, body length
KIND_JSON, KIND_CALL, KIND_REPLY = 1, 2, 3
_CALL = struct.Struct("<q?xHI")  # call id, grad enabled, name length, context length; then name, context
_REPLY = struct.Struct("<q??6xd")  # call id, global RNG used, result is one array (else a tuple), CPU-s
_CALL_KEYS = frozenset({"op", "id", "name", "grad", "context", "plain"})
_REPLY_KEYS = frozenset({"id", "global_rng", "cpu", "plain", "warnings"})
MAX_BLOBS = 100_000
_IOV_MAX = 512  # iovecs per writev (the kernel accepts 1024)


def _padding(n: int) -> bytes:
    return b"\0" * (-n % 8)


def _padded(n: int) -> int:
    return n + (-n % 8)


def plain_blobs(values) -> list[bytes] | None:
    """The blobs of a tuple of plain arrays (exactly ``np.ndarray``, writable, a dtype that crosses),
    in order; None for any other value (it goes the general way, with its flags and types)."""
    if type(values) is not tuple or len(values) > MAX_BLOBS:
        return None
    blobs = []
    for v in values:
        if type(v) is not np.ndarray or not v.flags.writeable or v.dtype.hasobject or v.dtype.fields is not None:
            return None
        if v.dtype.kind not in KINDS:
            return None
        blobs.append(write_blob(v))
    return blobs


def read_plain(blobs, copy: bool = True) -> tuple:
    """The tuple of arrays of :func:`plain_blobs`."""
    return tuple(read_blob(b, copy) for b in blobs)


def _id_fits(x) -> bool:
    return type(x) is int and -(1 << 63) <= x < 1 << 63


def _fixed_head(header: dict) -> tuple[int, bytes] | None:
    """(kind, head) for the two common messages; None for every other header."""
    keys = header.keys()
    if keys == _CALL_KEYS and header["op"] == "call" and header["plain"] == "tuple" and _id_fits(header["id"]):
        name, context, grad = header["name"], header["context"], header["grad"]
        if type(name) is str and type(context) is str and type(grad) is bool:
            try:
                name_b, context_b = name.encode("utf-8"), context.encode("utf-8")
            except UnicodeEncodeError:
                return None
            if len(name_b) < 1 << 16 and len(context_b) < 1 << 32:
                return KIND_CALL, _CALL.pack(header["id"], grad, len(name_b), len(context_b)) + name_b + context_b
    if keys == _REPLY_KEYS and header["warnings"] == [] and header["plain"] in ("tuple", "array"):
        used, cpu = header["global_rng"], header["cpu"]
        if _id_fits(header["id"]) and type(used) is bool and type(cpu) is float:
            return KIND_REPLY, _REPLY.pack(header["id"], used, header["plain"] == "array", cpu)
    return None


def _read_fixed_head(kind: int, head: memoryview) -> dict:
    if kind == KIND_CALL:
        call_id, grad, name_len, context_len = _CALL.unpack_from(head)
        if _CALL.size + name_len + context_len != len(head):
            raise CodecError("malformed call")
        name = bytes(head[_CALL.size : _CALL.size + name_len]).decode("utf-8")
        context = bytes(head[_CALL.size + name_len :]).decode("utf-8")
        return {"op": "call", "id": call_id, "name": name, "grad": grad, "context": context, "plain": "tuple"}
    if kind == KIND_REPLY:
        if len(head) != _REPLY.size:
            raise CodecError("malformed reply")
        call_id, used, one, cpu = _REPLY.unpack(head)
        return {"id": call_id, "global_rng": used, "cpu": cpu, "plain": "array" if one else "tuple", "warnings": []}
    if kind != KIND_JSON:
        raise CodecError(f"unknown message kind {kind}")
    header = json.loads(bytes(head).decode("utf-8"))
    if type(header) is not dict:
        raise CodecError("malformed message")
    return header


def frame(header: dict, blobs=()) -> list[bytes]:
    """The parts of one message (their concatenation is what :func:`read_message` reads)."""
    fixed = _fixed_head(header)
    kind, head = fixed if fixed is not None else (KIND_JSON, json.dumps(header, allow_nan=False).encode("utf-8"))
    parts = [b"", head, _padding(len(head)), struct.pack(f"<{len(blobs)}Q", *map(len, blobs))]
    for b in blobs:
        parts += [b, _padding(len(b))]
    body = sum(map(len, parts))
    parts[0] = _FRAME.pack(MAGIC, kind, len(head), len(blobs), body)
    return parts


def write_message(fd: int, header: dict, blobs=()) -> None:
    _write_all(fd, frame(header, list(blobs)))


def _write_all(fd: int, parts: list) -> None:
    """``writev`` until every part is written (a pipe may take less than all at once)."""
    import os

    i = 0
    while i < len(parts):
        n = os.writev(fd, parts[i : i + _IOV_MAX])
        while i < len(parts) and n >= len(parts[i]):
            n -= len(parts[i])
            i += 1
        if n:
            parts[i] = memoryview(parts[i])[n:]


def read_exact(readinto, n: int) -> bytearray:
    """``n`` bytes with ``readinto(view)`` (fills at most len(view) bytes, returns the count, 0 at
    EOF). EOF before the first byte is :class:`EOFError` (the other side closed between messages);
    EOF later is :class:`TruncatedMessage` (a :class:`CodecError` and an :class:`EOFError`)."""
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        k = readinto(view[got:])
        if not k:
            if got:
                raise TruncatedMessage(f"truncated message ({got} of {n} bytes)")
            raise EOFError("the other side closed the connection")
        got += k
    return buf


def read_message(readinto, max_bytes: int) -> tuple[dict, list[memoryview]]:
    """Read one message (see :func:`read_exact` for ``readinto``); refuse a body of more than
    ``max_bytes`` before reading it. The blobs are views of one buffer (writable, 8-byte aligned)."""
    magic, kind, head_len, n_blobs, body_len = _FRAME.unpack(read_exact(readinto, _FRAME.size))
    if magic != MAGIC:
        raise CodecError("not a message of the sandbox (wrong magic)")
    if body_len > max_bytes:
        raise CodecError(f"message too large ({body_len} bytes, at most {max_bytes})")
    table = _padded(head_len)
    if n_blobs > MAX_BLOBS or table + 8 * n_blobs > body_len:
        raise CodecError("malformed message")
    try:
        body = memoryview(read_exact(readinto, body_len))
    except TruncatedMessage:
        raise
    except EOFError:
        raise TruncatedMessage("truncated message (no body)") from None
    sizes = struct.unpack_from(f"<{n_blobs}Q", body, table)
    blobs, pos = [], table + 8 * n_blobs
    for size in sizes:
        if size > body_len - pos:
            raise CodecError("malformed message (blob lengths)")
        blobs.append(body[pos : pos + size])
        pos = _padded(pos + size)
    if pos != body_len:
        raise CodecError("malformed message (length)")
    try:
        return _read_fixed_head(kind, body[:head_len]), blobs
    except (ValueError, struct.error, RecursionError) as e:  # UnicodeDecodeError and JSON errors are ValueErrors
        raise CodecError(f"malformed message head ({type(e).__name__})") from None


if __name__ == "codec":  # the worker's copy, loaded before any confinement hides this folder:
    import guard  # noqa: E402, F401 - the run-time check of forbidden shortcuts (guard.py) comes with it
