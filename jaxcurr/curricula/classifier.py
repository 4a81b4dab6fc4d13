"""Teacher-student classifier curriculum (Blad & Loutfi 2025), as one pure training function.

Each step, for every method in ``config.run.methods`` side by side in one program:
the teacher picks a task (class or group) for each of B samples; the environment returns a
random training image of that task and its label (clean, fixed within-group relabel
``curriculum``, or fresh within-group ``noise``); the signal turns the student's gradients into
one reward per sample (with Adam's moments as they stand before the student's step, by
default); the student takes one Adam step on the batch mean loss; the teacher takes one
REINFORCE step on the rewards.

``make_train(config) -> train(key, data)`` runs a whole run for one seed in ``lax.scan``;
vmap it over seeds: ``jax.jit(jax.vmap(train, in_axes=(0, None)))(keys, data)``. The data is
an argument, not a closure, so that the images are not baked into the compiled program.
:func:`make_engine` gives the same run as the :class:`~jaxcurr.core.engine.Engine` of the
``classifier_curriculum`` kind; swept hyperparameters (``config.sweep``) come in its ``point``.
Metrics are reduced inside the scan every ``run.log_every`` steps, so memory does not grow
with the number of steps beyond the logged metrics.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxcurr.core.engine import Engine, hyperparameter
from jaxcurr.curricula.classifier_config import Config
from jaxcurr.datasets.classification import (
    Dataset,
    Groups,
    expected_group_loss,
    label_within_group,
    make_groups,
)
from jaxcurr.signals import per_sample as signals_lib
from jaxcurr.students.classifier import MLPClassifier, per_sample_cross_entropy
from jaxcurr.teachers import (
    Teacher,
    exp3s_teacher,
    learning_progress_teacher,
    reinforce_teacher,
    tscl_teacher,
    uniform_teacher,
)

METHOD_SIGNAL = {"uniform": "uniform", "curiosity": "loss"}  # the other names are signals


def teacher_and_signal(method: str, default_teacher: str) -> tuple[str, str]:
    """``"exp3s:loss"`` -> ("exp3s", "loss"); a plain name uses ``teacher.kind``'s teacher."""
    teacher, colon, signal = method.partition(":")
    if colon:
        return teacher, signal
    return ("uniform" if method == "uniform" else default_teacher,
            METHOD_SIGNAL.get(method, method))


class TaskData(NamedTuple):
    """Device arrays the run reads: images, tasks' sample tables, evaluation and test sets."""

    x_train: jax.Array  # [N, D]
    y_train: jax.Array  # [N] true labels
    task_index: jax.Array  # [K, max task size] training indices of each task (padded)
    task_count: jax.Array  # [K]
    task_group: jax.Array  # [K] group of each task
    eval_index: jax.Array  # [M] fixed evaluation subset of the training set
    x_test: jax.Array  # [T, D]
    y_test: jax.Array  # [T]
    groups: Groups


class MethodState(NamedTuple):
    student_params: Any
    student_opt_state: Any
    teacher_state: Any
    key: jax.Array


class TrainState(NamedTuple):
    labels: jax.Array  # [N] the labels the student trains on (curriculum: fixed relabel)
    methods: dict[str, MethodState]


def prepare_data(dataset: Dataset, config: Config) -> TaskData:
    """Arrange a dataset for the run: per-task sample tables, evaluation and test subsets."""
    groups = config.data.groups
    y = dataset.y_train
    if config.teacher.tasks == "class":
        members = [np.flatnonzero(y == c) for c in range(config.data.num_classes)]
        task_group = [next(i for i, g in enumerate(groups) if c in g)
                      for c in range(config.data.num_classes)]
    else:
        members = [np.flatnonzero(np.isin(y, g)) for g in groups]
        task_group = list(range(len(groups)))
    width = max(len(m) for m in members)
    task_index = np.stack([np.resize(m, width) for m in members]).astype(np.int32)
    eval_index = np.concatenate([np.flatnonzero(y == c)[: config.data.eval_per_class]
                                 for c in range(config.data.num_classes)]).astype(np.int32)
    n_test = min(config.data.test_size, len(dataset.y_test))
    test = np.random.default_rng(0).permutation(len(dataset.y_test))[:n_test]
    return TaskData(
        x_train=jnp.asarray(dataset.x_train), y_train=jnp.asarray(y),
        task_index=jnp.asarray(task_index),
        task_count=jnp.asarray([len(m) for m in members], jnp.int32),
        task_group=jnp.asarray(task_group, jnp.int32), eval_index=jnp.asarray(eval_index),
        x_test=jnp.asarray(dataset.x_test[test]), y_test=jnp.asarray(dataset.y_test[test]),
        groups=make_groups(groups))


def draw_batch(key: jax.Array, tasks: jax.Array, labels: jax.Array, data: TaskData,
               label_mode: str) -> tuple[jax.Array, jax.Array]:
    """A random training image of each task in ``tasks`` and the label the student sees:
    ``labels[i]`` (clean or the run's fixed curriculum relabel) or, in ``noise`` mode, a fresh
    label drawn within the image's group."""
    k_pick, k_label = jax.random.split(key)
    pick = jax.random.randint(k_pick, tasks.shape, 0, data.task_count[tasks])
    index = data.task_index[tasks, pick]
    if label_mode == "noise":
        return data.x_train[index], label_within_group(k_label, data.y_train[index], data.groups)
    return data.x_train[index], labels[index]


def _segment_mean(values: jax.Array, segments: jax.Array, num: int) -> jax.Array:
    total = jax.ops.segment_sum(values, segments, num)
    count = jax.ops.segment_sum(jnp.ones_like(values), segments, num)
    return total / jnp.maximum(count, 1)


class Parts(NamedTuple):
    """The student's optimizer, each method's teacher and signal at one sweep point."""

    optimizer: optax.GradientTransformation
    teachers: dict[str, Teacher]
    signals: dict[str, signals_lib.Signal]


def make_engine(config: Config) -> Engine:
    """Build the init and windowed-run functions of a classifier curriculum run.

    ``init(key, data, point)`` and ``run(state, data, point, num_windows)``; ``point`` may
    carry swept values of ``student.learning_rate``, ``teacher.learning_rate``,
    ``teacher.entropy_coef``, ``teacher.baseline_decay`` and ``signal.eps``
    (:func:`jaxcurr.core.engine.hyperparameter`); ``{}`` runs the config as it is.
    """
    run_cfg, data_cfg, teacher_cfg = config.run, config.data, config.teacher
    num_groups = len(data_cfg.groups)
    batch, log_every = run_cfg.batch_size, run_cfg.log_every
    student = MLPClassifier(tuple(config.student.hidden), data_cfg.num_classes,
                            config.student.precision)
    obs = jnp.ones((1,), jnp.float32)  # the teacher's observation: the episode's first step

    def parts(point: dict) -> Parts:
        """The student's optimizer and each method's teacher and signal at a point (swept
        values in place)."""
        def hp(key, default):
            return hyperparameter(point, key, default)

        optimizer = optax.adam(hp("student.learning_rate", config.student.learning_rate),
                               b1=config.student.b1, b2=config.student.b2,
                               eps=config.student.eps)

        def teacher_for(method: str) -> Teacher:
            """The teacher ``teacher.kind`` (or the method's own) builds for ``method``."""
            kind = teacher_and_signal(method, teacher_cfg.kind)[0]
            if kind == "uniform":
                return uniform_teacher(config.num_tasks)
            if kind == "exp3s":
                return exp3s_teacher(config.num_tasks, teacher_cfg.exp3s_eta,
                                     teacher_cfg.exp3s_eps, teacher_cfg.exp3s_alpha)
            if kind == "tscl":
                return tscl_teacher(config.num_tasks, teacher_cfg.tscl_algorithm,
                                    teacher_cfg.tscl_selection, teacher_cfg.tscl_absolute,
                                    teacher_cfg.tscl_rate, teacher_cfg.tscl_window,
                                    teacher_cfg.lp_eps, teacher_cfg.tscl_temperature)
            if kind == "learning_progress":
                return learning_progress_teacher(config.num_tasks, teacher_cfg.lp_fast_rate,
                                                 teacher_cfg.lp_slow_rate, teacher_cfg.lp_eps)
            return reinforce_teacher(
                config.num_tasks, teacher_cfg.hidden,
                hp("teacher.learning_rate", teacher_cfg.learning_rate),
                hp("teacher.entropy_coef", teacher_cfg.entropy_coef), teacher_cfg.baseline,
                hp("teacher.baseline_decay", teacher_cfg.baseline_decay),
                teacher_cfg.normalize_advantages)

        def signal_for(method: str) -> signals_lib.Signal:
            name = teacher_and_signal(method, teacher_cfg.kind)[1]
            if name == "momentum_correlation":
                s = config.signal
                return signals_lib.momentum_correlation(
                    s.denominator, hp("signal.eps", s.eps), s.bias_correction,
                    config.student.b1, config.student.b2)
            return signals_lib.SIGNALS[name]()

        return Parts(optimizer, {m: teacher_for(m) for m in run_cfg.methods},
                     {m: signal_for(m) for m in run_cfg.methods})

    def loss_fn(params, sample_batch):
        x, y = sample_batch
        return per_sample_cross_entropy(student.apply(params, x), y)

    def init(key: jax.Array, data: TaskData, point: dict | None = None) -> TrainState:
        """The state of one run: a student and a teacher per method, the fixed labels."""
        optimizer, teachers, _ = parts(point or {})
        k_student, k_teacher, k_labels, k_run = jax.random.split(key, 4)
        params = student.init(k_student, data.x_train[:1])
        if data_cfg.label_mode == "curriculum":
            labels = label_within_group(k_labels, data.y_train, data.groups)
        else:
            labels = data.y_train
        methods = {
            m: MethodState(params, optimizer.init(params), teachers[m].init(k_teacher, obs),
                           jax.random.fold_in(k_run, i))
            for i, m in enumerate(run_cfg.methods)}
        return TrainState(labels, methods)

    def step(method, labels, data, p: Parts, state: MethodState, _):
        """One student step of ``method``: the teacher picks tasks, the student learns on the
        drawn batch, the signal rewards the teacher."""
        optimizer, teacher, signal = p.optimizer, p.teachers[method], p.signals[method]
        key, k_act, k_draw = jax.random.split(state.key, 3)
        tasks = teacher.act(state.teacher_state, obs, k_act, batch)
        sample_batch = draw_batch(k_draw, tasks, labels, data, data_cfg.label_mode)

        shared = signal.with_step and signal.with_step(loss_fn, state.student_params,
                                                       sample_batch)
        if shared:  # the rewards come out of the training step's own passes
            loss, grads, rewards = shared
        else:
            loss, grads = jax.value_and_grad(lambda p: jnp.mean(loss_fn(p, sample_batch)))(
                state.student_params)
        updates, opt_state = optimizer.update(grads, state.student_opt_state)
        params = optax.apply_updates(state.student_params, updates)
        if signal.after_step:  # read from the step's result (prediction gain)
            rewards = signal.after_step(loss_fn, state.student_params, params, sample_batch)
        elif not shared:
            moments = opt_state if config.signal.moments == "after" else state.student_opt_state
            rewards = signal(loss_fn, state.student_params, sample_batch, moments)
        teacher_state, _ = teacher.update(state.teacher_state, obs, tasks, rewards)
        new = MethodState(params, opt_state, teacher_state, key)
        counts = jax.ops.segment_sum(jnp.ones(batch), data.task_group[tasks], num_groups)
        return new, (counts, jnp.mean(rewards), loss)

    def evaluate(method, labels, data, p: Parts, state: MethodState, window_stats):
        """A window's metrics of ``method``: per-group losses and accuracies on the fixed
        evaluation and test subsets, and the window's sampling shares and rewards."""
        counts, rewards, losses = window_stats
        params = state.student_params
        eval_x = data.x_train[data.eval_index]
        eval_true = data.y_train[data.eval_index]
        logits = student.apply(params, eval_x)
        if data_cfg.label_mode == "noise":
            eval_losses = expected_group_loss(jax.nn.log_softmax(logits), eval_true, data.groups)
        else:
            eval_losses = per_sample_cross_entropy(logits, labels[data.eval_index])
        eval_group = data.groups.group_of_class[eval_true]
        predicted = jnp.argmax(student.apply(params, data.x_test), -1)
        group_of = data.groups.group_of_class
        probs = p.teachers[method].probs(state.teacher_state, obs)
        share = jnp.sum(counts, 0)
        return {
            "group_loss": _segment_mean(eval_losses, eval_group, num_groups),
            "group_share": share / jnp.sum(share),
            "task_probs": probs,
            "teacher_entropy": -jnp.sum(probs * jnp.log(jnp.maximum(probs, 1e-30))),
            "mean_reward": jnp.mean(rewards),
            "train_loss": jnp.mean(losses),
            "test_accuracy": jnp.mean(predicted == data.y_test),
            "test_group_accuracy": jnp.mean(group_of[predicted] == group_of[data.y_test]),
        }

    def window(data, p: Parts, state: TrainState, _):
        """``log_every`` steps of every method side by side, and their metrics."""
        methods, metrics = {}, {}
        for m in run_cfg.methods:
            method_step = functools.partial(step, m, state.labels, data, p)
            new, stats = jax.lax.scan(method_step, state.methods[m], None, length=log_every)
            methods[m] = new
            for name, value in evaluate(m, state.labels, data, p, new, stats).items():
                metrics[f"{m}/{name}"] = value
        return TrainState(state.labels, methods), metrics

    def run(state: TrainState, data: TaskData, point: dict | None = None, *,
            num_windows: int):
        window_fn = functools.partial(window, data, parts(point or {}))
        return jax.lax.scan(window_fn, state, None, length=num_windows)

    return Engine(init, run, run_cfg.steps // log_every, steps_per_window=log_every,
                  unit="step")


def make_train(config: Config):
    """``train(key, data) -> metrics``: a whole run for one seed; ``metrics[method][name]``,
    each with a leading axis of ``run.steps / run.log_every`` logged windows."""
    engine = make_engine(config)

    def train(key: jax.Array, data: TaskData):
        state = engine.init(key, data)
        _, metrics = engine.run(state, data, num_windows=engine.num_windows)
        nested: dict[str, dict[str, jax.Array]] = {}
        for name, value in metrics.items():
            method, metric = name.split("/", 1)
            nested.setdefault(method, {})[metric] = value
        return nested

    return train
