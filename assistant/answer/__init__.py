"""One chat turn: from a question and its passages to a cited answer (or a quote, or
an abstention)."""
