"""ALP-GMM: a teacher over a continuous task space driven by absolute learning progress.

(Portelas, Colas, Hofmann & Oudeyer 2019, "Teacher algorithms for curriculum learning of Deep
RL in continuously parameterized environments", Algorithm 1.) Tasks are points of the box
``[low, high]^d``. After each episode on task ``tau`` with score ``r`` (a return, or any
signal), the teacher finds the nearest earlier task ``tau_old`` in its history (Euclidean
distance in the box scaled to ``[0, 1]^d``) and records::

    alp = |r - r_old|          (0 for the first task)

Every ``fit_every`` episodes it fits Gaussian mixtures to the last ``fit_window`` points
``(tau, alp)`` for each ``K`` in ``2..max_components`` (``em_iters`` EM iterations from
``K`` random points of the window, covariances regularised by ``reg``) and keeps the one with
the lowest AIC ``2 p - 2 log L``, ``p = K (D + D (D + 1) / 2) + K - 1``, ``D = d + 1``. A new
task is drawn

* uniformly from the box until the first fit, and with probability ``random_share``
  afterwards;
* otherwise from component ``k`` with probability ``alp_k / sum_j alp_j``, ``alp_k`` the ALP
  coordinate of its mean (clipped at 0), as the task-space marginal ``N(mu_k[:d],
  Sigma_k[:d, :d])`` clipped to the box.

History is a ring buffer of ``history`` entries (the paper keeps all of history in a KD-tree;
a bounded buffer keeps the state a fixed-size array). ``observe`` is ``record`` (the ALP) then
``refit`` (the mixtures, when ``fit_every`` episodes have passed since the last fit); a vmapped
training loop can call ``record`` per episode and ``refit`` less often, where a refit computed
under ``vmap`` for every run and step would cost more than the student.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxcurr.core import small_linalg
from jaxcurr.core.validation import require

REG = 1e-4  # added to the covariances' diagonals (float32 EM on points in [0, 1])


class Mixture(NamedTuple):
    weights: jax.Array  # [K]: 0 for components beyond the chosen K
    means: jax.Array  # [K, D]
    covs: jax.Array  # [K, D, D]


class ALPGMMState(NamedTuple):
    tasks: jax.Array  # [history, d], scaled to [0, 1]
    scores: jax.Array  # [history]
    alps: jax.Array  # [history]
    count: jax.Array  # int32: episodes observed
    fitted_at: jax.Array  # int32: count at the last fit
    mixture: Mixture


class ALPGMM(NamedTuple):
    """``init(key)``; ``sample(state, key) -> task [d]`` in the box; ``observe(state, task,
    score, key) -> (state, info)``, which is ``record(state, task, score) -> (state, info)``
    then ``refit(state, key) -> state``; ``component_probs(state) -> [K]``."""

    init: object
    sample: object
    observe: object
    record: object
    refit: object
    component_probs: object


def log_densities(x: jax.Array, mixture: Mixture) -> jax.Array:
    """``log w_k + log N(x_n; mu_k, Sigma_k)`` for every point and component, ``[N, K]``."""
    dim = x.shape[-1]
    chol = jax.vmap(small_linalg.cholesky)(mixture.covs)  # [K, D, D]
    diff = x[None] - mixture.means[:, None]  # [K, N, D]
    solved = jax.vmap(small_linalg.solve_lower)(chol, jnp.swapaxes(diff, 1, 2))
    maha = jnp.sum(solved**2, axis=1)  # [K, N]
    log_det = 2 * jnp.sum(jnp.log(jnp.diagonal(chol, axis1=1, axis2=2)), -1)  # [K]
    log_n = -0.5 * (maha + log_det[:, None] + dim * math.log(2 * math.pi))
    return (jnp.log(mixture.weights)[:, None] + log_n).T


def em_fit(x: jax.Array, mask: jax.Array, init_means: jax.Array, active: jax.Array,
           iters: int, reg: float = REG) -> tuple[Mixture, jax.Array]:
    """``iters`` EM iterations of a full-covariance mixture on the points where ``mask``;
    components where ``~active`` keep weight 0. Starts from ``init_means``, the data's
    covariance and equal weights. Returns the mixture and its log-likelihood."""
    dim = x.shape[-1]
    w = mask.astype(x.dtype)
    n = jnp.sum(w)
    mean = jnp.sum(w[:, None] * x, 0) / n
    data_cov = (w[:, None] * (x - mean)).T @ (x - mean) / n + reg * jnp.eye(dim)
    k = jnp.sum(active)
    mixture = Mixture(jnp.where(active, 1.0 / k, 0.0),
                      init_means, jnp.broadcast_to(data_cov, (init_means.shape[0], dim, dim)))

    def responsibilities(m: Mixture) -> jax.Array:
        logp = jnp.where(active[None], log_densities(x, m), -jnp.inf)
        return jnp.exp(logp - jax.nn.logsumexp(logp, axis=1, keepdims=True)) * w[:, None]

    def step(m: Mixture, _) -> tuple[Mixture, None]:
        resp = responsibilities(m)  # [N, K]
        nk = jnp.sum(resp, 0) + 1e-10
        means = resp.T @ x / nk[:, None]
        diff = x[None] - means[:, None]  # [K, N, D]
        covs = jnp.einsum("nk,kni,knj->kij", resp, diff, diff) / nk[:, None, None]
        covs = covs + reg * jnp.eye(dim)
        return Mixture(jnp.where(active, nk / n, 0.0), means, covs), None

    mixture, _ = jax.lax.scan(step, mixture, None, length=iters)
    logp = jnp.where(active[None], log_densities(x, mixture), -jnp.inf)
    return mixture, jnp.sum(w * jax.nn.logsumexp(logp, axis=1))


def aic(log_likelihood: jax.Array, k: jax.Array, dim: int) -> jax.Array:
    """``2 p - 2 log L`` with ``p = K (D + D (D + 1) / 2) + K - 1``."""
    return 2 * (k * (dim + dim * (dim + 1) / 2) + k - 1) - 2 * log_likelihood


def alp_gmm_teacher(low, high, max_components: int = 6, fit_every: int = 50,
                    fit_window: int = 250, history: int = 2000, em_iters: int = 10,
                    random_share: float = 0.2) -> ALPGMM:
    """The teacher of the module docstring over the box ``[low, high]`` (arrays ``[d]``)."""
    box = (low, high)
    # NumPy: checked on the host, also when the teacher is built inside a traced function
    low, high = np.asarray(low, np.float32), np.asarray(high, np.float32)
    require(low.ndim == 1 and low.shape == high.shape and bool(np.all(high > low)),
            "teacher.alp_task_box", "two equal-length lists, low below high", box)
    for name, value, least in (("max_components", max_components, 2),
                               ("fit_every", fit_every, 1), ("em_iters", em_iters, 1)):
        require(isinstance(value, int) and value >= least, f"teacher.alp_{name}",
                f"an integer >= {least}", value)
    require(isinstance(fit_window, int) and max_components <= fit_window <= history,
            "teacher.alp_fit_window", f"an integer in [max_components, history ({history})]",
            fit_window)
    require(0 <= random_share <= 1, "teacher.alp_random_share", "a number in [0, 1]",
            random_share)
    d = low.shape[0]
    dim = d + 1
    ks = jnp.arange(2, max_components + 1)

    def init(key) -> ALPGMMState:
        del key
        mixture = Mixture(jnp.zeros((max_components,)), jnp.zeros((max_components, dim)),
                          jnp.broadcast_to(jnp.eye(dim), (max_components, dim, dim)))
        return ALPGMMState(jnp.zeros((history, d)), jnp.zeros((history,)),
                           jnp.zeros((history,)), jnp.zeros([], jnp.int32),
                           jnp.zeros([], jnp.int32), mixture)

    def component_probs(state: ALPGMMState) -> jax.Array:
        alp = jnp.maximum(state.mixture.means[:, -1], 0.0) * (state.mixture.weights > 0)
        total = jnp.sum(alp)
        live = state.mixture.weights > 0
        even = live / jnp.maximum(jnp.sum(live), 1)
        return jnp.where(total > 0, alp / jnp.where(total > 0, total, 1.0), even)

    def sample(state: ALPGMMState, key) -> jax.Array:
        k_explore, k_pick, k_uniform, k_normal = jax.random.split(key, 4)
        uniform = jax.random.uniform(k_uniform, (d,))
        pick = jax.random.choice(k_pick, max_components, p=component_probs(state))
        cov = state.mixture.covs[pick, :d, :d]
        gaussian = jax.random.multivariate_normal(k_normal, state.mixture.means[pick, :d], cov)
        fitted = jnp.sum(state.mixture.weights) > 0
        explore = ~fitted | (jax.random.uniform(k_explore) < random_share)
        unit = jnp.where(explore, uniform, jnp.clip(gaussian, 0.0, 1.0))
        return low + unit * (high - low)

    def fit(state: ALPGMMState, key) -> Mixture:
        newest = (state.count - 1 - jnp.arange(fit_window)) % history  # the window's slots
        mask = jnp.arange(fit_window) < state.count
        points = jnp.concatenate([state.tasks, state.alps[:, None]], axis=1)[newest]
        # K random distinct points of the window as initial means (same draw for every K)
        order = jax.random.permutation(key, fit_window)
        ranked = jnp.argsort(jnp.where(mask[order], 0, 1), stable=True)
        init_means = points[order[ranked[:max_components]]]

        def one(k):
            active = jnp.arange(max_components) < k
            mixture, log_l = em_fit(points, mask, init_means, active, em_iters)
            return mixture, aic(log_l, k, dim)

        mixtures, scores = jax.vmap(one)(ks)
        best = jnp.argmin(jnp.where(jnp.isfinite(scores), scores, jnp.inf))
        return jax.tree.map(lambda a: a[best], mixtures)

    def record(state: ALPGMMState, task, score) -> tuple[ALPGMMState, dict]:
        unit = (jnp.asarray(task, jnp.float32) - low) / (high - low)
        score = jnp.asarray(score, jnp.float32)
        seen = jnp.arange(history) < jnp.minimum(state.count, history)
        distance = jnp.where(seen, jnp.sum((state.tasks - unit) ** 2, -1), jnp.inf)
        nearest = jnp.argmin(distance)
        alp = jnp.where(state.count > 0, jnp.abs(score - state.scores[nearest]), 0.0)
        slot = state.count % history
        return state._replace(tasks=state.tasks.at[slot].set(unit),
                              scores=state.scores.at[slot].set(score),
                              alps=state.alps.at[slot].set(alp), count=state.count + 1
                              ), {"alp": alp}

    def refit(state: ALPGMMState, key) -> ALPGMMState:
        due = (state.count - state.fitted_at >= fit_every) & (state.count >= max_components)
        mixture = jax.lax.cond(due, fit, lambda s, k: s.mixture, state, key)
        return state._replace(mixture=mixture,
                              fitted_at=jnp.where(due, state.count, state.fitted_at))

    def observe(state: ALPGMMState, task, score, key) -> tuple[ALPGMMState, dict]:
        state, info = record(state, task, score)
        return refit(state, key), info

    return ALPGMM(init, sample, observe, record, refit, component_probs)
