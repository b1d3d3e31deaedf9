"""Reading images and videos (PyAV, streaming) and finding inputs on disk."""
