"""Embedders: texts -> unit vectors. The protocol and the model profiles in ``base``,
where the files are in ``resolve``, the backend chosen in ``load``."""
