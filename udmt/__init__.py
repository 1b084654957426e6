"""udmt: unsupervised multi-animal tracking from raw top-down video.

The stages (scene → init → train → tune → track → stitch → export/report) are plain functions of their
inputs and a seed; ``udmt.pipeline`` composes them and ``udmt.cli`` is the command line.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("udmt")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
