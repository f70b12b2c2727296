"""Cached shards: atomic writes, safe reads, and resuming an interrupted run."""
import pytest
import torch

from lm3d.synth import SYNTH_VERSION, SynthFaces
from lm3d.synth.shards import ShardDataset, load_all, make_shards, read_shard


def test_shards_resume_and_match_the_dataset(tmp_path):
    folder = make_shards("synth300w", "val", 5, tmp_path, shard_size=2, image_size=48, device="cpu",
                                         progress=False)
    shards = sorted(folder.glob("shard_*.pt"))
    assert len(shards) == 3
    kept = shards[0].stat().st_mtime_ns
    shards[1].unlink()  # as if the run was killed before shard 1 was written...
    shards[2].write_bytes(b"truncated")  # ...or while shard 2 was being written
    make_shards("synth300w", "val", 5, tmp_path, shard_size=2, image_size=48, device="cpu",
                                progress=False)
    assert shards[0].stat().st_mtime_ns == kept  # finished shards are skipped
    data = ShardDataset(folder)
    assert len(data) == 5
    expected = SynthFaces("synth300w", "val", 5, image_size=48)[4]
    assert torch.equal(data[4]["image"], expected["image"])
    torch.testing.assert_close(data[4]["landmarks2d"], expected["landmarks2d"])
    assert not list(folder.glob("*.tmp"))
    assert load_all(folder)["image"].shape == (5, 3, 48, 48)


def test_foreign_files_are_refused(tmp_path):
    path = tmp_path / "shard_00000.pt"
    torch.save({"format": "something else"}, path)
    with pytest.raises(ValueError, match="not a SynthFaces shard"):
        read_shard(path)
    path.write_bytes(b"\x00garbage")
    with pytest.raises(ValueError, match="not a readable SynthFaces shard"):
        read_shard(path)
    with pytest.raises(FileNotFoundError, match="make_synthfaces"):
        ShardDataset(tmp_path / "empty")


def test_scaled_conventions_get_their_own_folder_unless_the_source_has_none(tmp_path):
    from lm3d.synth.shards import shard_folder
    assert shard_folder(tmp_path, "synthwflw", "train", 0, 64, 4.0).name.endswith("_64px_conv4x_v" + str(SYNTH_VERSION))
    assert shard_folder(tmp_path, "synthwflw", "train", 0, 64) != shard_folder(tmp_path, "synthwflw", "train", 0, 64, 4.0)
    assert shard_folder(tmp_path, "synth300w", "train", 0, 64, 4.0) == shard_folder(tmp_path, "synth300w", "train", 0, 64)
