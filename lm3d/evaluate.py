"""``python -m lm3d.evaluate``: evaluate a checkpoint on the SynthFaces test sets.

The command lives in ``lm3d.evaluation.report``; this module only runs it."""
from lm3d.evaluation.report import main

if __name__ == "__main__":
    main()
