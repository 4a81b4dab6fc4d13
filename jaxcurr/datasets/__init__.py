"""Datasets a classifier student learns from: TFDS, a local ``.npz`` copy, or scikit-learn's
bundled digits (:mod:`~jaxcurr.datasets.classification`)."""
