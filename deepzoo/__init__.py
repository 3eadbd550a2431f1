"""deepzoo: pure-function Flax modules, one generic sharded train step, paper reproductions."""
from importlib import metadata

from deepzoo import xla_flags

xla_flags.apply()  # before JAX starts its backends: XLA reads its flags once

try:
    __version__ = metadata.version("deepzoo")
except metadata.PackageNotFoundError:   # a checkout on sys.path, not installed
    __version__ = "0+unknown"
