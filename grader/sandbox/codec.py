"""What crosses the boundary between the grader and a worker: JSON and raw array bytes only.

A message is a JSON header followed by binary blobs, each one array: a short binary header (dtype
string, memory order, shape) and the raw bytes (:func:`write_blob` / :func:`read_blob`; plain
numeric dtypes only, never objects or pickles). Values are encoded as tagged JSON trees so that tuples stay tuples,
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

import numpy as np

MAX_DEPTH = 64
MAX_ITEMS = 200_000


class CodecError(Exception):
    """A value cannot be encoded, or a message is malformed or too large."""


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


class Encoder:
    def __init__(self, strict: bool):
        self.strict = strict  # grader side: unsupported values are a grader bug, not an opaque object
        self.blobs: list[bytes] = []
        self.items = 0

    def blob(self, arr: np.ndarray) -> int:
        self.blobs.append(write_blob(np.asarray(arr)))
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
        if isinstance(x, np.generic) and not isinstance(x, np.object_) and x.dtype.kind in KINDS:
            return {"$": "npscalar", "i": self.blob(np.asarray(x))}
        if isinstance(x, np.dtype):
            return {"$": "npdtype", "v": x.str}
        if isinstance(x, type) and issubclass(x, np.generic):
            return {"$": "npdtype", "v": np.dtype(x).str}
        if _is_tensor(x):
            return self.tensor(x)
        torch = _torch()
        if torch is not None and isinstance(x, torch.dtype):
            return {"$": "ptdtype", "v": str(x).removeprefix("torch.")}
        return self.opaque(x)

    def tensor(self, x):
        torch = _torch()
        t = x.detach()
        dtype = str(t.dtype).removeprefix("torch.")
        if t.dtype in (torch.bfloat16,):
            t = t.float()
        if t.is_complex() or t.layout != torch.strided or t.device.type != "cpu":
            return self.opaque(x)
        cls = None if type(x) is torch.Tensor or type(x) is torch.nn.Parameter else _qualname(type(x))
        return {"$": "pt", "i": self.blob(t.resolve_conj().resolve_neg().numpy()), "dtype": dtype,
                "rg": bool(x.requires_grad), "cls": cls}  # fmt: skip

    def opaque(self, x):
        if self.strict:
            raise CodecError(f"cannot send a {type(x).__module__}.{type(x).__name__} to the submission")
        return {"$": "opaque", "type": _qualname(type(x))}


def encode(value, strict: bool = True) -> tuple[object, list[bytes]]:
    enc = Encoder(strict)
    return enc.encode(value), enc.blobs


KINDS = "biufcmMSU"  # bool, integers, floats, complex, time, bytes, str: the dtypes that cross
_BLOB_HEAD = struct.Struct("<B8sB")  # order ("C" or "F"), dtype string (e.g. "<f8"), ndim; then ndim int64


def write_blob(arr: np.ndarray) -> bytes:
    """One array as bytes: ``_BLOB_HEAD``, the shape, the raw data (Fortran-ordered arrays stay so)."""
    if arr.dtype.hasobject or arr.dtype.fields is not None or arr.dtype.kind not in KINDS:
        raise CodecError(f"cannot send an array of dtype {arr.dtype}")
    order = "F" if arr.flags.f_contiguous and not arr.flags.c_contiguous else "C"
    dtype = arr.dtype.str.encode("ascii")
    if len(dtype) > 8:
        raise CodecError(f"cannot send an array of dtype {arr.dtype}")
    head = _BLOB_HEAD.pack(ord(order), dtype, arr.ndim) + struct.pack(f"<{arr.ndim}q", *arr.shape)
    return head + arr.tobytes(order=order)


def read_blob(data: bytes) -> np.ndarray:
    """The array of :func:`write_blob` (a writable copy); anything else raises :class:`CodecError`."""
    try:
        order, dtype, ndim = _BLOB_HEAD.unpack_from(data)
        if chr(order) not in "CF" or ndim > 64:
            raise CodecError("malformed array")
        shape = struct.unpack_from(f"<{ndim}q", data, _BLOB_HEAD.size)
        dtype = np.dtype(dtype.rstrip(b"\0").decode("ascii"))
    except (struct.error, TypeError, ValueError, UnicodeDecodeError) as e:
        raise CodecError("malformed array") from e
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None or dtype.kind not in KINDS:
        raise CodecError("object arrays are not accepted")
    start = _BLOB_HEAD.size + 8 * ndim
    if any(n < 0 for n in shape) or len(data) - start != math.prod(shape) * dtype.itemsize:
        raise CodecError("malformed array")
    if math.prod(shape) * dtype.itemsize == 0:
        return np.zeros(shape, dtype=dtype, order=chr(order))
    flat = np.frombuffer(data, dtype=dtype, offset=start)
    return flat.reshape(shape, order=chr(order)).copy(order="K")


class Decoder:
    def __init__(self, blobs: list[bytes]):
        self.blobs = blobs
        self.items = 0

    def array(self, i) -> np.ndarray:
        if type(i) is not int or not 0 <= i < len(self.blobs):
            raise CodecError("bad blob index")
        return read_blob(self.blobs[i])

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
        if tag == "list":
            return [self.decode(v, depth + 1) for v in x["v"]]
        if tag == "tuple":
            return tuple(self.decode(v, depth + 1) for v in x["v"])
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
        dtype = getattr(torch, str(x["dtype"]), None)
        if not isinstance(dtype, torch.dtype):
            raise CodecError("unknown torch dtype")
        if not arr.flags.writeable:
            arr = arr.copy()
        t = torch.from_numpy(arr).to(dtype)
        if x.get("cls"):
            t = t.as_subclass(_foreign_class(torch.Tensor, str(x["cls"])[:200]))
        if x.get("rg") and (t.is_floating_point() or t.is_complex()):
            t.requires_grad_(True)
        return t


def decode(tree, blobs: list[bytes]):
    return Decoder(blobs).decode(tree)


# --- framing: one message = header length, JSON header, blob count and blobs ------------------


def write_message(fd: int, header: dict, blobs: list[bytes] = ()) -> None:
    import os

    head = json.dumps(header, allow_nan=False).encode("utf-8")
    parts = [struct.pack("<QI", len(head), len(blobs)), head]
    for b in blobs:
        parts += [struct.pack("<Q", len(b)), b]
    data = b"".join(parts)
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _read_exact(read, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = read(min(n - got, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the connection")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_message(read, max_bytes: int) -> tuple[dict, list[bytes]]:
    """Read one message with ``read(n)`` (returns at most n bytes, b"" at EOF); refuse more than
    ``max_bytes`` in total before reading it."""
    head_len, n_blobs = struct.unpack("<QI", _read_exact(read, 12))
    total = head_len
    if total > max_bytes or n_blobs > 100_000:
        raise CodecError(f"message too large ({total} bytes)")
    header = json.loads(_read_exact(read, head_len).decode("utf-8"))
    if type(header) is not dict:
        raise CodecError("malformed message")
    blobs = []
    for _ in range(n_blobs):
        (size,) = struct.unpack("<Q", _read_exact(read, 8))
        total += size
        if total > max_bytes:
            raise CodecError(f"message too large (more than {max_bytes} bytes)")
        blobs.append(_read_exact(read, size))
    return header, blobs


if __name__ == "codec":  # the worker's copy, loaded before any confinement hides this folder:
    import guard  # noqa: E402, F401 - the run-time check of forbidden shortcuts (guard.py) comes with it
