"""Training the expression network (needs the ``train`` extra: ``pip install 'mimetic[train]'``).

- :mod:`mimetic.train.datasets`: readers for the FER+ npz, Kaggle ``fer2013.csv``, class-per-folder trees and
  ``path,label`` CSV files, with configurable class sets;
- :mod:`mimetic.train.prepare`: landmark and align every image once, cached (resumable) under ``~/.cache/mimetic``;
- :mod:`mimetic.train.net`: the CNN; :mod:`mimetic.train.loop`: the training loop (checkpoints, resume, log);
- :mod:`mimetic.train.run`: a training run from a dataset to ``expression.onnx`` (``mimetic train fit``);
- :mod:`mimetic.train.export`: ONNX export (one network or an ensemble) and the torch/onnxruntime agreement check;
  :mod:`mimetic.train.quantize`: int8 post-training quantization; :mod:`mimetic.train.onnxmeta`: ONNX metadata;
- :mod:`mimetic.train.evaluate`: accuracy, macro-F1, per-class recall, confusion-matrix PNGs;
- :mod:`mimetic.train.geometric`: the geometric model; :mod:`mimetic.train.fuse`: the CNN + geometric fusion;
  :mod:`mimetic.train.ship`: fit, evaluate and ship into ``mimetic/models`` with the model card.

The ``mimetic train`` commands (:mod:`mimetic.cli.train`) call these plain functions.

Nothing here is imported at inference: the shipped model runs on onnxruntime (:mod:`mimetic.expression.model`).
See docs/training.md.
"""
