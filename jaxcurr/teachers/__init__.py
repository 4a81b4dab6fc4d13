"""Teachers: policies that choose a task for each sample a student learns from."""

from jaxcurr.teachers.base import Teacher
from jaxcurr.teachers.reinforce import reinforce_teacher
from jaxcurr.teachers.uniform import uniform_teacher

__all__ = ["Teacher", "reinforce_teacher", "uniform_teacher"]
