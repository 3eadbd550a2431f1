"""Reading and writing state dicts as files: safetensors (no torch needed) and PyTorch .pth/.pt/.bin (torch needed).

A state dict here is a flat dict of NumPy arrays keyed as PyTorch names them ("layer1.0.conv1.weight"). A path may be a
Hugging Face model folder: its model.safetensors (or a sharded index of them), else its pytorch_model.bin.
"""
import json
import pathlib

import numpy as np
from safetensors import numpy as safetensors_numpy

from deepzoo.weights.rules import WeightsError

_TORCH_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt")
_FOLDER_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")


def _resolve(path: pathlib.Path) -> pathlib.Path:
    if not path.exists():
        raise WeightsError(f"{path}: no such file or folder; give a .safetensors, .pth or .bin file, or a Hugging "
                           f"Face model folder.")
    if path.is_dir():
        for name in _FOLDER_FILES:
            if (path / name).exists():
                return path / name
        raise WeightsError(f"{path} is a folder without {', '.join(_FOLDER_FILES)}; give the weights file itself.")
    return path


def _read_torch(path: pathlib.Path) -> dict[str, np.ndarray]:
    try:
        import torch  # not a dependency: only for reading PyTorch's own format
    except ImportError:
        raise WeightsError(f"{path} is a PyTorch file, and reading it needs torch (pip install torch; the CPU build "
                           f"is enough). Or convert it once to safetensors where torch is installed "
                           f"(safetensors.torch.save_file(torch.load(path), 'model.safetensors')).") from None
    state = torch.load(path, map_location="cpu", weights_only=True)
    for wrapper in ("state_dict", "model"):  # training checkpoints often nest the weights
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    return {k: (v.float() if v.dtype == torch.bfloat16 else v).numpy() for k, v in state.items()}


def read(path) -> dict[str, np.ndarray]:
    """The state dict in `path` (a .safetensors, .pth/.pt/.bin file or a Hugging Face model folder)."""
    path = _resolve(pathlib.Path(path))
    if path.name.endswith(".safetensors.index.json"):  # sharded: {"weight_map": {key: shard file}}
        shards = sorted(set(json.loads(path.read_text())["weight_map"].values()))
        return {k: v for shard in shards for k, v in read(path.parent / shard).items()}
    if path.suffix == ".safetensors":
        try:
            return safetensors_numpy.load_file(path)
        except Exception as e:  # the library's errors say what is wrong, not which file
            raise WeightsError(f"{path} is not a readable safetensors file: {e}") from None
    if path.suffix in _TORCH_SUFFIXES:
        return _read_torch(path)
    raise WeightsError(f"{path}: unknown weights format {path.suffix!r}; use .safetensors, or .pth/.pt/.bin "
                       f"with torch installed.")


def write(state_dict: dict[str, np.ndarray], path, *, overwrite: bool = False) -> pathlib.Path:
    """Writes `state_dict` as a safetensors file that torch (safetensors.torch.load_file) and Hugging Face read;
    an existing file is kept unless `overwrite`."""
    path = pathlib.Path(path)
    if path.suffix != ".safetensors":
        raise WeightsError(f"{path}: export writes safetensors; name the file *.safetensors.")
    if path.exists() and not overwrite:
        raise WeightsError(f"{path} exists; choose another name or pass overwrite=True.")
    path.parent.mkdir(parents=True, exist_ok=True)
    safetensors_numpy.save_file(state_dict, path, metadata={"format": "pt"})
    return path
