"""Teachers: policies that choose what a student learns from (interfaces in
:mod:`jaxcurr.teachers.base`).

Task teachers (``init / act / update / probs``, :class:`Teacher`): REINFORCE (the first
paper's), EXP3.S (Graves et al. 2017), learning progress (fast/slow EMAs), TSCL's online /
naive / window / sampling teachers (Matiisen et al. 2017), uniform. Over continuous task
spaces: the gradient-norm paper's REINFORCE teacher of initial states
(:mod:`jaxcurr.teachers.initial_state`) and ALP-GMM (Portelas et al. 2019,
:mod:`jaxcurr.teachers.alp_gmm`); over a finite set of levels, Robust PLR (Jiang et al. 2021,
:mod:`jaxcurr.teachers.plr`).
"""

from jaxcurr.teachers.alp_gmm import alp_gmm_teacher
from jaxcurr.teachers.base import StartTeacher, Teacher
from jaxcurr.teachers.exp3s import exp3s_teacher
from jaxcurr.teachers.learning_progress import learning_progress_teacher
from jaxcurr.teachers.plr import plr_teacher
from jaxcurr.teachers.reinforce import reinforce_teacher
from jaxcurr.teachers.tscl import tscl_teacher
from jaxcurr.teachers.uniform import uniform_teacher

__all__ = ["StartTeacher", "Teacher", "alp_gmm_teacher", "exp3s_teacher",
           "learning_progress_teacher", "plr_teacher", "reinforce_teacher", "tscl_teacher",
           "uniform_teacher"]
