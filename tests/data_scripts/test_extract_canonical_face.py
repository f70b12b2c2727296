"""The hand-written protobuf decoder of data_scripts/extract_canonical_face.py, on a message we encode."""
import importlib.util
import struct
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[2] / "data_scripts" / "extract_canonical_face.py"
spec = importlib.util.spec_from_file_location("extract_canonical_face", SCRIPT)
extract = importlib.util.module_from_spec(spec)
spec.loader.exec_module(extract)


def varint(value):
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field(number, wire, payload):
    key = varint(number << 3 | wire)
    return key + (varint(len(payload)) + payload if wire == 2 else payload)


def encode_mesh(vertex_buffer, indices, packed):
    body = field(1, 0, varint(0)) + field(2, 0, varint(0))
    if packed:
        body += field(3, 2, struct.pack(f"<{len(vertex_buffer)}f", *vertex_buffer))
        body += field(4, 2, b"".join(varint(i) for i in indices))
    else:
        body += b"".join(field(3, 5, struct.pack("<f", x)) for x in vertex_buffer)
        body += b"".join(field(4, 0, varint(i)) for i in indices)
    other = field(2, 2, field(1, 0, varint(4)))  # a procrustes landmark entry, ignored
    return field(1, 2, body) + other


def test_decoder_round_trip_unpacked_and_packed():
    rng = np.random.default_rng(0)
    buffer = rng.normal(size=(7, 5)).astype(np.float32)
    triangles = rng.integers(0, 300, size=(4, 3))
    for packed in (False, True):
        encoded = encode_mesh(buffer.ravel().tolist(), triangles.ravel().tolist(), packed)
        decoded_buffer, decoded_triangles = extract.decode_mesh(encoded)
        np.testing.assert_array_equal(decoded_buffer, buffer)
        np.testing.assert_array_equal(decoded_triangles, triangles)
