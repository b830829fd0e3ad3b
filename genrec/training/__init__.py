"""Training and evaluation: datasets under split protocols, the DDP trainer,
checkpoints, full-catalogue evaluation and the popularity baseline.

Entry points: `genrec.training.launch.train` and
`genrec.training.evaluate.evaluate_checkpoint`.
"""
