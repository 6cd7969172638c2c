"""From the corpus folder to the index: load, chunk, embed what changed, commit in one
transaction; the diff the status line shows; re-index runs in the background."""
