"""A stand-in for the two torchvision functions facenet-pytorch imports (the real torchvision does not load
beside our torch). Only for the peer venv of the benchmarks; lm3d never imports it."""
