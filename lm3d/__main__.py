"""``python -m lm3d``: the ``lm3d`` command (``lm3d.cli``)."""
import sys

from lm3d.cli import main

sys.exit(main())
