"""The 68-point dlib/iBUG layout as a subset of MediaPipe's 478-point face mesh.

``IBUG68_FROM_MEDIAPIPE[i]`` is the MediaPipe mesh index used for iBUG point ``i``. iBUG numbering (0-based):

| iBUG  | region                         | MediaPipe indices                                   |
|-------|--------------------------------|-----------------------------------------------------|
| 0-16  | jaw line, person's right → left | 162 234 93 58 172 136 149 148 152 377 378 365 397 288 323 454 389 |
| 17-21 | right eyebrow (outer → inner)  | 71 63 105 66 107                                    |
| 22-26 | left eyebrow (inner → outer)   | 336 296 334 293 301                                 |
| 27-30 | nose bridge (top → tip)        | 168 197 5 4                                         |
| 31-35 | nose base (right → left)       | 75 97 2 326 305                                     |
| 36-41 | right eye (outer corner first) | 33 160 158 133 153 144                              |
| 42-47 | left eye (inner corner first)  | 362 385 387 263 373 380                             |
| 48-59 | outer lip (right corner first) | 61 39 37 0 267 269 291 405 314 17 84 181            |
| 60-67 | inner lip (right corner first) | 78 82 13 312 308 317 14 87                          |

"Right" and "left" are the person's own sides (the person's right appears on the image's left). The mesh has no
points exactly on the dlib jaw contour near the ears, so points 0-2 and 14-16 sit slightly inside dlib's; the
others correspond closely. Columns ``x_0..x_67``/``y_0..y_67`` in the table use this map.
"""

IBUG68_FROM_MEDIAPIPE: tuple[int, ...] = (
    162, 234, 93, 58, 172, 136, 149, 148, 152, 377, 378, 365, 397, 288, 323, 454, 389,  # jaw
    71, 63, 105, 66, 107,  # right brow
    336, 296, 334, 293, 301,  # left brow
    168, 197, 5, 4,  # nose bridge
    75, 97, 2, 326, 305,  # nose base
    33, 160, 158, 133, 153, 144,  # right eye
    362, 385, 387, 263, 373, 380,  # left eye
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181,  # outer lip
    78, 82, 13, 312, 308, 317, 14, 87,  # inner lip
)

assert len(IBUG68_FROM_MEDIAPIPE) == 68
