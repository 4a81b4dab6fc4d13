"""Loading (npz, digits, a real TFDS dataset written here), groups and label modes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcurr.core.validation import ConfigError
from jaxcurr.curricula.classifier import draw_batch, prepare_data
from jaxcurr.curricula.classifier_config import config_from_dict
from jaxcurr.datasets.classification import (
    DataConfig,
    expected_group_loss,
    label_within_group,
    load_dataset,
    make_groups,
)

GROUPS = ((0,), (1, 2), (3, 4, 5), (6, 7, 8, 9))
GROUP_OF = np.array([0, 1, 1, 2, 2, 2, 3, 3, 3, 3])


def test_npz_loader_flattens_and_scales(tmp_path):
    x = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / "d.npz"
    np.savez(path, x_train=x, y_train=np.array([0, 1]), x_test=x, y_test=np.array([1, 0]))
    data = load_dataset(DataConfig(source="npz", path=str(path), groups=((0,), (1,))))
    assert data.x_train.shape == (2, 12) and data.x_train.dtype == np.float32
    np.testing.assert_allclose(data.x_train[1], np.arange(12, 24) / 255.0)
    assert data.image_shape == (3, 4)
    assert data.y_test.tolist() == [1, 0] and data.y_test.dtype == np.int32


def test_digits_needs_no_network():
    data = load_dataset(DataConfig(source="digits"))
    assert data.x_train.shape[1] == 64 and len(data.x_train) + len(data.x_test) == 1797
    assert 0 <= data.x_train.min() and data.x_train.max() <= 1
    assert set(np.unique(data.y_train)) == set(range(10))


@pytest.mark.parametrize(("arrays", "message"), [
    ({"y_train": np.array([0, 10])}, "data.groups: y_train holds label 10"),
    ({"y_train": np.array([0, -1])}, "label -1"),
    ({"x_test": None}, "lacks x_test"),
    ({"y_train": np.array([0, 1, 2])}, "x_train has 2 rows but y_train has 3"),
])
def test_bad_npz_contents_are_clear_errors(tmp_path, arrays, message):
    values = {"x_train": np.zeros((2, 4)), "y_train": np.array([0, 1]),
              "x_test": np.zeros((1, 4)), "y_test": np.array([0])}
    values.update(arrays)
    path = tmp_path / "d.npz"
    np.savez(path, **{k: v for k, v in values.items() if v is not None})
    with pytest.raises(ConfigError, match=message):
        load_dataset(DataConfig(source="npz", path=str(path), groups=((0,), (1,))))


def test_missing_npz_names_the_field(tmp_path):
    with pytest.raises(ConfigError, match="data.path: no such file"):
        load_dataset(DataConfig(source="npz", path=str(tmp_path / "none.npz")))


def test_class_without_training_samples(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x_train=np.zeros((2, 3)), y_train=np.array([0, 0]), x_test=np.zeros((1, 3)),
             y_test=np.array([1]))
    with pytest.raises(ConfigError, match="class 1 has no training samples"):
        load_dataset(DataConfig(source="npz", path=str(path), groups=((0,), (1,))))


def test_tfds_dataset_prepared_offline(tmp_path):
    tf = pytest.importorskip("tensorflow")
    tfds = pytest.importorskip("tensorflow_datasets")
    rng = np.random.default_rng(0)
    features = tfds.features.FeaturesDict({
        "image": tfds.features.Image(shape=(5, 5, 1)),
        "label": tfds.features.ClassLabel(num_classes=3)})

    def split(n):
        return tf.data.Dataset.from_tensor_slices({
            "image": rng.integers(0, 256, (n, 5, 5, 1), dtype=np.uint8),
            "label": (np.arange(n) % 3).astype(np.int64)})

    tfds.dataset_builders.store_as_tfds_dataset(
        name="jaxcurr_tiny", version="1.0.0", features=features,
        split_datasets={"train": split(12), "test": split(6)}, data_dir=str(tmp_path))
    cfg = DataConfig(source="tfds", name="jaxcurr_tiny", data_dir=str(tmp_path), download=False,
                     groups=((0,), (1, 2)))
    data = load_dataset(cfg)
    assert data.x_train.shape == (12, 25) and data.x_test.shape == (6, 25)
    assert data.image_shape == (5, 5, 1)
    assert sorted(np.bincount(data.y_train).tolist()) == [4, 4, 4]
    assert 0 <= data.x_train.min() and data.x_train.max() <= 1
    with pytest.raises(ConfigError, match="data.name: TFDS could not load 'jaxcurr_missing'"):
        load_dataset(DataConfig(source="tfds", name="jaxcurr_missing", data_dir=str(tmp_path),
                                download=False))


def tiny_npz(path, shift=0):
    x = (np.arange(10 * 4, dtype=np.uint8).reshape(10, 2, 2) + shift)
    y = np.arange(10) % 10
    np.savez(path, x_train=x, y_train=y, x_test=x[:4], y_test=y[:4])
    return path


def test_a_tfds_dataset_reads_its_local_copy_first(tmp_path, monkeypatch):
    """``data.path``, else ``$JAXCURR_DATA_DIR/<name>.npz``, else TFDS (never reached here)."""
    from jaxcurr.datasets import classification

    def no_tfds(cfg):
        raise AssertionError("TFDS was asked although a local copy exists")

    monkeypatch.setattr(classification, "_load_tfds", no_tfds)
    folder = tmp_path / "copies"
    folder.mkdir()
    tiny_npz(folder / "mnist.npz")
    explicit = tiny_npz(tmp_path / "other.npz", shift=1)
    monkeypatch.setenv("JAXCURR_DATA_DIR", str(folder))
    cfg = DataConfig(source="tfds", name="mnist")
    assert classification.local_copy(cfg) == str(folder / "mnist.npz")
    data = load_dataset(cfg)
    assert data.x_train.shape == (10, 4) and data.x_train[0, 0] == 0
    with_path = DataConfig(source="tfds", name="mnist", path=str(explicit))
    assert load_dataset(with_path).x_train[0, 0] == np.float32(1 / 255)
    monkeypatch.setenv("JAXCURR_DATA_DIR", str(tmp_path / "empty"))  # no copy there: TFDS
    assert classification.local_copy(cfg) == ""
    with pytest.raises(AssertionError, match="TFDS was asked"):
        load_dataset(cfg)


def test_no_network_and_no_copy_is_one_line_naming_the_way_out(tmp_path, monkeypatch, capsys):
    """``jaxcurr run mnist_curriculum`` on a fresh machine without a network: exit 2 with one
    line saying how to point at a local copy, at once (no download retries), nothing written."""
    pytest.importorskip("tensorflow_datasets")
    import socket

    from jaxcurr import cli

    def unreachable(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(socket, "create_connection", unreachable)
    monkeypatch.delenv("JAXCURR_DATA_DIR", raising=False)
    home = tmp_path / "tfds_home"
    out = tmp_path / "run"
    code = cli.main(["run", "mnist_curriculum", "--out", str(out),
                     "--set", f'data.data_dir="{home}"'])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert err == ("jaxcurr: error: data.name: TFDS cannot reach storage.googleapis.com to "
                   "download 'mnist'; point JAXCURR_DATA_DIR at a folder holding mnist.npz "
                   "(x_train, y_train, x_test, y_test) or pass --set data.path=FILE.npz")
    assert not out.exists() and not any(home.rglob("*.tfrecord*"))


def test_label_within_group_stays_in_group_and_is_uniform():
    groups = make_groups(GROUPS)
    labels = jnp.repeat(jnp.arange(10), 4000)
    drawn = np.asarray(label_within_group(jax.random.PRNGKey(0), labels, groups))
    assert np.array_equal(GROUP_OF[drawn], GROUP_OF[np.asarray(labels)])
    # class 9's draws are uniform over {6, 7, 8, 9}: each 1000 +- 4 sd (sd = sqrt(4000 * 3/16))
    counts = np.bincount(drawn[np.asarray(labels) == 9], minlength=10)[6:]
    assert np.all(np.abs(counts - 1000) < 4 * np.sqrt(4000 * 3 / 16))


def test_expected_group_loss_matches_numpy():
    groups = make_groups(GROUPS)
    logits = jax.random.normal(jax.random.PRNGKey(1), (10, 10))
    log_probs = np.asarray(jax.nn.log_softmax(logits))
    labels = np.arange(10)
    expected = [-np.mean(log_probs[i, list(GROUPS[GROUP_OF[y]])]) for i, y in enumerate(labels)]
    got = expected_group_loss(jnp.asarray(log_probs), jnp.asarray(labels), groups)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-6)
    # its floor is log |group|, reached by the uniform prediction within the group
    uniform = np.log(np.full((1, 10), 1e-12))
    uniform[0, 6:] = np.log(0.25)
    floor = expected_group_loss(jnp.asarray(uniform), jnp.asarray([7]), groups)
    np.testing.assert_allclose(np.asarray(floor), [np.log(4)], rtol=1e-6)


@pytest.mark.parametrize("mode", ["curriculum", "noise"])
def test_label_modes_over_repeated_draws(tiny_config, mode):
    """Curriculum labels are fixed for the run; noise labels change; both stay in the group."""
    config = config_from_dict(tiny_config(data={"label_mode": mode}))
    data = prepare_data(load_dataset(config.data), config)
    labels = label_within_group(jax.random.PRNGKey(0), data.y_train, data.groups)
    # draw every training sample 20 times: all samples of class 9 each draw (task 9)
    tasks = jnp.full((400,), 9)
    seen: dict[tuple, set] = {}
    for k in jax.random.split(jax.random.PRNGKey(1), 20):
        x, y = draw_batch(k, tasks, labels, data, mode)
        for row, label in zip(np.asarray(x), np.asarray(y), strict=True):
            seen.setdefault(row.tobytes(), set()).add(int(label))
    drawn = set().union(*seen.values())
    assert drawn <= {6, 7, 8, 9}
    sizes = [len(v) for v in seen.values()]
    if mode == "curriculum":
        assert max(sizes) == 1  # one label per sample, every time it is drawn
        assert len(drawn) > 1  # but relabelled within the group, not all 9
    else:
        assert np.mean(sizes) > 3  # ~20 draws over 4 labels: nearly every label seen
