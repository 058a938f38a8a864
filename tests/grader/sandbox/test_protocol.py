"""The wire format on its own (no worker): values survive a round trip exactly, and the
reader refuses every malformed frame before trusting it."""

from __future__ import annotations

import json
import math
import os
import struct
from collections import OrderedDict
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.sandbox import protocol
from grader.sandbox.protocol import Decoder, Encoder, Handle, ProtocolError

MAX = 1 << 20
DEEP = json.loads("[" * (protocol.MAX_DEPTH + 5) + "]" * (protocol.MAX_DEPTH + 5))


def round_trip(value: Any, on_handle: Any = None) -> Any:
    """Encode ``value`` into a frame, push it through a real pipe, read it back, decode it."""
    encoder = Encoder(on_object=lambda obj: protocol.handle_tree(7, obj))
    chunks = protocol.frame({"seq": 1}, encoder.encode(value), encoder)
    read_fd, write_fd = os.pipe()
    try:
        payload = b"".join(bytes(c) for c in chunks)
        assert len(payload) < 60_000, "keep test frames inside one pipe buffer"
        os.write(write_fd, payload)
        header, buffers = protocol.read_frame(read_fd, MAX)
    finally:
        os.close(read_fd)
        os.close(write_fd)
    assert header.meta == {"seq": 1}
    decoder = Decoder(header.descriptors, buffers, on_handle or (lambda tree: tree))
    return decoder.decode(header.payload)


def frame_bytes(
    header: dict[str, Any] | bytes, buffers: bytes = b"", body: int | None = None
) -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    length = len(raw) + len(buffers) if body is None else body
    return protocol.PREFIX.pack(protocol.MAGIC, length, len(raw)) + raw + buffers


def parse(data: bytes, max_bytes: int = MAX) -> Any:
    """Run the reading side's checks over raw bytes."""
    body_len, header_len = protocol.parse_prefix(data[: protocol.PREFIX.size], max_bytes)
    start = protocol.PREFIX.size
    header = protocol.parse_header(data[start : start + header_len], body_len, header_len)
    buffers, offset = [], start + header_len
    for desc in header.descriptors:
        buffers.append(bytearray(data[offset : offset + desc["nbytes"]]))
        offset += desc["nbytes"]
    return Decoder(header.descriptors, buffers, lambda tree: tree).decode(header.payload)


# --- round trips ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", list(protocol.DTYPES.values()), ids=list(protocol.DTYPES))
@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 0, 4), (2, 3, 4)], ids=str)
def test_tensor_round_trip_every_dtype_and_shape(
    dtype: torch.dtype, shape: tuple[int, ...]
) -> None:
    generator = torch.Generator().manual_seed(0)
    source = (torch.rand(shape, generator=generator) * 100 - 50).to(dtype)
    if dtype.is_complex:
        source = source + 1j * source
    back = round_trip(source)
    assert back.dtype == dtype
    assert back.shape == torch.Size(shape)
    assert torch.equal(back, source)


def test_non_contiguous_conjugated_and_parameter_tensors_cross_as_their_values() -> None:
    base = torch.arange(12.0).reshape(3, 4)
    complex_values = torch.tensor([1 + 2j, 3 - 4j]).conj()
    parameter = torch.nn.Parameter(torch.ones(2))
    back = round_trip([base.t(), complex_values, parameter, base[:, 1]])
    assert torch.equal(back[0], base.t())
    assert torch.equal(back[1], torch.tensor([1 - 2j, 3 + 4j]))
    assert type(back[2]) is torch.Tensor and torch.equal(back[2], torch.ones(2))
    assert torch.equal(back[3], torch.tensor([1.0, 5.0, 9.0]))


def test_nested_plain_values_round_trip_exactly() -> None:
    value = {
        "none": None,
        "flags": [True, False],
        "ints": (0, -1, 2**62),
        "floats": [0.5, -0.0, math.inf, -math.inf],
        "text": "naïve ✓",
        "nested": {"tuple": (1, [2, (3,)]), "empty": ({}, [], ())},
        "bytes": b"\x00\x01raw",
        "dtype": torch.bfloat16,
        "size": torch.Size([2, 3]),
        "ordered": OrderedDict(weight=1.5),
    }
    back = round_trip(value)
    expected = dict(value, size=(2, 3))
    assert back == expected
    assert type(back["ints"]) is tuple and type(back["nested"]["tuple"][1][1]) is tuple
    assert math.copysign(1.0, back["floats"][1]) == -1.0


def test_nan_survives() -> None:
    back = round_trip([math.nan, torch.tensor([math.nan, 1.0])])
    assert math.isnan(back[0])
    assert torch.isnan(back[1][0]) and back[1][1] == 1.0


plain = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=60, derandomize=True, database=None)
@given(plain)
def test_any_plain_value_round_trips(value: Any) -> None:
    assert round_trip(value) == value


def test_objects_that_cannot_cross_become_handles() -> None:
    class Opaque:
        pass

    class SlyFloat(float):
        def __eq__(self, other: object) -> bool:
            return True

    back = round_trip([Opaque(), SlyFloat(1.0), {1: "int key"}, torch.zeros(2).to_sparse()])
    assert [tree["type"] for tree in back] == ["Opaque", "SlyFloat", "dict", "Tensor"]
    assert all(tree["$h"] == 7 for tree in back)


def test_handles_are_sent_by_id_and_checked_by_the_sender() -> None:
    handle = Handle(id=42, type_name="Module", repr="M()")
    assert round_trip([handle], on_handle=lambda tree: ("resolved", tree["$h"])) == [
        ("resolved", 42)
    ]

    def refuse(h: Handle) -> None:
        raise LookupError(f"stale {h.id}")

    with pytest.raises(LookupError, match="stale 42"):
        Encoder(on_handle=refuse).encode({"target": handle})


def test_the_grader_refuses_to_send_what_cannot_cross() -> None:
    with pytest.raises(TypeError, match="cannot cross"):
        Encoder().encode([object()])


def test_deep_nesting_becomes_a_handle_instead_of_a_recursion_error() -> None:
    deep: list[Any] = []
    for _ in range(protocol.MAX_DEPTH + 5):
        deep = [deep]
    tree = Encoder(on_object=lambda obj: {"$h": 1, "type": "list", "repr": "..."}).encode(deep)
    depth = 0
    while isinstance(tree, list):
        tree, depth = tree[0], depth + 1
    assert depth == protocol.MAX_DEPTH and tree["$h"] == 1


def test_handle_repr_is_safe_and_short() -> None:
    class Loud:
        def __repr__(self) -> str:
            return "x" * 10_000

    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert len(protocol.safe_repr(Loud())) == protocol.REPR_CHARS
    assert "repr failed" in protocol.safe_repr(Broken())


# --- the reader refuses -------------------------------------------------------------------


def test_bad_magic_is_refused() -> None:
    with pytest.raises(ProtocolError, match="not a frame"):
        parse(b"HTTP/1.1 200 OK\r\n\r\n" + bytes(20))


def test_oversize_message_is_refused_from_its_prefix_alone() -> None:
    prefix = protocol.PREFIX.pack(protocol.MAGIC, 1 << 40, 10)
    with pytest.raises(ProtocolError, match="over the .* limit"):
        protocol.parse_prefix(prefix, MAX)


@pytest.mark.parametrize(
    ("header", "buffers", "message"),
    [
        (b"{not json", b"", "not JSON"),
        (b"[[[[" * 50_000, b"", "not JSON|meta"),
        ({"meta": {}}, b"", "lacks"),
        ({"meta": [], "payload": None, "buffers": []}, b"", "meta must be"),
        (
            {
                "meta": {},
                "payload": None,
                "buffers": [{"dtype": "object", "shape": [1], "nbytes": 8}],
            },
            bytes(8),
            "not allowed",
        ),
        (
            {
                "meta": {},
                "payload": None,
                "buffers": [{"dtype": "float32", "shape": [10**6], "nbytes": 4}],
            },
            bytes(4),
            "cannot be 4 bytes",
        ),
        (
            {
                "meta": {},
                "payload": None,
                "buffers": [{"dtype": "float32", "shape": [-1], "nbytes": 4}],
            },
            bytes(4),
            "malformed shape",
        ),
        (
            {
                "meta": {},
                "payload": None,
                "buffers": [{"dtype": "float32", "shape": [2], "nbytes": 8}],
            },
            bytes(4),
            "add up",
        ),
        ({"meta": {}, "payload": {"$pickle": "gASV"}, "buffers": []}, b"", "unknown tag"),
        ({"meta": {}, "payload": {"$tensor": 3}, "buffers": []}, b"", "missing buffer"),
        ({"meta": {}, "payload": {"plain": "object"}, "buffers": []}, b"", "unknown tag"),
        ({"meta": {}, "payload": {"$h": 1, "type": 5}, "buffers": []}, b"", "malformed handle"),
        ({"meta": {}, "payload": {"$dtype": "object"}, "buffers": []}, b"", "unknown tag"),
        (
            {
                "meta": {},
                "payload": {"$bytes": 0},
                "buffers": [{"dtype": "uint8", "shape": [1], "nbytes": 1}],
            },
            b"\x00",
            "is not bytes",
        ),
        ({"meta": {}, "payload": DEEP, "buffers": []}, b"", "too deeply"),
    ],
)
def test_malformed_frames_are_refused(header: Any, buffers: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        parse(frame_bytes(header, buffers))


def test_integers_too_long_to_parse_are_refused() -> None:
    raw = b'{"meta": {}, "payload": ' + b"9" * 50_000 + b', "buffers": []}'
    with pytest.raises(ProtocolError, match="not JSON"):
        parse(frame_bytes(raw))


def test_a_frame_cut_short_is_an_eof() -> None:
    data = frame_bytes({"meta": {}, "payload": None, "buffers": []})
    read_fd, write_fd = os.pipe()
    os.write(write_fd, data[:-3])
    os.close(write_fd)
    try:
        with pytest.raises(EOFError):
            protocol.read_frame(read_fd, MAX)
    finally:
        os.close(read_fd)


def test_received_tensors_are_plain_and_writable() -> None:
    back = round_trip(torch.ones(3, requires_grad=True))
    assert not back.requires_grad  # the grader gets values, not autograd graphs
    back += 1  # a buffer the grader owns: no read-only-memory warnings or errors
    assert torch.equal(back, torch.full((3,), 2.0))
    assert struct.calcsize("<4sQI") == protocol.PREFIX.size
