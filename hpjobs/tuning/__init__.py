"""Tuning logic: search spaces, strategies, early stopping and completion criteria.

Plain functions and classes over plain data (and Optuna's in-memory studies): nothing here reads
the store, starts a process or touches a file. :mod:`hpjobs.sagemaker._tuner` drives them.
"""
