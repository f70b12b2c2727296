"""``lm3d``: one command for what the library does (also ``python -m lm3d``).

    lm3d detect photos/ clip.mp4 --checkpoint CKPT --out results/   landmarks of images, folders and videos
    lm3d train --preset standard --variant full --out runs/full     train a model on SynthFaces
    lm3d evaluate --checkpoint runs/full/checkpoint.pt --out E.json  score it on the SynthFaces test sets
    lm3d evaluate --checkpoint CKPT --dataset 300w --root /data/300W --out E.json   or on a dataset you have
    lm3d reproduce --ladder                                         the tables of docs/results/
    lm3d adapt --checkpoint CKPT --dataset mine --data mine.npz --out runs/mine   teach D a new dataset

``lm3d COMMAND --help`` explains each. ``python -m lm3d.train`` and the other ``python -m lm3d.<command>`` forms
keep working: they run the same functions.
"""
from __future__ import annotations

import importlib
import sys

# command -> (the module whose main(argv) runs it, what it does); imported only when asked, so that
# ``lm3d detect`` loads no training or data engine
COMMANDS = {"detect": ("lm3d.io.detection", "landmarks of images, folders and videos, written to a folder"),
            "train": ("lm3d.training.loop", "train a model on SynthFaces"),
            "evaluate": ("lm3d.evaluate", "score a checkpoint on the SynthFaces test sets, or on 300-W, WFLW, your folder"),
            "reproduce": ("lm3d.experiments.cli", "train and evaluate the tables' runs over seeds"),
            "adapt": ("lm3d.training.adapt_deformer", "teach a model with D a new dataset's convention")}


def usage() -> str:
    width = max(map(len, COMMANDS))
    return ("usage: lm3d COMMAND [ARGS...]\n\ncommands:\n"
            + "".join(f"  {name:<{width}}  {what}\n" for name, (_, what) in COMMANDS.items())
            + "\n" + __doc__.split("\n\n")[1] + "\n")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    if argv[0] == "--version":
        from importlib.metadata import version

        print(f"lm3d {version('lm3d')}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"lm3d: unknown command {name!r}; the commands are {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    sys.argv[0] = f"lm3d {name}"  # the subcommand's --help names itself so
    code = importlib.import_module(COMMANDS[name][0]).main(rest)
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
