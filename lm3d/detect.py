"""``python -m lm3d.detect`` (or ``lm3d detect``): landmarks of images, folders and videos, written to a folder.

The command lives in ``lm3d.io.detection``; this module only runs it."""
import sys

from lm3d.io.detection import main

if __name__ == "__main__":
    sys.exit(main())
