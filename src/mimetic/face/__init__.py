"""Face finding and geometry: the MediaPipe wrapper, multi-scale search, head pose, 68-point map, tracking."""
