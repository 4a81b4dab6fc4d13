"""EXP3.S, the learning-progress teacher and TSCL's teachers: their updates against NumPy
re-computations of the papers' formulas over a few steps, and a synthetic non-stationary
problem on which each must follow the best task."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcurr.teachers.exp3s import exp3s_teacher, reservoir_add
from jaxcurr.teachers.learning_progress import learning_progress_teacher
from jaxcurr.teachers.tscl import tscl_teacher

K = 4


def _exp3s_numpy(steps, eta, eps, alpha):
    """Graves et al. 2017, Algorithm 1, batch form, float64; the reservoir holds everything."""
    w, history, probs = np.zeros(K), [], []
    for tasks, rewards in steps:
        pi = (1 - eps) * np.exp(w - w.max()) / np.exp(w - w.max()).sum() + eps / K
        history.extend(rewards)
        lo, hi = np.quantile(history, 0.2), np.quantile(history, 0.8)
        scaled = np.where(rewards < lo, -1.0, np.where(
            rewards > hi, 1.0, 2 * (rewards - lo) / (hi - lo) - 1 if hi > lo else 0.0))
        gains = eta * np.bincount(tasks, scaled, K) / len(rewards) / pi
        z = w + gains
        w = np.log((1 - alpha) * np.exp(z) + alpha / (K - 1) * (np.exp(z).sum() - np.exp(z)))
        w -= w.max()
        probs.append((1 - eps) * np.exp(w) / np.exp(w).sum() + eps / K)
    return np.array(probs)


def test_exp3s_matches_numpy_over_several_steps():
    rng = np.random.default_rng(0)
    steps = [(rng.integers(0, K, 8), rng.normal(size=8).astype(np.float32)) for _ in range(6)]
    eta, eps, alpha = 0.5, 0.05, 0.01
    teacher = exp3s_teacher(K, eta=eta, eps=eps, alpha=alpha, reservoir=100)
    state = teacher.init(jax.random.PRNGKey(0), None)
    got = []
    for tasks, rewards in steps:
        state, _ = teacher.update(state, None, jnp.asarray(tasks), jnp.asarray(rewards))
        got.append(np.asarray(teacher.probs(state, None)))
    np.testing.assert_allclose(np.array(got), _exp3s_numpy(steps, eta, eps, alpha),
                               rtol=2e-5, atol=1e-7)


def test_reservoir_keeps_a_uniform_sample_of_the_stream():
    """After 10,000 values 0..9999 into 100 slots (50 runs), the kept values' mean is about
    4,999.5 (uniform sample); a 'keep the first' or 'keep the last' bug gives 50 or 9,950."""
    def run(key):
        res, seen = reservoir_add(jnp.zeros(100), jnp.zeros([], jnp.int32),
                                  jnp.arange(10_000, dtype=jnp.float32), key)
        return res, seen

    res, seen = jax.jit(jax.vmap(run))(jax.random.split(jax.random.PRNGKey(1), 50))
    assert np.all(np.asarray(seen) == 10_000)
    mean = float(np.mean(res))
    assert abs(mean - 4999.5) < 4 * 2887 / np.sqrt(5000)  # 4 standard errors


def test_learning_progress_matches_numpy():
    rng = np.random.default_rng(2)
    fast_rate, slow_rate, eps = 0.3, 0.05, 0.1
    teacher = learning_progress_teacher(K, fast_rate, slow_rate, eps)
    state = teacher.init(None, None)
    fast, slow, seen = np.zeros(K), np.zeros(K), np.zeros(K, bool)
    for _ in range(5):
        tasks = rng.integers(0, K - 1, 6)  # the last task is never drawn
        rewards = rng.normal(size=6)
        state, _ = teacher.update(state, None, jnp.asarray(tasks), jnp.asarray(rewards))
        for i in np.unique(tasks):
            score = rewards[tasks == i].mean()
            fast[i] = score if not seen[i] else fast[i] + fast_rate * (score - fast[i])
            slow[i] = score if not seen[i] else slow[i] + slow_rate * (score - slow[i])
            seen[i] = True
        lp = np.abs(fast - slow)
        share = lp / lp.sum() if lp.sum() > 0 else np.full(K, 1 / K)  # first step: all 0
        want = (1 - eps) * share + eps / K
        np.testing.assert_allclose(teacher.probs(state, None), want, rtol=1e-5)
    assert float(teacher.probs(state, None)[K - 1]) == pytest.approx(eps / K)


def _follow(teacher, reward_fn, steps, batch, seeds=8):
    """Run the teacher on a synthetic problem; probabilities ``[seeds, steps, K]``."""
    def one(key):
        k_init, k_run = jax.random.split(key)

        def step(state, inputs):
            t, k = inputs
            k_act, k_reward = jax.random.split(k)
            tasks = teacher.act(state, None, k_act, batch)
            state, _ = teacher.update(state, None, tasks, reward_fn(t, tasks, k_reward))
            return state, teacher.probs(state, None)

        _, probs = jax.lax.scan(step, teacher.init(k_init, None),
                                (jnp.arange(steps), jax.random.split(k_run, steps)))
        return probs

    return np.asarray(jax.jit(jax.vmap(one))(jax.random.split(jax.random.PRNGKey(3), seeds)))


def test_exp3s_follows_the_best_task_when_it_changes():
    """Rewards N(mean, 0.5) with mean 1 on task 2 for 1,500 steps, then on task 0; 0 elsewhere.
    Late in each phase the best task has the highest probability for every seed."""
    def reward(t, tasks, key):
        best = jnp.where(t < 1500, 2, 0)
        return (tasks == best).astype(jnp.float32) + 0.5 * jax.random.normal(key, tasks.shape)

    probs = _follow(exp3s_teacher(K, eta=0.02, alpha=1e-3), reward, 3000, 16)
    assert np.all(probs[:, 1400].argmax(-1) == 2)
    assert np.all(probs[:, 2999].argmax(-1) == 0)
    assert probs[:, 1400, 2].mean() > 0.6 and probs[:, 2999, 0].mean() > 0.6


def test_learning_progress_follows_the_task_that_improves():
    """Task 1's score rises linearly in the first 400 steps, task 3's in the next 400; the
    other scores stay flat (all with noise 0.05). Mid-phase the improving task has the highest
    probability for every seed."""
    def reward(t, tasks, key):
        rise1 = jnp.clip(t / 400, 0, 1)
        rise3 = jnp.clip((t - 400) / 400, 0, 1)
        means = jnp.stack([jnp.zeros_like(rise1), rise1, jnp.zeros_like(rise1), rise3])
        return means[tasks] + 0.05 * jax.random.normal(key, tasks.shape)

    probs = _follow(learning_progress_teacher(K), reward, 800, 16)
    assert np.all(probs[:, 300].argmax(-1) == 1)
    assert np.all(probs[:, 700].argmax(-1) == 3)


@pytest.mark.parametrize("make, kwargs, field", [
    (exp3s_teacher, {"num_tasks": 1}, "teacher.num_tasks"),
    (tscl_teacher, {"num_tasks": 3, "algorithm": "greedy"}, "teacher.tscl_algorithm"),
    (tscl_teacher, {"num_tasks": 3, "window": 1}, "teacher.tscl_window"),
    (tscl_teacher, {"num_tasks": 3, "selection": "thompson"}, "teacher.tscl_selection"),
    (exp3s_teacher, {"num_tasks": 3, "eps": 1.5}, "teacher.eps"),
    (learning_progress_teacher, {"num_tasks": 3, "fast_rate": 0.01, "slow_rate": 0.1},
     "teacher.slow_rate"),
])
def test_bad_settings_name_the_field(make, kwargs, field):
    with pytest.raises(ValueError, match=f"^{field}: got"):
        make(**kwargs)


@pytest.mark.parametrize("teacher_kind, methods", [
    ("exp3s", ["curiosity", "prediction_gain", "gradient_norm"]),
    ("learning_progress", ["uniform", "momentum_correlation", "gradient_prediction_gain"]),
    ("tscl", ["curiosity", "momentum_correlation"]),
    ("reinforce", ["uniform", "exp3s:momentum_correlation", "learning_progress:loss",
                   "tscl:prediction_gain", "reinforce:gradient_norm"])])
def test_any_teacher_with_any_signal_in_the_classifier_curriculum(teacher_kind, methods,
                                                                 tiny_config, tmp_path):
    """The classifier curriculum runs every method with the chosen teacher in one program; the
    teachers' task probabilities are distributions and move away from uniform."""
    import tomli_w

    from jaxcurr import cli
    from jaxcurr.run.run_dir import load_metrics

    values = tiny_config(teacher={"kind": teacher_kind, "exp3s_eta": 0.5},
                         run={"methods": methods, "steps": 60, "log_every": 20})
    path = tmp_path / "exp.toml"
    path.write_bytes(tomli_w.dumps(values).encode())
    assert cli.main(["run", str(path), "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    metrics = load_metrics(tmp_path / "run")
    for method in (m for m in methods if m != "uniform"):
        probs = metrics[f"{method}/task_probs"]  # [point, seed, window, task]
        np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
        assert np.abs(probs - 1.0 / probs.shape[-1]).max() > 1e-3, method  # it moved


def test_a_teacher_signal_method_is_that_teacher_with_that_signal(tiny_config, tmp_path):
    """"exp3s:loss" under the default teacher.kind runs exactly what "curiosity" (the loss
    signal) runs with teacher.kind = "exp3s": same seeds, same probabilities."""
    import tomli_w

    from jaxcurr import cli
    from jaxcurr.run.run_dir import load_metrics

    probs = []
    for kind, method in (("reinforce", "exp3s:loss"), ("exp3s", "curiosity")):
        values = tiny_config(teacher={"kind": kind, "exp3s_eta": 0.5},
                             run={"methods": [method], "steps": 40, "log_every": 20})
        path, out = tmp_path / f"{kind}.toml", tmp_path / kind
        path.write_bytes(tomli_w.dumps(values).encode())
        assert cli.main(["run", str(path), "--out", str(out), "--no-progress"]) == 0
        probs.append(load_metrics(out)[f"{method}/task_probs"])
    np.testing.assert_array_equal(probs[0], probs[1])
    assert np.abs(probs[0] - 1.0 / probs[0].shape[-1]).max() > 1e-3


def test_signal_names_are_the_signals():
    from jaxcurr.curricula.classifier_config import SIGNAL_NAMES
    from jaxcurr.signals.per_sample import SIGNALS

    assert set(SIGNAL_NAMES) == set(SIGNALS) - {"uniform"}


@pytest.mark.parametrize("method", ["exp3s:accuracy", "bandit:loss", "exp3s:"])
def test_a_bad_teacher_signal_method_names_the_field(tiny_config, method):
    from jaxcurr.core.validation import ConfigError
    from jaxcurr.curricula.classifier_config import config_from_dict

    with pytest.raises(ConfigError, match=r"^run\.methods: got .*'TEACHER:SIGNAL'"):
        config_from_dict(tiny_config(run={"methods": ["uniform", method]}))


def _tscl_numpy(steps, algorithm, window, rate):
    """Matiisen et al. 2017's four teachers in batch form, float64, lists per task: the value
    estimates after each step (sampling: each task's FIFO of score changes)."""
    q, last, hist, out = np.zeros(K), {}, {i: [] for i in range(K)}, []
    for t, (tasks, rewards) in enumerate(steps):
        for i in np.unique(tasks):
            x = rewards[tasks == i].mean()
            change = x - last[i] if i in last else None
            if algorithm == "online":
                q[i] = rate * (change or 0.0) + (1 - rate) * q[i]
            elif algorithm == "sampling":
                if change is not None:
                    hist[i] = (hist[i] + [change])[-window:]
            else:
                hist[i] = (hist[i] + [(t, x)])[-window:]
                if algorithm == "window" and len(hist[i]) >= 2:
                    q[i] = np.polyfit(*np.array(hist[i]).T, 1)[0]
                if algorithm == "naive" and len(hist[i]) == window:
                    q[i] = np.polyfit(*np.array(hist[i]).T, 1)[0]
                    hist[i] = []
            last[i] = x
        out.append(q.copy() if algorithm != "sampling" else {i: list(h) for i, h in hist.items()})
    return out


@pytest.mark.parametrize("algorithm", ["online", "naive", "window", "sampling"])
def test_tscl_matches_numpy(algorithm):
    rng = np.random.default_rng(4)
    window, rate = 3, 0.3
    steps = [(rng.integers(0, K - 1, 5), rng.normal(size=5)) for _ in range(9)]
    want = _tscl_numpy(steps, algorithm, window, rate)
    teacher = tscl_teacher(K, algorithm, window=window, rate=rate)
    state = teacher.init(None, None)
    for (tasks, rewards), ref in zip(steps, want, strict=True):
        state, _ = teacher.update(state, None, jnp.asarray(tasks), jnp.asarray(rewards))
        if algorithm == "sampling":
            for i in range(K):
                np.testing.assert_allclose(state.values[i, :int(state.count[i])], ref[i],
                                           rtol=1e-5, atol=1e-6)
        else:
            np.testing.assert_allclose(state.q, ref, rtol=1e-4, atol=1e-6)
    if algorithm == "sampling":  # the never-drawn task has an empty FIFO: always picked first
        assert int(teacher.act(state, None, jax.random.PRNGKey(0), 8)[0]) == K - 1
    else:
        v = np.abs(want[-1])
        np.testing.assert_allclose(teacher.probs(state, None),
                                   0.9 * np.eye(K)[v.argmax()] + 0.1 / K, rtol=1e-5)
        boltzmann = tscl_teacher(K, algorithm, "boltzmann", window=window, rate=rate,
                                 temperature=0.5)
        e = np.exp(v / 0.5)
        np.testing.assert_allclose(boltzmann.probs(state, None), e / e.sum(), rtol=1e-5)
        signed = tscl_teacher(K, algorithm, absolute=False, window=window, rate=rate)
        np.testing.assert_allclose(signed.probs(state, None),
                                   0.9 * np.eye(K)[want[-1].argmax()] + 0.1 / K, rtol=1e-5)


@pytest.mark.parametrize("algorithm, selection", [
    ("online", "epsilon_greedy"), ("window", "boltzmann"), ("naive", "epsilon_greedy"),
    ("sampling", "epsilon_greedy")])
def test_tscl_follows_the_task_that_improves(algorithm, selection):
    """The learning-progress test's problem (task 1 improves in steps 0-400, task 3 in
    400-800) with less score noise, as TSCL reads single-step score changes (0.0025 per step
    here): 0.005 for online / window / naive, whose improving task must have the highest
    probability mid-phase for every seed; 0.001 for the sampling teacher, whose Thompson draws
    of single changes are noisier: its mean probability of the improving task over steps
    250-350 and 650-750 and the seeds must exceed 0.5 (measured 0.87-1.0)."""
    noise = 0.001 if algorithm == "sampling" else 0.005

    def reward(t, tasks, key):
        rise1 = jnp.clip(t / 400, 0, 1)
        rise3 = jnp.clip((t - 400) / 400, 0, 1)
        means = jnp.stack([jnp.zeros_like(rise1), rise1, jnp.zeros_like(rise1), rise3])
        return means[tasks] + noise * jax.random.normal(key, tasks.shape)

    teacher = tscl_teacher(K, algorithm, selection, window=10 if algorithm == "sampling"
                           else 20, rate=0.1, temperature=0.002)
    probs = _follow(teacher, reward, 800, 16)
    if algorithm == "sampling":
        assert probs[:, 250:350, 1].mean() > 0.5 and probs[:, 650:750, 3].mean() > 0.5
    else:
        assert np.all(probs[:, 300].argmax(-1) == 1), probs[:, 300]
        assert np.all(probs[:, 700].argmax(-1) == 3), probs[:, 700]
