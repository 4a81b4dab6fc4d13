"""Students: the models that learn from what a teacher chooses."""

from jaxcurr.students.classifier import MLPClassifier, per_sample_cross_entropy

__all__ = ["MLPClassifier", "per_sample_cross_entropy"]
