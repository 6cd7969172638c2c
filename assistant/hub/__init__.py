"""Model files: the presets, what is on disk, and downloads (only when asked)."""
