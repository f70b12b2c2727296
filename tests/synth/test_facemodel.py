"""The parametric face: neutral identity, named fields, expressions and the head proxy."""
import torch

from lm3d import layouts
from lm3d.synth import facemodel


def _landmarks(face, identity=None, expression=None):
    identity = torch.zeros(1, len(facemodel.IDENTITY_FIELDS)) if identity is None else identity
    expression = torch.zeros(1, len(facemodel.EXPRESSIONS)) if expression is None else expression
    vertices = facemodel.deform(face, identity, expression)[0]
    return layouts.get("ibug68").points(face, vertices)


def _one_hot(names, name, value=1.0):
    x = torch.zeros(1, len(names))
    x[0, names.index(name)] = value
    return x


def test_zero_coefficients_give_the_canonical_face(face):
    vertices = facemodel.deform(face, torch.zeros(2, 14), torch.zeros(2, 8))
    torch.testing.assert_close(vertices, face.vertices.expand(2, -1, -1))


def test_identity_fields_do_what_their_names_say(face):
    neutral = _landmarks(face)
    wide = _landmarks(face, _one_hot(facemodel.IDENTITY_FIELDS, "face_width"))
    assert (wide[16, 0] - wide[0, 0]) > (neutral[16, 0] - neutral[0, 0])
    long_nose = _landmarks(face, _one_hot(facemodel.IDENTITY_FIELDS, "nose_protrusion"))
    assert long_nose[30, 2] > neutral[30, 2] + 0.3
    spaced = _landmarks(face, _one_hot(facemodel.IDENTITY_FIELDS, "eye_spacing"))
    assert (spaced[42, 0] - spaced[39, 0]) > (neutral[42, 0] - neutral[39, 0])


def test_fields_keep_the_face_symmetric(face):
    identity = torch.randn(1, 14, generator=torch.Generator().manual_seed(0))
    vertices = facemodel.deform(face, identity, torch.zeros(1, 8))[0]
    mirror = face.mirror_vertex()
    torch.testing.assert_close(vertices[mirror] * torch.tensor([-1.0, 1.0, 1.0]), vertices, atol=1e-4, rtol=0)


def test_expressions(face):
    neutral = _landmarks(face)
    opened = _landmarks(face, expression=_one_hot(facemodel.EXPRESSIONS, "jaw_open"))
    assert (opened[62] - opened[66]).norm() > (neutral[62] - neutral[66]).norm() + 1.5  # lips part
    assert opened[8, 1] < neutral[8, 1] - 1.0  # the chin drops
    blink = _landmarks(face, expression=_one_hot(facemodel.EXPRESSIONS, "blink_right"))
    assert (blink[37] - blink[41]).norm() < 0.4 * (neutral[37] - neutral[41]).norm()  # right eye closes
    torch.testing.assert_close(blink[42:48], neutral[42:48])  # the left eye stays open
    smile = _landmarks(face, expression=_one_hot(facemodel.EXPRESSIONS, "smile_left"))
    assert smile[54, 1] > neutral[54, 1] + 0.2 and torch.allclose(smile[48], neutral[48], atol=0.05)


def test_head_proxy_stays_behind_the_face(face):
    proxy = facemodel.head_proxy()
    # cast rays along -z from the central face vertices: the skull surface lies behind the face
    centre, radii = torch.tensor([0.0, 1.2, -4.5]), torch.tensor([7.9, 9.8, 8.5])
    inner = face.vertices[(face.vertices[:, 0].abs() < 5) & (face.vertices[:, 1].abs() < 6)]
    q = ((inner[:, :2] - centre[:2]) / radii[:2]).pow(2).sum(1)
    skull_front = centre[2] + radii[2] * (1 - q).clamp_min(0).sqrt()
    assert (inner[:, 2] > skull_front).all()
    assert proxy.triangles.max() < len(proxy.vertices) and 0 <= proxy.hair.min() and proxy.hair.max() <= 1
