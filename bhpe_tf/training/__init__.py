"""Training: configs (:mod:`.config`), per-model tasks (:mod:`.tasks`) and the trainer (:mod:`.loop`).

The command line is ``training/train.py`` (``bhpe-train``); see ``training/README.md``.
"""
