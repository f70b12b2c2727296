"""``python -m lm3d.train``: train a continuous landmark model on SynthFaces.

The command lives in ``lm3d.training.loop``; this module only runs it."""
from lm3d.training.loop import main

if __name__ == "__main__":
    main()
