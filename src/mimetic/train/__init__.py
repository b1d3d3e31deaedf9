"""Training the expression network (needs the ``train`` extra: ``pip install 'mimetic[train]'``).

- :mod:`mimetic.train.datasets`: readers for the FER+ npz, Kaggle ``fer2013.csv``, class-per-folder trees and
  ``path,label`` CSV files, with configurable class sets;
- :mod:`mimetic.train.prepare`: landmark and align every image once, cached (resumable) under ``~/.cache/mimetic``;
- :mod:`mimetic.train.net`: the CNN; :mod:`mimetic.train.loop`: the training loop (checkpoints, resume, log);
- :mod:`mimetic.train.export`: ONNX export and the torch/onnxruntime agreement check;
- :mod:`mimetic.train.evaluate`: accuracy, macro-F1, per-class recall, confusion-matrix PNGs;
- :mod:`mimetic.train.cli_impl`: the functions behind ``mimetic train`` and ``mimetic evaluate``.

Nothing here is imported at inference: the shipped model runs on onnxruntime (:mod:`mimetic.expression.model`).
See docs/training.md.
"""
