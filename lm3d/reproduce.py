"""``python -m lm3d.reproduce``: train and evaluate the tables' runs over seeds.

The command lives in ``lm3d.experiments.cli``; this module only runs it."""
from lm3d.experiments.cli import main

if __name__ == "__main__":
    main()
