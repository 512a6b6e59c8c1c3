"""The sandbox's message framing (grader/sandbox/codec.py): a fixed frame head announcing the body's
length, a fixed binary head for the common call and reply (plain arrays, no JSON) and JSON for the
rest. Every malformed or oversized frame is refused before anything of its size is allocated.

Each refusal check is also run against a decoder with that check removed (a mutant made from the
real source), which it must catch: the checks can fail."""

from __future__ import annotations

import inspect
import math
import os
import struct

import numpy as np
import pytest

from grader.sandbox import codec

X = np.arange(12.0).reshape(3, 4)
CALL = {"op": "call", "id": 7, "name": "softmax", "grad": True, "context": '[{"all": "warn"}, []]', "plain": "tuple"}
REPLY = {"id": 7, "global_rng": False, "cpu": 0.25, "plain": "array", "warnings": []}


def message(header: dict, blobs=()) -> bytes:
    return b"".join(codec.frame(header, list(blobs)))


class Stream:
    """``readinto`` over fixed bytes; remembers the largest read it was asked for."""

    def __init__(self, data: bytes):
        self.data, self.pos, self.largest = data, 0, 0

    def __call__(self, view) -> int:
        self.largest = max(self.largest, len(view))
        n = min(len(view), len(self.data) - self.pos)
        view[:n] = self.data[self.pos : self.pos + n]
        self.pos += n
        return n


def read(data: bytes, max_bytes: int = 1 << 20, decoder=None):
    return (decoder or codec.read_message)(Stream(data), max_bytes)


def kind_of(data: bytes) -> int:
    return codec._FRAME.unpack_from(data)[1]


def test_the_common_call_and_reply_have_no_json_and_read_back_the_same():
    for header, kind in ((CALL, codec.KIND_CALL), (REPLY, codec.KIND_REPLY)):
        data = message(header, codec.plain_blobs((X, X[:1])))
        assert kind_of(data) == kind and b"{" not in data[codec._FRAME.size : codec._FRAME.size + 24]
        back, blobs = read(data)
        assert back == header and [a.tolist() for a in codec.read_plain(blobs)] == [X.tolist(), X[:1].tolist()]


def test_any_other_header_goes_as_json_and_reads_back_the_same():
    others = [{**CALL, "forbidden": {"f": ["x"]}}, {**REPLY, "warnings": [["UserWarning", "w"]]},
              {**CALL, "plain": "no"}, {**REPLY, "cpu": 1}, {"id": 1, "error": {"mro": [], "msg": "é"}}]  # fmt: skip
    for header in others:
        data = message(header)
        assert kind_of(data) == codec.KIND_JSON and read(data)[0] == header


def test_plain_arrays_are_exactly_writable_ndarrays():
    assert codec.plain_blobs((X, np.zeros(0, np.int8))) is not None
    ro = X.copy()
    ro.flags.writeable = False
    for value in ((ro,), (X.view(np.matrix),), (X, 1), [X], (np.array([object()]),)):
        assert codec.plain_blobs(value) is None


def test_received_arrays_are_aligned_writable_views_unless_a_copy_is_asked_for():
    _, blobs = read(message(REPLY, codec.plain_blobs((X.astype(np.complex128), X.T))))
    views, copies = codec.read_plain(blobs, copy=False), codec.read_plain(blobs)
    for view, copy in zip(views, copies):
        assert view.flags.writeable and view.flags.aligned and not view.flags.owndata and copy.flags.owndata
    assert np.array_equal(views[1], X.T) and views[1].flags.f_contiguous


def test_a_message_crosses_a_pipe_in_one_piece_with_many_blobs():
    r, w = os.pipe()
    try:
        blobs = codec.plain_blobs(tuple(np.full(3, i) for i in range(600)))  # more than one writev's iovecs
        codec.write_message(w, CALL, blobs)
        header, got = codec.read_message(lambda view: os.readv(r, [view]), 1 << 20)
    finally:
        os.close(r)
        os.close(w)
    assert header == CALL and [int(a[0]) for a in codec.read_plain(got)] == list(range(600))


def test_a_message_written_in_pieces_arrives_whole(monkeypatch):
    """A write may take less than all it is given (a signal, a full pipe): the rest follows."""
    real_writev, written = os.writev, []

    def writev_at_most_1000(fd, buffers):
        data = b"".join(bytes(b) for b in buffers)[:997]
        written.append(len(data))
        assert sum(written) < 20_000, "more written than the message holds"
        return real_writev(fd, [data])

    monkeypatch.setattr(os, "writev", writev_at_most_1000)
    r, w = os.pipe()
    try:
        codec.write_message(w, REPLY, codec.plain_blobs((X, np.arange(500))))  # about 5 kB
        header, blobs = codec.read_message(lambda v: os.readv(r, [v]), 1 << 20)
    finally:
        os.close(r)
        os.close(w)
    values = codec.read_plain(blobs)
    assert header == REPLY and np.array_equal(values[0], X) and np.array_equal(values[1], np.arange(500))


# --- refusals, each also shown to catch a decoder without the check --------------------------------


def mutant(function: str, edits: list[tuple[str, str]]):
    """``codec.read_message`` whose helper ``function`` (or itself) has a check removed: each
    ``(find, replace)`` edit is applied to the real source."""
    source = inspect.getsource(getattr(codec, function))
    for find, replace in edits:
        assert find in source, find
        source = source.replace(find, replace)
    namespace = dict(vars(codec))
    for code in (inspect.getsource(codec.read_message), source):  # read_message sees the mutated helper
        exec(compile(code, codec.__file__, "exec"), namespace)  # noqa: S102 - our own source, edited
    return namespace["read_message"]


def rejects_wrong_magic(decoder):
    data = message(REPLY, codec.plain_blobs((X,)))
    with pytest.raises(codec.CodecError, match="magic"):
        read(b"XXXX" + data[4:], decoder=decoder)


def rejects_oversize_before_reading_it(decoder):
    data = message(REPLY, codec.plain_blobs((X,)))
    stream = Stream(data)
    with pytest.raises(codec.CodecError, match="too large"):
        decoder(stream, max_bytes=len(data) - codec._FRAME.size - 1)
    assert stream.largest == codec._FRAME.size  # nothing of the announced size was allocated or read
    huge = codec._FRAME.pack(codec.MAGIC, codec.KIND_JSON, 2, 0, 1 << 60)
    with pytest.raises(codec.CodecError, match="too large"):
        read(huge + b"{}", decoder=decoder)


def rejects_truncated(decoder):
    data = message(CALL, codec.plain_blobs((X,)))
    for cut in (3, codec._FRAME.size, codec._FRAME.size + 5, len(data) - 1):
        with pytest.raises(codec.TruncatedMessage, match="truncated"):  # the proxy: "ended the process"
            read(data[:cut], decoder=decoder)
    with pytest.raises(EOFError) as info:  # nothing at all: the other side closed between messages
        read(b"", decoder=decoder)
    assert not isinstance(info.value, codec.CodecError)


def rejects_inconsistent_lengths(decoder):
    data = bytearray(message(REPLY, codec.plain_blobs((X,))))
    table = codec._FRAME.size + codec._padded(codec._REPLY.size)
    struct.pack_into("<Q", data, table, len(data))  # a blob longer than the body
    with pytest.raises(codec.CodecError, match="malformed"):
        read(bytes(data), decoder=decoder)
    many = codec._FRAME.pack(codec.MAGIC, codec.KIND_JSON, 2, 1 << 30, 64)
    with pytest.raises(codec.CodecError, match="malformed"):
        read(many + bytes(64), decoder=decoder)


def rejects_bad_heads(decoder):
    call = bytearray(message(CALL))
    struct.pack_into("<H", call, codec._FRAME.size + 10, 60000)  # a name longer than the head
    unknown = bytearray(message(REPLY))
    unknown[4] = 99
    for data in (bytes(call), bytes(unknown), message({"x": 1}).replace(b'{"x": 1}', b"[1, 2]  ")):
        with pytest.raises(codec.CodecError):
            read(data, decoder=decoder)


NO = "if False:"
CHECKS = {
    rejects_wrong_magic: ("read_message", [("if magic != MAGIC:", NO)]),
    rejects_oversize_before_reading_it: ("read_message", [("if body_len > max_bytes:", NO)]),
    rejects_truncated: ("read_exact", [("if got:", NO)]),
    rejects_inconsistent_lengths: ("read_message", [("if size > body_len - pos:", NO), ("if pos != body_len:", NO),
                                                    ("if n_blobs > MAX_BLOBS or table + 8 * n_blobs > body_len:", NO)]),
    rejects_bad_heads: ("_read_fixed_head", [("if _CALL.size + name_len + context_len != len(head):", NO),
                                             ("if type(header) is not dict:", NO)]),
}  # fmt: skip


@pytest.mark.parametrize("check", list(CHECKS), ids=lambda c: c.__name__)
def test_malformed_frames_are_refused(check):
    check(codec.read_message)


@pytest.mark.parametrize("check", list(CHECKS), ids=lambda c: c.__name__)
def test_the_refusal_checks_catch_a_decoder_without_them(check):
    decoder = mutant(*CHECKS[check])
    with pytest.raises((pytest.fail.Exception, Exception)):  # the check fails: no refusal, or the wrong one
        check(decoder)


# --- the worker compares arguments after a call with the message they came in -------------------


def test_decoding_then_encoding_gives_back_the_message_it_came_from():
    """The worker's check for in-place changes compares the arguments, encoded after the call, with
    the tree and blobs they were decoded from: for every value that can be sent, decoding and
    encoding again must give exactly those (else every call would report a change)."""
    import json

    import torch

    ro = np.arange(3.0)
    ro.flags.writeable = False
    value = ((1, -0.0, float("nan"), 2**70, True, None, "é", np.float32(1.5), np.dtype("<f4"), np.int64,
              torch.float16, ro, np.asfortranarray(X), X[:, ::2], np.zeros((0, 2)), X.view(np.matrix),
              torch.arange(4.0).reshape(2, 2).T, torch.ones(2, dtype=torch.bfloat16, requires_grad=True),
              [{"a": [1, 2]}, {3: (4,)}]), {"mask": np.ones(2, bool)})  # fmt: skip
    tree, blobs = codec.encode(value)
    tree = json.loads(json.dumps(tree))  # as the worker receives it
    again = codec.encode(codec.decode(tree, blobs), strict=False)
    assert codec.same_tree(again[0], tree) and again[1] == blobs
    assert codec.plain_blobs(codec.read_plain(codec.plain_blobs((X, X.T)))) == codec.plain_blobs((X, X.T))


def test_a_tensor_with_the_negative_bit_travels_as_its_values():
    """Oracle: torch's own resolve_neg (a lazy negation is sent as the numbers it stands for)."""
    import torch

    t = torch.arange(3.0)._neg_view()
    assert t.is_neg()
    tree, blobs = codec.encode(t)
    got = codec.decode(tree, blobs)
    assert not got.is_neg() and got.tolist() == [-0.0, -1.0, -2.0]


@pytest.mark.parametrize("code", [b"|O", b"|V8"])
def test_a_blob_of_a_dtype_that_does_not_cross_is_refused_every_time(code):
    """Oracle: KINDS (bool, numbers, time, bytes, str); object and void arrays are refused, also when
    the same forged head comes again (the checked dtypes are remembered, the refused ones are not)."""
    blob = codec._BLOB_HEAD.pack(ord("C"), code, 1) + struct.pack("<q", 1) + bytes(8)
    for _ in range(2):
        with pytest.raises(codec.CodecError):
            codec.read_blob(blob)
    assert code.ljust(8, b"\0") not in codec._DTYPES_READ


def walked(value):
    """Oracle: the tree of a value made of lists, tuples and scalars, built node by node as the
    codec's format defines it (a non-finite float is a tagged node)."""
    if type(value) in (list, tuple):
        return {"$": type(value).__name__, "v": [walked(v) for v in value]}
    if type(value) is float and not math.isfinite(value):
        return {"$": "float", "v": repr(value)}
    return value


@pytest.mark.parametrize(
    "value",
    [[1, 2, 3], (True, None, "a", 7), [1.5, 2], [float("nan"), 1], [[1, 2], [3, [4, (5,)]]], [], [[], ()]],
    ids=["ints", "scalars", "floats", "nan", "nested", "empty", "empties"],
)
def test_lists_of_scalars_encode_and_decode_as_if_walked(value):
    import json

    tree, _ = codec.encode(value)
    assert codec.same_tree(tree, walked(value))
    back = codec.decode(json.loads(json.dumps(tree)), [])
    assert repr(back) == repr(value) and type(back) is type(value)  # repr: nan equals nan


def test_a_list_longer_than_the_item_limit_is_refused_both_ways():
    """Oracle: MAX_ITEMS, counted per element also when a list of scalars is taken at once."""
    long = [0] * (codec.MAX_ITEMS + 1)
    with pytest.raises(codec.CodecError, match="too many items"):
        codec.encode(long)
    with pytest.raises(codec.CodecError, match="too many items"):
        codec.decode({"$": "list", "v": long}, [])
