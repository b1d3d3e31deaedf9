"""Many inputs: folders and corpora of files, with progress and per-file errors."""
