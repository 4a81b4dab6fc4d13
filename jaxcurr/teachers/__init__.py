"""Teachers: policies that choose what a student learns from.

Two interfaces (:mod:`jaxcurr.teachers.base`), records of pure functions like optax's
``GradientTransformation``; each teacher below is a factory returning one of them:

* :class:`TaskTeacher` (also named :class:`Teacher`) chooses one of ``K`` tasks (a dataset
  class or group) per sample and learns from per-sample rewards (``init / act / update /
  probs``): REINFORCE (the gradient-momentum paper's, :func:`reinforce_teacher`), EXP3.S
  (Graves et al. 2017, :func:`exp3s_teacher`), learning progress (fast/slow EMAs,
  :func:`learning_progress_teacher`), TSCL's online / naive / window / sampling teachers
  (Matiisen et al. 2017, :func:`tscl_teacher`), :func:`uniform_teacher`.
* :class:`StartTeacher` chooses an episode's start, a point of the unit cube that a
  :class:`~jaxcurr.envs.start_spaces.StartSpace` maps onto a valid start, and learns from one
  reward per episode (``init / act / observe / end_window``): the gradient-norm paper's
  REINFORCE teacher (Campbell & Yoon 2023, :func:`reinforce_start_teacher`), ALP-GMM
  (Portelas et al. 2019, :func:`alp_gmm_start_teacher`) and Robust PLR over a space's levels
  (Jiang et al. 2021, :func:`plr_start_teacher`).

The algorithms underneath the start teachers keep their own modules for use outside a start
curriculum: :mod:`jaxcurr.teachers.alp_gmm` (a continuous task space) and
:mod:`jaxcurr.teachers.plr` (a finite set of levels).
"""

from jaxcurr.teachers.base import StartTeacher, TaskTeacher, Teacher
from jaxcurr.teachers.exp3s import exp3s_teacher
from jaxcurr.teachers.initial_state import alp_gmm_start_teacher, plr_start_teacher
from jaxcurr.teachers.initial_state import start_teacher as reinforce_start_teacher
from jaxcurr.teachers.learning_progress import learning_progress_teacher
from jaxcurr.teachers.reinforce import reinforce_teacher
from jaxcurr.teachers.tscl import tscl_teacher
from jaxcurr.teachers.uniform import uniform_teacher

__all__ = ["StartTeacher", "TaskTeacher", "Teacher", "alp_gmm_start_teacher", "exp3s_teacher",
           "learning_progress_teacher", "plr_start_teacher", "reinforce_start_teacher",
           "reinforce_teacher", "tscl_teacher", "uniform_teacher"]
