"""What users run: the server (web page and HTTP API), the CLI, doctor and eval."""
