"""Provided infrastructure: hand-written code that no notebook exports and no learner writes.

Argument checks (`validation`), file formats and atomic writes, dataset readers, the Trainer's safety
net. The lesson lives in `tinytorch.core` (generated from `src/`); these modules are the scaffolding
around it (DESIGN.md, "Provided infrastructure").
"""
