"""``python -m lm3d.adapt_deformer``: teach a model with D a new dataset's convention.

The command lives in ``lm3d.training.adapt_deformer``; this module only runs it."""
from lm3d.training.adapt_deformer import main

if __name__ == "__main__":
    main()
