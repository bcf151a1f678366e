"""Prediction tasks: what is predicted and how it is scored (`fusionkit.api.PredictionTask`).

A task reads and checks the target, says what folds are stratified on, gives networks the width
of their head, names its metrics (and which way is better) and the headline one, scores
predictions, gives the chance level and the bootstrap statistic of paired comparisons, and
draws its own figures. Classification is the built-in task (`config.task: classification`, the
default), registered through the same ``register_tasks`` hook as a plugin's.
"""
