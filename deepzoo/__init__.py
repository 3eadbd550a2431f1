"""deepzoo: pure-function Flax modules, one generic sharded train step, paper reproductions."""
from importlib import metadata

try:
    __version__ = metadata.version("deepzoo")
except metadata.PackageNotFoundError:   # a checkout on sys.path, not installed
    __version__ = "0+unknown"
