"""Learning signals: teacher rewards read from a student's learning.

* :mod:`~jaxcurr.signals.per_sample`: per-sample rewards of a supervised student (momentum
  correlation, gradient norm, loss, prediction gain);
* :mod:`~jaxcurr.signals.per_sample_norms`: per-sample gradient norms without per-sample
  gradients;
* :mod:`~jaxcurr.signals.actor_gradients`: an RL actor's gradient norms over an episode (the
  gradient-norm teacher's rewards);
* :mod:`~jaxcurr.signals.episode_scores`: returns, return progress and PLR's value-loss scores.
"""
