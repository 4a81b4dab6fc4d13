"""A worked jaxcurr extension: where Pendulum-v1's episodes start, and a teacher of its own.

* :func:`pendulum_starts.space.pendulum_starts`: the start space (entry point ``pendulum`` of
  ``jaxcurr.start_spaces``), built with :func:`jaxcurr.envs.start_spaces.box_start_space`;
* :func:`pendulum_starts.teacher.widening_box_teacher`: a start teacher (entry point
  ``widening_box`` of ``jaxcurr.start_teachers``);
* ``pendulum_starts/experiments/pendulum_starts.toml``: the experiment ``jaxcurr run
  pendulum_starts`` runs (entry point of ``jaxcurr.experiments``).
"""
