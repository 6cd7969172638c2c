"""Finding the passages for a question: hybrid search and definition questions."""
