"""Datasets as whole arrays, class groups, and the label modes of the curriculum experiments.

Sources: TFDS by name (any image-classification dataset), a local ``.npz`` with
``x_train, y_train, x_test, y_test``, or scikit-learn's bundled 8x8 digits (no network).
Images are flattened to ``[N, D]`` float32 in [0, 1]; labels are int32.

Label modes (Blad & Loutfi 2025, "Gradient-Momentum Correlation for Intrinsic Exploration"):
``curriculum`` draws each training sample's label once, uniformly within its group, and keeps
it for the run; ``noise`` draws a fresh label within the group at every draw.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import zipfile
import zlib
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlparse

import jax
import jax.numpy as jnp
import numpy as np

from jaxcurr.core import extras
from jaxcurr.core.validation import ConfigError, choice, require, require_positive_int

LABEL_MODES = ("clean", "curriculum", "noise")
DATA_SOURCES = ("digits", "npz", "tfds")
DEFAULT_GROUPS = ((0,), (1, 2), (3, 4, 5), (6, 7, 8, 9))


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where the images come from, how classes are grouped and how labels are assigned.

    source: ``digits`` (scikit-learn's bundled 8x8 digits, no network), ``npz`` (a local file
    with ``x_train, y_train, x_test, y_test``) or ``tfds`` (any TFDS image-classification
    dataset by ``name``; downloaded on first use unless ``download = false``). A ``tfds``
    dataset is read from a local ``.npz`` copy instead when one is given: ``path``, or else
    ``$JAXCURR_DATA_DIR/<name>.npz`` when that file exists (:func:`local_copy`).
    label_mode: ``clean``; ``curriculum`` (each training sample gets a random label within its
    group once, kept for the run); ``noise`` (a fresh random label within the group at every
    draw). Groups must partition the classes ``0..C-1``.
    """

    source: str = "digits"
    path: str = ""
    name: str = ""
    data_dir: str = ""
    download: bool = True
    train_split: str = "train"
    test_split: str = "test"
    groups: tuple[tuple[int, ...], ...] = DEFAULT_GROUPS
    label_mode: str = "curriculum"
    eval_per_class: int = 100
    test_size: int = 2000

    def __post_init__(self):
        choice("data.source", self.source, DATA_SOURCES)
        if self.source == "npz":
            require(bool(self.path), "data.path", "a path to an .npz file (source = 'npz')",
                   self.path)
        if self.source == "tfds":
            require(bool(self.name), "data.name", "a TFDS dataset name (source = 'tfds')",
                   self.name)
        unused = {"digits": ("path", "name", "data_dir"), "npz": ("data_dir",)}
        for field in unused.get(self.source, ()):
            require(not getattr(self, field), f"data.{field}", f"'' (unset) with data.source = "
                   f"{self.source!r}, which does not read it", getattr(self, field))
        choice("data.label_mode", self.label_mode, LABEL_MODES)
        require_positive_int("data.eval_per_class", self.eval_per_class)
        require_positive_int("data.test_size", self.test_size)
        groups = self.groups
        require(isinstance(groups, tuple) and len(groups) > 0
               and all(isinstance(g, tuple) and len(g) > 0 for g in groups)
               and all(isinstance(c, int) and not isinstance(c, bool) for g in groups for c in g),
               "data.groups", "a non-empty list of non-empty lists of class indices", groups)
        classes = sorted(c for g in groups for c in g)
        require(classes == list(range(len(classes))), "data.groups",
               "groups that partition the classes 0..C-1 (each class in exactly one group)",
               groups)

    @property
    def num_classes(self) -> int:
        return sum(len(g) for g in self.groups)


class Dataset(NamedTuple):
    """A classification dataset held as host arrays."""

    x_train: np.ndarray  # [N, D] float32 in [0, 1]
    y_train: np.ndarray  # [N] int32
    x_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple[int, ...]


class Groups(NamedTuple):
    """Class groups as padded arrays: ``members[g, :sizes[g]]`` are group g's classes."""

    group_of_class: jax.Array  # [C] int32
    members: jax.Array  # [G, max group size] int32, padded with the group's first class
    sizes: jax.Array  # [G] int32


def make_groups(groups: tuple[tuple[int, ...], ...]) -> Groups:
    """Padded-array form of a partition of the classes ``0..C-1``."""
    num_classes = sum(len(g) for g in groups)
    width = max(len(g) for g in groups)
    group_of_class = np.zeros(num_classes, np.int32)
    members = np.zeros((len(groups), width), np.int32)
    for index, group in enumerate(groups):
        group_of_class[list(group)] = index
        members[index] = list(group) + [group[0]] * (width - len(group))
    sizes = np.array([len(g) for g in groups], np.int32)
    return Groups(jnp.asarray(group_of_class), jnp.asarray(members), jnp.asarray(sizes))


def label_within_group(key: jax.Array, labels: jax.Array, groups: Groups) -> jax.Array:
    """A label drawn uniformly within each true label's group (same shape as ``labels``)."""
    group = groups.group_of_class[labels]
    pick = jax.random.randint(key, labels.shape, 0, groups.sizes[group])
    return groups.members[group, pick]


def expected_group_loss(log_probs: jax.Array, labels: jax.Array, groups: Groups) -> jax.Array:
    """Cross-entropy averaged over the label distribution of the noise mode.

    ``-mean_{l in group(y)} log p(l)``: the expected loss when the label is uniform within the
    group; its minimum over predictions is ``log |group|``.
    """
    group = groups.group_of_class[labels]
    members = groups.members[group]  # [B, W]
    valid = jnp.arange(members.shape[-1]) < groups.sizes[group][:, None]
    picked = jnp.take_along_axis(log_probs, members, axis=-1)
    return -jnp.sum(jnp.where(valid, picked, 0.0), -1) / groups.sizes[group]


def _images_to_float(x: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    shape = tuple(x.shape[1:])
    flat = x.reshape(len(x), -1)
    if flat.dtype == np.uint8:
        return (flat.astype(np.float32) / 255.0), shape
    return flat.astype(np.float32), shape


MAX_PIXEL = 1e4  # images are pixels (uint8, or floats of moderate scale such as [0, 1])


def _check_split(x: np.ndarray, y: np.ndarray, split: str, where: str) -> None:
    """One clear line for every malformed split: shapes, dtypes, non-finite or absurd pixels."""
    if x.dtype == object or y.dtype == object or x.ndim < 2:
        raise ConfigError(f"{where}: x_{split} has shape {x.shape} and dtype {x.dtype}; allowed: "
                          "numeric images [N, ...] with at least one feature axis")
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise ConfigError(f"{where}: x_{split} has dtype {x.dtype}; allowed: integer or float "
                          "pixels")
    if y.ndim != 1:
        raise ConfigError(f"{where}: y_{split} has shape {y.shape}; allowed: one integer label "
                          "per image, shape [N]")
    if len(x) != len(y):
        raise ConfigError(f"{where}: x_{split} has {len(x)} rows but y_{split} has {len(y)}")
    if len(x) == 0:
        raise ConfigError(f"{where}: the {split} split is empty")
    if not np.issubdtype(y.dtype, np.integer):
        raise ConfigError(f"{where}: y_{split} must hold integer labels, got {y.dtype}")
    if np.issubdtype(x.dtype, np.floating):
        if not np.all(np.isfinite(x)):
            raise ConfigError(f"{where}: x_{split} holds NaN or infinite pixels; allowed: finite "
                              "values")
        if np.abs(x).max() > MAX_PIXEL:
            raise ConfigError(f"{where}: x_{split} holds pixels up to {np.abs(x).max():.3g}; "
                              f"allowed: at most {MAX_PIXEL:g} in magnitude (scale the images)")


def _from_arrays(x_train, y_train, x_test, y_test, where: str) -> Dataset:
    x_train, y_train = np.asarray(x_train), np.asarray(y_train)
    x_test, y_test = np.asarray(x_test), np.asarray(y_test)
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        _check_split(x, y, split, where)
    if x_train.shape[1:] != x_test.shape[1:]:
        raise ConfigError(f"{where}: x_train images have shape {x_train.shape[1:]} but x_test "
                          f"images {x_test.shape[1:]}; allowed: the same image shape")
    xtr, shape = _images_to_float(x_train)
    xte, _ = _images_to_float(x_test)
    return Dataset(xtr, np.asarray(y_train).astype(np.int32), xte,
                   np.asarray(y_test).astype(np.int32), shape)


def _load_digits() -> Dataset:
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)
    y = digits.target.astype(np.int32)
    order = np.random.default_rng(0).permutation(len(y))
    x, y = x[order], y[order]
    n_test = len(y) // 5
    return _from_arrays(x[n_test:], y[n_test:], x[:n_test], y[:n_test], "data (digits)")


def _load_npz(path: str) -> Dataset:
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"data.path: no such file {path!r}; allowed: an existing .npz with "
                          "x_train, y_train, x_test, y_test")
    allowed = "allowed: an .npz with numeric arrays x_train, y_train, x_test, y_test"
    try:
        arrays = np.load(file, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise ConfigError(f"data.path: {path!r} is not a readable .npz ({err}); {allowed}") \
            from None
    if not isinstance(arrays, np.lib.npyio.NpzFile):
        raise ConfigError(f"data.path: {path!r} holds one array, not an .npz archive; {allowed}")
    with arrays:
        missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in arrays]
        if missing:
            raise ConfigError(f"data.path: {path!r} lacks {', '.join(missing)}; {allowed}")
        try:  # object arrays need pickle (never allowed); a damaged member fails here too
            loaded = [arrays[k] for k in ("x_train", "y_train", "x_test", "y_test")]
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as err:
            raise ConfigError(f"data.path: {path!r}: {err}; {allowed}") from None
        return _from_arrays(*loaded, f"data.path ({path})")


DATA_DIR_VARIABLE = "JAXCURR_DATA_DIR"  # a folder of local copies, one <name>.npz each


def local_copy(cfg: DataConfig) -> str:
    """The local ``.npz`` read instead of TFDS: ``data.path``, else the file named after the
    dataset in ``$JAXCURR_DATA_DIR`` if it exists, else ``""`` (TFDS loads it)."""
    if cfg.path:
        return cfg.path
    folder = os.environ.get(DATA_DIR_VARIABLE, "")
    candidate = Path(folder) / f"{cfg.name}.npz"
    return str(candidate) if folder and candidate.is_file() else ""


def _require_download_host(builder, name: str) -> None:
    """Fail at once, not after TFDS's minutes of retries, when the first download host of the
    dataset cannot be reached (no network, or no name service)."""
    urls = list(getattr(builder, "url_infos", None) or ())
    if not urls:
        return
    host = urlparse(urls[0]).hostname or ""
    try:
        socket.create_connection((host, 443), timeout=5).close()
    except OSError:
        raise ConfigError(f"data.name: TFDS cannot reach {host} to download {name!r}; "
                          f"{_local_hint(name)}") from None


def _load_tfds(cfg: DataConfig) -> Dataset:
    try:
        import tensorflow_datasets as tfds
    except ModuleNotFoundError as err:
        raise ConfigError(f"{_needs_tfds(err)}; or {_local_hint(cfg.name)}") from None
    from absl import logging as absl_logging

    verbosity = absl_logging.get_verbosity()  # TFDS warns about folders it has not prepared
    absl_logging.set_verbosity(absl_logging.ERROR)
    try:
        builder = tfds.builder(cfg.name, data_dir=cfg.data_dir or None)
        if cfg.download and not builder.is_prepared():
            _require_download_host(builder, cfg.name)
            builder.download_and_prepare()
        splits = builder.as_dataset(split=[cfg.train_split, cfg.test_split], batch_size=-1)
    except ConfigError:
        raise
    except Exception as err:  # TFDS raises many types; report them as a config problem
        if extras.missing_module(err) is not None:  # TFDS imports TensorFlow and more lazily
            raise ConfigError(f"{_needs_tfds(extras.missing_module(err))}; or "
                              f"{_local_hint(cfg.name)}") from None
        hint = "" if cfg.download else " (data.download = false: it must be prepared already)"
        reason = " ".join(str(err).split())[:200]
        raise ConfigError(f"data.name: TFDS could not load {cfg.name!r} from "
                          f"{cfg.data_dir or 'the default data_dir'}{hint} ({reason}); "
                          f"without a network, {_local_hint(cfg.name)}") from None
    finally:
        absl_logging.set_verbosity(verbosity)
    image_key, label_key = builder.info.supervised_keys or ("image", "label")
    train, test = (tfds.as_numpy(s) for s in splits)
    return _from_arrays(train[image_key], train[label_key], test[image_key], test[label_key],
                        f"data.name ({cfg.name})")


def _needs_tfds(err: ModuleNotFoundError) -> str:
    return extras.needs_extra("data.source = 'tfds'", "tfds", err)


def _local_hint(name: str) -> str:
    return (f"point {DATA_DIR_VARIABLE} at a folder holding {name}.npz (x_train, y_train, "
            "x_test, y_test) or pass --set data.path=FILE.npz")


def load_dataset(cfg: DataConfig) -> Dataset:
    """Load the configured dataset and check its labels lie in the groups' class range."""
    if cfg.source == "digits":
        data = _load_digits()
    elif cfg.source == "npz" or local_copy(cfg):
        data = _load_npz(local_copy(cfg))
    else:
        data = _load_tfds(cfg)
    for split, y in (("y_train", data.y_train), ("y_test", data.y_test)):
        bad = y[(y < 0) | (y >= cfg.num_classes)]
        if bad.size:
            raise ConfigError(f"data.groups: {split} holds label {int(bad[0])}, outside the class "
                              f"range 0..{cfg.num_classes - 1} that data.groups covers")
    present = np.bincount(data.y_train, minlength=cfg.num_classes)
    if (present == 0).any():
        raise ConfigError(f"data.groups: class {int(np.argmin(present))} has no training samples")
    return data
