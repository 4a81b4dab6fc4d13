"""The teacher interfaces: records of pure functions, like optax's ``GradientTransformation``.

A teacher holds configuration only; its state lives in the caller's train state, so a teacher
is jitted and vmapped with the rest of the program (as JaxUED's ``LevelSampler`` and Syllabus'
``Curriculum`` separate the sampler from its state). Two families share that shape:

* :class:`Teacher` chooses one of ``K`` discrete tasks (a dataset class or group) for each
  sample of a batch and learns from per-sample rewards: REINFORCE, EXP3.S, learning progress,
  TSCL, uniform.
* :class:`StartTeacher` chooses an episode's start (a point of the unit cube that a start space
  maps onto, e.g., a maze's goal and reset cells) and learns from one reward per episode: the
  gradient-norm paper's REINFORCE start teacher, ALP-GMM and Robust PLR
  (:mod:`jaxcurr.teachers.initial_state`).

Example (a task teacher in a loop; any :class:`Teacher` is driven the same way)::

    >>> import jax, jax.numpy as jnp
    >>> from jaxcurr.teachers import exp3s_teacher
    >>> teacher = exp3s_teacher(num_tasks=4, eta=0.1, eps=0.05, alpha=1e-3)
    >>> obs = jnp.zeros(())  # the classifier curriculum passes the step's observation
    >>> state = teacher.init(jax.random.PRNGKey(0), obs)
    >>> tasks = teacher.act(state, obs, jax.random.PRNGKey(1), 8)  # one task per sample
    >>> rewards = (tasks == 2).astype(jnp.float32)  # e.g. a signal read from the student
    >>> state, info = teacher.update(state, obs, tasks, rewards)
    >>> teacher.probs(state, obs).shape
    (4,)

Example (a start teacher; ALP-GMM and Robust PLR are driven the same way, and the start
curriculum calls ``observe`` and ``act`` only when an episode ends)::

    >>> from jaxcurr.teachers import alp_gmm_start_teacher
    >>> teacher = alp_gmm_start_teacher(dim=2, fit_every=4)
    >>> state = teacher.init(jax.random.PRNGKey(0))
    >>> for episode in range(8):
    ...     raw, start = teacher.act(state, None, jax.random.PRNGKey(episode))  # in [0, 1]^2
    ...     episode_return = -jnp.sum((start - 0.7) ** 2)  # e.g. the student's return
    ...     state, info = teacher.observe(state, None, raw, episode_return)
    >>> state = teacher.end_window(state)  # ALP-GMM refits its mixture between windows
    >>> start.shape
    (2,)
"""

from collections.abc import Callable
from typing import Any, NamedTuple


class Teacher(NamedTuple):
    """A task teacher over ``K`` tasks.

    ``init(key, obs) -> state``; ``act(state, obs, key, n) -> tasks [n]`` (int32 in
    ``[0, K)``); ``update(state, obs, tasks, rewards) -> (state, info)`` with one reward per
    chosen task; ``probs(state, obs) -> [K]``, the current sampling distribution (logged).
    """

    init: Callable[..., Any]
    act: Callable[..., Any]
    update: Callable[..., Any]
    probs: Callable[..., Any]


class StartTeacher(NamedTuple):
    """An episode-start teacher over the unit cube of a start space
    (:class:`~jaxcurr.envs.start_spaces.StartSpace`).

    ``init(key) -> state``; ``act(state, obs, key) -> (raw [dim], unit [dim])``: what it
    records and the start it picks, a point of ``[0, 1]^dim``; ``observe(state, obs, raw,
    reward) -> (state, info)`` records one episode's reward (and learns when its schedule says
    so); ``end_window(state) -> state``, the teacher's work
    between logged windows (ALP-GMM's refits; identity for the others).
    """

    init: Callable[..., Any]
    act: Callable[..., Any]
    observe: Callable[..., Any]
    end_window: Callable[[Any], Any] = lambda state: state


TaskTeacher = Teacher  # the task-teacher interface, by the name the docs use
