"""Text as every step reads it: its language, its tokens, its sentences, its length in
cl100k tokens. Depends on nothing else in the package."""
