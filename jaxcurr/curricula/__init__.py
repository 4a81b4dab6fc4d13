"""Curricula: teacher + student + signal in one pure training function."""

from jaxcurr.curricula.classifier import TaskData, make_engine, make_train, prepare_data

__all__ = ["TaskData", "make_engine", "make_train", "prepare_data"]
