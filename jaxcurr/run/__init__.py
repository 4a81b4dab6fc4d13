"""Running any kind's engine: chunked execution, run directories, checkpoints and resume,
devices, sinks, interrupts and experiment files.

* :mod:`~jaxcurr.run.compilation`: vmaps an engine over (point, seed), shards the runs over
  the devices, compiles init and one chunk, checks memory; :mod:`~jaxcurr.run.programs`:
  compiled programs reused within the process;
* :mod:`~jaxcurr.run.runner`: runs the chunks, checkpoints with orbax, resumes, stops on
  non-finite values;
* :mod:`~jaxcurr.run.execution`: one experiment (its parts) into a run directory, summaries;
* :mod:`~jaxcurr.run.lifecycle`: new, resumed or replaced run directories;
* :mod:`~jaxcurr.run.run_dir`: the run-directory layout; :mod:`~jaxcurr.run.experiment`:
  experiment files; :mod:`~jaxcurr.run.sinks`: jsonl/TensorBoard/W&B;
  :mod:`~jaxcurr.run.interrupts`: Ctrl-C at safe points.
"""
