"""Ask your documents: cited answers over a local folder, offline, on a CPU laptop."""

__version__ = "0.1.0"
