"""Convert the FaceLandmarker bundle's short-range face detector (BlazeFace) to ONNX for onnxruntime.

Reproduces ``src/mimetic/models/blazeface_short.onnx`` (MODEL_CARD.md, BlazeFace). Needs ``tflite2onnx`` and
``tflite``, which the project does not depend on: run it from a throwaway environment, e.g.

    python3.11 -m venv /tmp/conv && /tmp/conv/bin/pip install tflite2onnx==0.4.1 tflite==2.18.0 onnx==1.23.2 numpy
    /tmp/conv/bin/python tools/convert_blazeface.py path/to/face_landmarker.task src/mimetic/models/blazeface_short.onnx

The converted graph is then made fully convolutional: batch, height and width are left free (the output reshapes
keep the batch dimension), so one call can run many tiles, or a whole image at any size (a multiple of 16).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import onnx
from onnx import numpy_helper


def main(bundle: str, out: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tfl = Path(tmp) / "face_detector.tflite"
        tfl.write_bytes(zipfile.ZipFile(bundle).read("face_detector.tflite"))
        raw = Path(tmp) / "raw.onnx"
        subprocess.run([str(Path(sys.executable).with_name("tflite2onnx")), str(tfl), str(raw)], check=True)
        m = onnx.load(str(raw))
    for init in m.graph.initializer:  # Reshape targets [1, -1, k] -> [0, -1, k]: keep the batch dimension
        if init.name.startswith("TFLITE2ONNX_Vector_int64_[_1_-1"):
            a = numpy_helper.to_array(init).copy()
            a[0] = 0
            init.CopyFrom(numpy_helper.from_array(a, init.name))
    inp = m.graph.input[0].type.tensor_type.shape.dim
    inp[0].dim_param, inp[2].dim_param, inp[3].dim_param = "batch", "height", "width"
    for o in m.graph.output:
        dims = o.type.tensor_type.shape.dim
        dims[0].dim_param, dims[1].dim_param = "batch", "anchors"
    del m.graph.value_info[:]
    m.doc_string = ("BlazeFace short-range: face_detector.tflite of MediaPipe's face_landmarker.task (Apache-2.0), "
                    "converted with tflite2onnx 0.4.1; batch, height and width free.")
    onnx.checker.check_model(m)
    onnx.save(m, out)


if __name__ == "__main__":
    main(*sys.argv[1:3])
