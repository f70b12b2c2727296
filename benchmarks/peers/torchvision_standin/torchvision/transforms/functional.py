import numpy as np
import torch


def to_tensor(picture) -> torch.Tensor:
    """HxWxC array -> CxHxW float tensor (in [0, 1] for uint8 input), as torchvision's to_tensor."""
    array = np.asarray(picture)
    tensor = torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1)
    return tensor.float().div(255) if array.dtype == np.uint8 else tensor.float()
