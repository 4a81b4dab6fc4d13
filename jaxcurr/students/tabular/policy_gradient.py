r"""Exact and sampled policy-gradient quantities for softmax tabular policies.

For a :class:`~jaxcurr.envs.tabular_mdp.TabularMDP` and logits ``theta[s, a]`` the policy is
``pi(a | s) = softmax(theta[s])[a]``. With ``P_pi[s, s'] = sum_a pi(a|s) P(s'|s, a)`` and
``r_pi[s] = sum_a pi(a|s) r(s, a)``:

.. math::

  V^\pi = (I - \gamma P_\pi)^{-1} r_\pi, \qquad V^\pi(\rho) = \rho^\top V^\pi, \qquad
  d^\pi_\rho = (1 - \gamma)\, \rho^\top (I - \gamma P_\pi)^{-1},

  \frac{\partial V^\pi(\rho)}{\partial \theta_{s,a}}
    = \frac{1}{1 - \gamma}\, d^\pi_\rho(s)\, \pi(a|s)\, A^\pi(s, a)

(the softmax policy-gradient theorem; Agarwal et al. 2021, Mei et al. 2020). With
``gamma = 0`` (the bandit) ``V(rho)`` is the expected immediate reward and ``d = rho``.

Everything here is a pure function of arrays: jit-, vmap- and grad-able. The linear solves are
``S x S`` (tiny), so the exact quantities are cheap enough to call at every optimizer step.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from jaxcurr.core import small_linalg
from jaxcurr.envs.tabular_mdp import TabularMDP


def softmax_policy(logits: jax.Array) -> jax.Array:
    """``pi[s, a] = softmax(logits[s])[a]``."""
    return jax.nn.softmax(logits, axis=-1)


def _policy_matrices(mdp: TabularMDP, pi: jax.Array) -> tuple[jax.Array, jax.Array]:
    p_pi = jnp.einsum("sa,sat->st", pi, mdp.transition)
    r_pi = jnp.sum(pi * mdp.reward, axis=-1)
    return p_pi, r_pi


def state_values(mdp: TabularMDP, logits: jax.Array) -> jax.Array:
    """``V^pi[s]`` for every state, by one linear solve ``(I - gamma P_pi) V = r_pi``."""
    pi = softmax_policy(logits)
    p_pi, r_pi = _policy_matrices(mdp, pi)
    eye = jnp.eye(mdp.num_states, dtype=p_pi.dtype)
    return small_linalg.solve(eye - mdp.gamma * p_pi, r_pi)


def q_values(mdp: TabularMDP, logits: jax.Array) -> jax.Array:
    """``Q^pi[s, a] = r(s, a) + gamma * sum_s' P(s'|s, a) V^pi(s')``."""
    v = state_values(mdp, logits)
    return mdp.reward + mdp.gamma * jnp.einsum("sat,t->sa", mdp.transition, v)


def value(mdp: TabularMDP, logits: jax.Array) -> jax.Array:
    """``V^pi(rho) = rho . V^pi``: the objective policy gradient ascends."""
    return mdp.rho @ state_values(mdp, logits)


def discounted_visitation(mdp: TabularMDP, logits: jax.Array) -> jax.Array:
    """``d^pi_rho[s] = (1 - gamma) sum_t gamma^t Pr(s_t = s)``: a probability vector."""
    pi = softmax_policy(logits)
    p_pi, _ = _policy_matrices(mdp, pi)
    eye = jnp.eye(mdp.num_states, dtype=p_pi.dtype)
    return (1 - mdp.gamma) * small_linalg.solve((eye - mdp.gamma * p_pi).T, mdp.rho)


def exact_gradient(mdp: TabularMDP, logits: jax.Array) -> jax.Array:
    """``dV(rho)/dtheta[s, a] = d(s) pi(a|s) A(s, a) / (1 - gamma)``; equals ``grad(value)``."""
    pi = softmax_policy(logits)
    q = q_values(mdp, logits)
    adv = q - jnp.sum(pi * q, axis=-1, keepdims=True)
    d = discounted_visitation(mdp, logits)
    return d[:, None] * pi * adv / (1 - mdp.gamma)


class OptimalSolution(NamedTuple):
    """Result of :func:`value_iteration`.

    Attributes:
      values: ``V*[s]``.
      q: ``Q*[s, a]``.
      policy: a deterministic optimal policy as one-hot ``[S, A]`` (greedy in ``Q*``).
      value: ``V*(rho)``.
      iterations: number of Bellman backups done.
    """

    values: jax.Array
    q: jax.Array
    policy: jax.Array
    value: jax.Array
    iterations: jax.Array


def value_iteration(mdp: TabularMDP, tol: float = 1e-12, max_iters: int = 100_000
                    ) -> OptimalSolution:
    """Optimal values by value iteration until the sup-norm change is below ``tol``, then an
    exact evaluation of the greedy policy (so ``V*`` is exact to rounding once it is optimal).

    The Bellman optimality backup is a ``gamma``-contraction, so after stopping
    ``|V - V*| <= tol * gamma / (1 - gamma)`` (up to float rounding). With ``gamma = 0`` one
    backup is exact.
    """
    def backup(v):
        q = mdp.reward + mdp.gamma * jnp.einsum("sat,t->sa", mdp.transition, v)
        return q.max(-1), q

    def cond(carry):
        _, delta, i = carry
        return jnp.logical_and(delta > tol, i < max_iters)

    def body(carry):
        v, _, i = carry
        v_new, _ = backup(v)
        return v_new, jnp.max(jnp.abs(v_new - v)), i + 1

    v0 = jnp.zeros(mdp.num_states, mdp.reward.dtype)
    init = (v0, jnp.asarray(jnp.inf, v0.dtype), jnp.asarray(0, jnp.int32))
    v, _, iters = lax.while_loop(cond, body, init)
    _, q = backup(v)
    policy = jax.nn.one_hot(jnp.argmax(q, -1), mdp.num_actions, dtype=q.dtype)
    # Polish: evaluate the greedy policy exactly (one linear solve), removing the iteration's
    # residual error once the greedy policy is optimal.
    p_pi, r_pi = _policy_matrices(mdp, policy)
    v = small_linalg.solve(jnp.eye(mdp.num_states, dtype=p_pi.dtype) - mdp.gamma * p_pi, r_pi)
    q = mdp.reward + mdp.gamma * jnp.einsum("sat,t->sa", mdp.transition, v)
    return OptimalSolution(values=v, q=q, policy=policy, value=mdp.rho @ v, iterations=iters + 1)


def optimal_value(mdp: TabularMDP) -> jax.Array:
    """``V*(rho)`` by :func:`value_iteration`."""
    return value_iteration(mdp).value


def suboptimality_gap(mdp: TabularMDP, logits: jax.Array, v_star: jax.Array) -> jax.Array:
    """``V*(rho) - V^pi(rho)`` (non-negative up to rounding)."""
    return v_star - value(mdp, logits)


def sampled_gradient(
    mdp: TabularMDP,
    logits: jax.Array,
    key: jax.Array,
    batch_size: int = 1,
    baseline: bool = True,
) -> jax.Array:
    r"""Unbiased one-sample (or batch-mean) estimate of :func:`exact_gradient`.

    Each sample draws ``s ~ d^pi_rho`` and ``a ~ pi(.|s)`` and returns

    .. math::

      \hat g = \frac{1}{1-\gamma}\, e_s \otimes (e_a - \pi(\cdot|s))\, \hat Q(s, a)

    with ``Q-hat = A^pi(s, a) = Q^pi(s, a) - V^pi(s)`` (``baseline=True``, default: the
    estimator of the public APG code, ``compute_stochastic_grad``), or ``Q-hat = Q^pi(s, a)``
    (``baseline=False``: same mean, different variance). Values are exact; only the
    state-action pair is sampled. Since
    ``E_a[(e_a - pi) Q(s, a)] = pi * A(s, .)`` the estimate is unbiased. ``batch_size``
    independent samples are averaged (static int >= 1).
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a Python int >= 1, got {batch_size!r}")
    pi = softmax_policy(logits)
    q = q_values(mdp, logits)
    if baseline:
        q = q - jnp.sum(pi * q, axis=-1, keepdims=True)
    d = discounted_visitation(mdp, logits)
    s_dim, a_dim = pi.shape

    def one(k):
        ks, ka = jax.random.split(k)
        s = jax.random.choice(ks, s_dim, p=d)
        a = jax.random.choice(ka, a_dim, p=pi[s])
        row = (jax.nn.one_hot(a, a_dim, dtype=pi.dtype) - pi[s]) * q[s, a]
        return jax.nn.one_hot(s, s_dim, dtype=pi.dtype)[:, None] * row[None, :]

    g = jax.vmap(one)(jax.random.split(key, batch_size)).mean(0)
    return g / (1 - mdp.gamma)
