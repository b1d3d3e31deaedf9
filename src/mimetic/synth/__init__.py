"""Synthetic expression faces: a class-conditional GAN (:mod:`mimetic.synth.gan`, trained by
:mod:`mimetic.synth.train`; needs the train extra), its shipped ONNX generator (:mod:`mimetic.synth.sample`, needs
only onnxruntime) and the measures of what the faces are worth (:mod:`mimetic.synth.measures`)."""
