"""The wire format between the grader and its worker: framed JSON plus raw tensor bytes.

Both sides import this file: the grader as ``grader.sandbox.protocol``, the worker as a plain
``protocol`` module bound read-only into its sandbox. It therefore imports nothing from
``grader``. Nothing here ever unpickles: a tensor crosses as its dtype, shape and bytes and is
rebuilt with ``torch.frombuffer``; every other value is JSON.

A frame on a pipe::

    b"GRW1" | body length (u64) | header length (u32) | header (UTF-8 JSON) | buffer 0 | buffer 1 ...

where the body is the header followed by the buffers. The header is a JSON object::

    {"meta": {...plain JSON...}, "payload": <encoded value>, "buffers": [<descriptor>, ...]}

``meta`` says what the frame is (the request's operation, the reply's status); ``payload``
is one value in the tagged encoding below; each descriptor
``{"dtype": "float32", "shape": [2, 3], "nbytes": 24}`` describes one buffer, in order.

Values: ``None``, ``bool``, ``int``, ``str``, ``float`` (NaN and infinities included) and lists
are JSON themselves; everything else is a one-key object tagged with ``$``:

    {"$t": [...]}                    tuple
    {"$d": [[key, value], ...]}      dict with str keys (a list of pairs, so no key can clash
                                     with a tag)
    {"$tensor": i}                   tensor in buffer i
    {"$bytes": i}                    bytes in buffer i (dtype "bytes")
    {"$dtype": "float32"}            a torch.dtype
    {"$h": id, "type": ..., "repr": ...}   a handle: a reference to an object kept by the worker

The reader validates everything before trusting it: sizes against a limit before reading,
dtypes against an allow-list, each buffer's size against its shape, tags against the list
above, nesting depth. Anything else is a `ProtocolError`.
"""

from __future__ import annotations

import json
import math
import os
import struct
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

MAGIC = b"GRW1"
PREFIX = struct.Struct("<4sQI")
"""magic, body length (header + buffers), header length."""

MAX_DEPTH = 64
"""Deepest nesting of containers a value may have; deeper parts become handles."""
MAX_BUFFERS = 100_000
MAX_DIM = 1 << 40
REPR_CHARS = 200
"""A handle's repr is cut to this many characters: it is shown, never parsed."""

DTYPES: dict[str, torch.dtype] = {
    "bool": torch.bool,
    "uint8": torch.uint8,
    "int8": torch.int8,
    "int16": torch.int16,
    "int32": torch.int32,
    "int64": torch.int64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
    "complex64": torch.complex64,
    "complex128": torch.complex128,
}
"""The tensor dtypes that may cross the boundary, by name."""
DTYPE_NAMES = {dtype: name for name, dtype in DTYPES.items()}


class ProtocolError(Exception):
    """A frame or value that breaks the format (raised by the reading side)."""


@dataclass(frozen=True)
class Handle:
    """A reference to an object that stays in the worker (a module, an optimiser, a value
    that cannot cross). Only the worker that made it can resolve it."""

    id: int
    type_name: str
    repr: str
    owner: Any = field(default=None, compare=False, repr=False)
    """Set by the grader's client: which worker generation the handle belongs to."""

    def __str__(self) -> str:
        return f"<{self.type_name} in worker: {self.repr}>"


# --- encoding ---------------------------------------------------------------------------


class Encoder:
    """Turns a value into its JSON tree, collecting tensor and bytes buffers on the way.

    ``on_object`` decides what happens to a value that cannot cross (the worker keeps it and
    returns a handle tree; the grader refuses it). ``on_handle`` checks a `Handle` before it
    is sent (the grader rejects stale ones).
    """

    def __init__(
        self,
        on_object: Callable[[Any], dict[str, Any]] | None = None,
        on_handle: Callable[[Handle], None] | None = None,
    ) -> None:
        self.descriptors: list[dict[str, Any]] = []
        self.buffers: list[memoryview] = []
        self._on_object = on_object
        self._on_handle = on_handle

    def encode(self, value: Any, depth: int = 0) -> Any:
        # Exact type checks: a subclass of float or dict may override __eq__ or __iter__,
        # so it is not trusted to behave like the builtin; it goes to on_object instead.
        kind = type(value)
        if value is None or kind in (bool, int, str):
            return value
        if kind is float:
            return value
        if depth >= MAX_DEPTH:
            return self._object(value)
        if kind is list:
            return [self.encode(v, depth + 1) for v in value]
        if kind is tuple or kind is torch.Size:
            return {"$t": [self.encode(v, depth + 1) for v in value]}
        # OrderedDict (what state_dict() returns) behaves exactly like a dict here.
        if kind in (dict, OrderedDict) and all(type(k) is str for k in value):
            return {"$d": [[k, self.encode(v, depth + 1)] for k, v in value.items()]}
        if isinstance(value, torch.Tensor) and _plain_tensor(value):
            return {"$tensor": self._add_tensor(value)}
        if kind is bytes or kind is bytearray:
            return {"$bytes": self._add_bytes(bytes(value))}
        if kind is torch.dtype and value in DTYPE_NAMES:
            return {"$dtype": DTYPE_NAMES[value]}
        if kind is Handle:
            if self._on_handle is not None:
                self._on_handle(value)
            return {"$h": value.id}
        return self._object(value)

    def _object(self, value: Any) -> dict[str, Any]:
        if self._on_object is None:
            raise TypeError(f"a {type(value).__name__} cannot cross the sandbox boundary")
        return self._on_object(value)

    def _add_tensor(self, tensor: torch.Tensor) -> int:
        # A tensor subclass could override any method, so strip it to a plain tensor first;
        # conj/neg bits and non-contiguous strides are materialised so the bytes are the values.
        plain = tensor.detach().as_subclass(torch.Tensor).cpu()
        plain = plain.resolve_conj().resolve_neg().contiguous()
        raw = memoryview(plain.reshape(-1).view(torch.uint8).numpy()).cast("B")
        self.descriptors.append(
            {
                "dtype": DTYPE_NAMES[plain.dtype],
                "shape": list(plain.shape),
                "nbytes": raw.nbytes,
                "requires_grad": bool(tensor.requires_grad),
            }
        )
        self.buffers.append(raw)
        return len(self.buffers) - 1

    def _add_bytes(self, data: bytes) -> int:
        self.descriptors.append({"dtype": "bytes", "shape": [len(data)], "nbytes": len(data)})
        self.buffers.append(memoryview(data))
        return len(self.buffers) - 1


def _plain_tensor(tensor: torch.Tensor) -> bool:
    """Whether the tensor's values can cross as bytes (dense, strided, allowed dtype)."""
    return tensor.layout == torch.strided and tensor.dtype in DTYPE_NAMES and not tensor.is_meta


def handle_tree(handle_id: int, value: Any) -> dict[str, Any]:
    """The wire form of a new handle to ``value`` (used by the worker)."""
    return {"$h": handle_id, "type": type(value).__name__, "repr": safe_repr(value)}


def safe_repr(value: Any, limit: int = REPR_CHARS) -> str:
    """``repr`` that survives a failing ``__repr__`` and is cut to ``limit`` characters."""
    try:
        text = repr(value)
        if type(text) is not str:
            raise TypeError("__repr__ returned a non-string")
    except Exception as exc:  # noqa: BLE001 - the object is untrusted: any failure is only reported
        text = f"<{type(value).__name__}, repr failed: {type(exc).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def frame(meta: dict[str, Any], tree: Any, encoder: Encoder) -> list[memoryview]:
    """The frame for ``meta`` and an encoded payload, as chunks to write in order."""
    header = json.dumps(
        {"meta": meta, "payload": tree, "buffers": encoder.descriptors}, separators=(",", ":")
    ).encode("utf-8")
    body_len = len(header) + sum(b.nbytes for b in encoder.buffers)
    prefix = PREFIX.pack(MAGIC, body_len, len(header))
    return [memoryview(prefix), memoryview(header), *encoder.buffers]


# --- decoding ---------------------------------------------------------------------------


@dataclass
class Header:
    """A parsed, validated frame header: what the buffers that follow must be."""

    meta: dict[str, Any]
    payload: Any
    descriptors: list[dict[str, Any]]


def parse_prefix(prefix: bytes, max_bytes: int) -> tuple[int, int]:
    """(body length, header length) of a frame, refusing a bad magic or an oversize body
    before a single byte of the body is read."""
    magic, body_len, header_len = PREFIX.unpack(prefix)
    if magic != MAGIC:
        raise ProtocolError(f"not a frame: starts with {prefix[:8]!r}")
    if body_len > max_bytes:
        raise ProtocolError(f"message of {_size(body_len)} is over the {_size(max_bytes)} limit")
    if header_len > body_len:
        raise ProtocolError("header longer than the message")
    return body_len, header_len


def parse_header(raw: bytes, body_len: int, header_len: int) -> Header:
    """Parse and validate a header; the buffers it describes must fill the rest of the body."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError(f"header is not JSON: {type(exc).__name__}") from None
    if type(data) is not dict or set(data) != {"meta", "payload", "buffers"}:
        raise ProtocolError("header lacks meta, payload or buffers")
    meta, descriptors = data["meta"], data["buffers"]
    if type(meta) is not dict or type(descriptors) is not list:
        raise ProtocolError("meta must be an object and buffers a list")
    if len(descriptors) > MAX_BUFFERS:
        raise ProtocolError(f"{len(descriptors)} buffers is too many")
    total = sum(_check_descriptor(d) for d in descriptors)
    if header_len + total != body_len:
        raise ProtocolError(
            f"buffers add up to {total} bytes but the message holds {body_len - header_len}"
        )
    return Header(meta=meta, payload=data["payload"], descriptors=descriptors)


def _check_descriptor(desc: Any) -> int:
    """Validate one buffer descriptor and return its byte count."""
    if type(desc) is not dict or not {"dtype", "shape", "nbytes"} <= set(desc):
        raise ProtocolError("malformed buffer descriptor")
    dtype, shape, nbytes = desc["dtype"], desc["shape"], desc["nbytes"]
    if dtype != "bytes" and dtype not in DTYPES:
        raise ProtocolError(f"dtype {str(dtype)[:40]!r} is not allowed")
    if type(shape) is not list or not all(type(n) is int and 0 <= n <= MAX_DIM for n in shape):
        raise ProtocolError("malformed shape")
    if dtype == "bytes" and len(shape) != 1:
        raise ProtocolError("bytes must be one-dimensional")
    itemsize = 1 if dtype == "bytes" else DTYPES[dtype].itemsize
    if type(nbytes) is not int or nbytes != math.prod(shape) * itemsize:
        raise ProtocolError(f"buffer of shape {shape} and dtype {dtype} cannot be {nbytes} bytes")
    return nbytes


class Decoder:
    """Rebuilds a value from its JSON tree and the buffers read after the header.

    ``on_handle(tree)`` turns a handle tree into whatever the side wants (the worker: the
    object; the grader: a `Handle`). ``keep_grad`` restores ``requires_grad`` on tensors
    (the worker wants it; the grader wants plain values).
    """

    def __init__(
        self,
        descriptors: list[dict[str, Any]],
        buffers: list[bytearray],
        on_handle: Callable[[dict[str, Any]], Any],
        keep_grad: bool = False,
    ) -> None:
        self._descriptors = descriptors
        self._buffers = buffers
        self._on_handle = on_handle
        self._keep_grad = keep_grad

    def decode(self, tree: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise ProtocolError("value nested too deeply")
        kind = type(tree)
        if tree is None or kind in (bool, int, float, str):
            return tree
        if kind is list:
            return [self.decode(v, depth + 1) for v in tree]
        if kind is not dict or not tree:
            raise ProtocolError(f"unexpected {kind.__name__} in a value")
        tag = next(iter(tree))
        if tag == "$t" and len(tree) == 1 and type(tree[tag]) is list:
            return tuple(self.decode(v, depth + 1) for v in tree[tag])
        if tag == "$d" and len(tree) == 1 and type(tree[tag]) is list:
            return self._dict(tree[tag], depth)
        if tag == "$tensor" and len(tree) == 1:
            return self._tensor(tree[tag])
        if tag == "$bytes" and len(tree) == 1:
            return bytes(self._buffer(tree[tag], "bytes"))
        if tag == "$dtype" and len(tree) == 1 and tree[tag] in DTYPES:
            return DTYPES[tree[tag]]
        if tag == "$h" and type(tree[tag]) is int and set(tree) <= {"$h", "type", "repr"}:
            if not all(type(tree.get(k, "")) is str for k in ("type", "repr")):
                raise ProtocolError("malformed handle")
            return self._on_handle(tree)
        raise ProtocolError(f"unknown tag {str(tag)[:40]!r}")

    def _dict(self, pairs: list[Any], depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for pair in pairs:
            if type(pair) is not list or len(pair) != 2 or type(pair[0]) is not str:
                raise ProtocolError("malformed dict entry")
            out[pair[0]] = self.decode(pair[1], depth + 1)
        return out

    def _buffer(self, index: Any, expected: str | None = None) -> bytearray:
        if type(index) is not int or not 0 <= index < len(self._buffers):
            raise ProtocolError("reference to a missing buffer")
        if expected is not None and self._descriptors[index]["dtype"] != expected:
            raise ProtocolError(f"buffer {index} is not {expected}")
        return self._buffers[index]

    def _tensor(self, index: Any) -> torch.Tensor:
        buf = self._buffer(index)
        desc = self._descriptors[index]
        if desc["dtype"] == "bytes":
            raise ProtocolError(f"buffer {index} holds bytes, not a tensor")
        tensor = tensor_from_buffer(buf, DTYPES[desc["dtype"]], desc["shape"])
        if self._keep_grad and desc.get("requires_grad") is True and tensor.is_floating_point():
            tensor.requires_grad_(True)
        return tensor


def tensor_from_buffer(buf: bytearray, dtype: torch.dtype, shape: list[int]) -> torch.Tensor:
    """A tensor viewing ``buf`` (no copy); the size was validated against the shape."""
    if len(buf) == 0:
        # torch.frombuffer refuses an empty buffer; an empty tensor has no bytes to view.
        return torch.empty(shape, dtype=dtype)
    return torch.frombuffer(buf, dtype=dtype).reshape(shape)


# --- blocking I/O (the worker's side; the grader reads with deadlines, see process.py) ---


def write_frame(fd: int, chunks: list[memoryview]) -> None:
    """Write every chunk of a frame to a blocking fd."""
    for chunk in chunks:
        view = chunk.cast("B") if chunk.format != "B" else chunk
        while view.nbytes:
            written = os.write(fd, view)
            view = view[written:]


def read_exact(fd: int, size: int) -> bytearray:
    """Read exactly ``size`` bytes from a blocking fd; EOF before that is an error."""
    buf = bytearray(size)
    view = memoryview(buf)
    got = 0
    while got < size:
        n = os.readv(fd, [view[got:]])
        if n == 0:
            raise EOFError("pipe closed mid-frame" if got else "pipe closed")
        got += n
    return buf


def read_frame(fd: int, max_bytes: int) -> tuple[Header, list[bytearray]]:
    """Read one whole frame from a blocking fd: its header and its buffers."""
    body_len, header_len = parse_prefix(bytes(read_exact(fd, PREFIX.size)), max_bytes)
    header = parse_header(bytes(read_exact(fd, header_len)), body_len, header_len)
    buffers = [read_exact(fd, d["nbytes"]) for d in header.descriptors]
    return header, buffers


def _size(n: int) -> str:
    """Bytes in words, for messages: ``1.5 GB``."""
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("kB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"
