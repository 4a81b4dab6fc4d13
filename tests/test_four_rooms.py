"""Four Rooms: grid, transition rule, sampled slips, episode ends, gymnax API, exact values.

The reference below is written from the paper's MDP definition (and the authors'-code facts in
docs/reference_facts.md §5) in plain NumPy, independently of ``jaxcurr.envs.four_rooms``.
"""

import gymnax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcurr.envs import (
    FourRooms,
    FourRoomsParams,
    FourRoomsState,
    optimal_discounted_return,
    policy_discounted_return,
    register_four_rooms,
    transition_table,
)
from jaxcurr.envs.four_rooms import CELLS, outcomes

REF_WALLS = {(0, 5), (2, 5), (3, 5), (4, 5), (5, 0), (5, 2), (5, 3), (5, 4), (5, 5), (5, 6),
             (5, 7), (5, 9), (5, 10), (6, 4), (7, 4), (9, 4), (10, 4)}
REF_DOORS = {(1, 5), (5, 1), (5, 8), (8, 4)}
REF_STEP = {0: (0, 1), 1: (0, -1), 2: (-1, 0), 3: (1, 0)}  # up, down, left, right
REF_SIDEWAYS = {0: (2, 3), 1: (2, 3), 2: (0, 1), 3: (0, 1)}
REF_CELLS = [(x, y) for x in range(11) for y in range(11) if (x, y) not in REF_WALLS]
REF_INDEX = {cell: i for i, cell in enumerate(REF_CELLS)}
GOAL = (10, 10)


def ref_move(cell, direction):
    x, y = cell
    dx, dy = REF_STEP[direction]
    target = (min(max(x + dx, 0), 10), min(max(y + dy, 0), 10))
    return cell if target in REF_WALLS else target


def ref_table(slip=0.2, terminate_at_goal=True):
    """P[s, a, s'], expected reward and terminal mask from the paper's rule."""
    n = len(REF_CELLS)
    p = np.zeros((n, 4, n))
    for s, cell in enumerate(REF_CELLS):
        for a in range(4):
            p[s, a, REF_INDEX[ref_move(cell, a)]] += 1 - slip
            for side in REF_SIDEWAYS[a]:
                p[s, a, REF_INDEX[ref_move(cell, side)]] += slip / 2
    reward = -(1 - p[:, :, REF_INDEX[GOAL]])
    terminal = np.zeros(n, bool)
    terminal[REF_INDEX[GOAL]] = terminate_at_goal
    return p, reward, terminal


def ref_values(p, reward, terminal, gamma, horizon, policy=None):
    """Finite-horizon backward recursion (policy evaluation, or value iteration if None)."""
    v = np.zeros(len(p))
    for _ in range(horizon):
        q = reward + gamma * p @ v
        v = np.where(terminal, 0.0, q.max(1) if policy is None else (policy * q).sum(1))
    return v[REF_INDEX[(0, 0)]]


def ref_greedy_policy(slip=0.2, gamma=0.99):
    p, reward, terminal = ref_table(slip)
    v = np.zeros(len(p))
    for _ in range(2000):
        v = np.where(terminal, 0.0, (reward + gamma * p @ v).max(1))
    return np.eye(4)[(reward + gamma * p @ v).argmax(1)]


def set_state(cell, time=0):
    return FourRoomsState(pos=jnp.array(cell, jnp.int32), time=jnp.array(time, jnp.int32))


def test_grid_has_the_papers_walls_doors_and_104_free_cells():
    assert len(REF_CELLS) == 104 and CELLS.shape == (104, 2)
    assert [tuple(c) for c in CELLS.tolist()] == REF_CELLS
    assert REF_DOORS <= set(REF_CELLS) and not REF_WALLS & set(REF_CELLS)
    env = FourRooms()
    np.testing.assert_array_equal(env.all_observations(), np.eye(104, dtype=np.float32))
    xy = FourRooms("xy").all_observations()
    np.testing.assert_allclose(xy, np.array(REF_CELLS) / 10, atol=1e-7)
    for i in (0, 37, 103):
        np.testing.assert_array_equal(env.get_obs(set_state(REF_CELLS[i])), np.eye(104)[i])


def test_deterministic_move_matches_reference_on_every_cell_and_action():
    moves = jax.vmap(jax.vmap(outcomes, in_axes=(None, 0, None)), in_axes=(0, None, None))
    next_pos, probs = map(np.asarray, moves(jnp.array(REF_CELLS), jnp.arange(4), 0.0))
    for s, cell in enumerate(REF_CELLS):
        for a in range(4):
            assert tuple(next_pos[s, a, a].tolist()) == ref_move(cell, a), (cell, a)
            np.testing.assert_array_equal(probs[s, a], np.eye(4)[a])
    # Moves into walls and off the grid stay put; moves through doors pass.
    assert ref_move((0, 0), 1) == (0, 0) and ref_move((4, 4), 3) == (4, 4)
    assert ref_move((1, 4), 0) == (1, 5) and ref_move((8, 3), 0) == (8, 4)


@pytest.mark.parametrize("slip,terminate", [(0.2, True), (0.35, False), (0.0, True)])
def test_transition_table_matches_reference(slip, terminate):
    params = FourRoomsParams(slip_prob=slip, terminate_at_goal=terminate)
    table = transition_table(params)
    p, reward, terminal = ref_table(slip, terminate)
    np.testing.assert_allclose(table.probs, p, atol=1e-6)
    np.testing.assert_allclose(table.rewards, reward, atol=1e-6)
    np.testing.assert_array_equal(table.terminal, terminal)
    assert int(table.start) == REF_INDEX[(0, 0)]
    np.testing.assert_array_equal(table.cells, np.array(REF_CELLS))


def test_sampled_steps_follow_the_slip_probabilities():
    """Next-cell frequencies of 20k vmapped steps per (cell, action) within 4.5-sigma bounds."""
    env, params = FourRooms(), FourRoomsParams()
    n = 20_000
    p, _, _ = ref_table(0.2)
    step = jax.jit(jax.vmap(env.step, in_axes=(0, None, None, None)))
    for k, cell in enumerate([(2, 2), (0, 0), (5, 8), (10, 3)]):
        for a in range(4):
            keys = jax.random.split(jax.random.key(100 * k + a), n)
            _, state, reward, *_ = step(keys, set_state(cell), a, params)
            idx = np.array([REF_INDEX[tuple(c)] for c in np.asarray(state.pos).tolist()])
            freq = np.bincount(idx, minlength=104) / n
            expected = p[REF_INDEX[cell], a]
            bound = 4.5 * np.sqrt(expected * (1 - expected) / n) + 1e-12
            assert np.all(np.abs(freq - expected) <= bound), (cell, a, freq[expected > 0])
            np.testing.assert_array_equal(reward, -1.0)


def test_goal_reward_termination_and_step_limit():
    env = FourRooms()
    det = FourRoomsParams(slip_prob=0.0)
    key = jax.random.key(0)
    # Reaching the goal pays 0 and ends the episode; gymnax then resets to the start.
    obs, state, reward, terminated, truncated, info = env.step(key, set_state((10, 9), 5), 0, det)
    assert float(reward) == 0.0 and bool(terminated) and not bool(truncated)
    assert tuple(state.pos.tolist()) == (0, 0) and int(state.time) == 0
    np.testing.assert_array_equal(info["final_observation"], np.eye(104)[REF_INDEX[GOAL]])
    np.testing.assert_array_equal(obs, np.eye(104)[REF_INDEX[(0, 0)]])
    # Authors' code: no termination; staying on the goal keeps paying 0, leaving it pays -1.
    authors = det.replace(terminate_at_goal=False)
    _, state, reward, terminated, _, _ = env.step(key, set_state((10, 9), 5), 0, authors)
    assert float(reward) == 0.0 and not bool(terminated) and tuple(state.pos.tolist()) == GOAL
    _, state, reward, _, _, _ = env.step(key, state, 3, authors)
    assert float(reward) == 0.0 and tuple(state.pos.tolist()) == GOAL
    _, state, reward, _, _, _ = env.step(key, state, 2, authors)
    assert float(reward) == -1.0 and tuple(state.pos.tolist()) == (9, 10)
    # The 459th step truncates (reward -1, not terminated); the 458th does not.
    _, state, reward, terminated, truncated, _ = env.step(key, set_state((2, 2), 458), 0, det)
    assert bool(truncated) and not bool(terminated) and float(reward) == -1.0
    assert tuple(state.pos.tolist()) == (0, 0)
    _, state, _, _, truncated, _ = env.step(key, set_state((2, 2), 457), 0, det)
    assert not bool(truncated) and tuple(state.pos.tolist()) == (2, 3) and int(state.time) == 458
    obs, state = env.reset(key)
    assert tuple(state.pos.tolist()) == (0, 0) and int(state.time) == 0


def test_gymnax_make_jit_and_vmap():
    register_four_rooms()
    register_four_rooms()  # idempotent
    env, params = gymnax.make("FourRooms-Grade-v0")
    assert isinstance(env, FourRooms) and env.num_actions == 4 and env.action_space().n == 4
    assert env.observation_space(params).shape == (104,)
    xy_env, _ = gymnax.make("FourRooms-Grade-v0", observation="xy")
    assert xy_env.observation_space(params).shape == (2,)

    keys = jax.random.split(jax.random.key(1), 8)
    obs, state = jax.jit(jax.vmap(xy_env.reset, in_axes=(0, None)))(keys, params)
    assert obs.shape == (8, 2) and state.pos.shape == (8, 2)
    actions = jnp.arange(8) % 4
    step = jax.jit(jax.vmap(xy_env.step, in_axes=(0, 0, 0, None)))
    obs, state, reward, terminated, truncated, info = step(keys, state, actions, params)
    assert obs.shape == (8, 2) and reward.shape == (8,) and reward.dtype == jnp.float32
    assert state.time.tolist() == [1] * 8 and terminated.dtype == jnp.bool_
    # vmapped over params too (the slip probability as an array)
    slips = FourRoomsParams(slip_prob=jnp.array([0.0, 1.0]))
    axes = FourRoomsParams(slip_prob=0, max_steps_in_episode=None, start=None, goal=None,
                           terminate_at_goal=None)
    _, state, *_ = jax.vmap(env.step, in_axes=(None, None, None, axes))(
        jax.random.key(2), set_state((2, 2)), 0, slips)
    assert tuple(state.pos[0].tolist()) == (2, 3) and state.pos[1, 1] == 2


@pytest.mark.parametrize("slip,terminate,horizon", [(0.2, True, 459), (0.2, False, 459),
                                                    (0.4, True, 30)])
def test_exact_values_match_numpy_recursion(slip, terminate, horizon):
    params = FourRoomsParams(slip_prob=slip, terminate_at_goal=terminate,
                             max_steps_in_episode=horizon)
    p, reward, terminal = ref_table(slip, terminate)
    random_policy = np.random.default_rng(0).dirichlet(np.ones(4), size=104)
    greedy = ref_greedy_policy()
    for gamma in (0.9, 0.99):
        want = ref_values(p, reward, terminal, gamma, horizon)
        assert float(optimal_discounted_return(params, gamma)) == pytest.approx(want, rel=1e-4)
        for policy in (random_policy, greedy):
            want = ref_values(p, reward, terminal, gamma, horizon, policy)
            got = policy_discounted_return(params, jnp.asarray(policy, jnp.float32), gamma)
            assert float(got) == pytest.approx(want, rel=1e-4)


def test_exact_values_vmap_over_params_and_gamma():
    gammas = jnp.array([0.9, 0.99])
    params = FourRoomsParams(slip_prob=jnp.array([0.0, 0.2]))
    axes = FourRoomsParams(slip_prob=0, max_steps_in_episode=None, start=None, goal=None,
                           terminate_at_goal=None)
    got = jax.jit(jax.vmap(optimal_discounted_return, in_axes=(axes, 0)))(params, gammas)
    for i, (slip, gamma) in enumerate([(0.0, 0.9), (0.2, 0.99)]):
        want = ref_values(*ref_table(slip), gamma, 459)
        assert float(got[i]) == pytest.approx(want, rel=1e-4)


def test_optimal_return_without_slip_is_the_20_step_shortest_path():
    """BFS distance start -> goal is 20; the return is -(1 + g + ... + g^18)."""
    dist, frontier = {(0, 0): 0}, [(0, 0)]
    while frontier:
        cell = frontier.pop(0)
        for a in range(4):
            nxt = ref_move(cell, a)
            if nxt not in dist:
                dist[nxt] = dist[cell] + 1
                frontier.append(nxt)
    assert dist[GOAL] == 20 and len(dist) == 104  # all free cells reachable
    got = optimal_discounted_return(FourRoomsParams(slip_prob=0.0), 0.99)
    assert float(got) == pytest.approx(-sum(0.99**t for t in range(19)), rel=1e-5)


def test_optimal_return_of_the_paper_setting():
    value = float(optimal_discounted_return(FourRoomsParams(), 0.99))
    print(f"optimal discounted return (gamma 0.99, slip 0.2, 459 steps): {value:.4f}")
    assert value == pytest.approx(ref_values(*ref_table(0.2), 0.99, 459), rel=1e-4)
    uniform = float(policy_discounted_return(FourRoomsParams(), jnp.full((104, 4), 0.25), 0.99))
    assert -100 < uniform < value < -20  # the paper's curves go from about -99 to about -27


def test_monte_carlo_return_of_env_rollouts_matches_exact_value():
    """Mean discounted return of 2000 rollouts of env.step within 4 standard errors."""
    env, params, gamma, n = FourRooms(), FourRoomsParams(), 0.99, 2000
    policy = jnp.asarray(0.7 * ref_greedy_policy() + 0.3 / 4, jnp.float32)

    def episode(key):
        obs, state = env.reset(key, params)

        def one_step(carry, key):
            obs, state, alive, ret, discount = carry
            key_action, key_step = jax.random.split(key)
            action = jax.random.choice(key_action, 4, p=obs @ policy)
            obs, state, reward, terminated, truncated, _ = env.step(key_step, state, action,
                                                                    params)
            ret = ret + alive * discount * reward
            alive = alive * (1.0 - jnp.logical_or(terminated, truncated))
            return (obs, state, alive, ret, discount * gamma), None

        init = (obs, state, 1.0, 0.0, 1.0)
        carry, _ = jax.lax.scan(one_step, init, jax.random.split(key, 460))
        return carry[2], carry[3]

    alive, returns = jax.jit(jax.vmap(episode))(jax.random.split(jax.random.key(3), n))
    assert float(alive.max()) == 0.0  # every episode ended within 459 steps
    exact = float(policy_discounted_return(params, policy, gamma))
    stderr = float(returns.std()) / np.sqrt(n)
    assert abs(float(returns.mean()) - exact) <= 4 * stderr, (float(returns.mean()), exact)


def test_bad_values_raise_value_errors_naming_the_argument():
    with pytest.raises(ValueError, match="observation must be one of"):
        FourRooms("pixels")
    with pytest.raises(ValueError, match=r"slip_prob must be in \[0, 1\]"):
        FourRoomsParams(slip_prob=1.5)
    with pytest.raises(ValueError, match="max_steps_in_episode must be an integer >= 1"):
        FourRoomsParams(max_steps_in_episode=0)
    with pytest.raises(ValueError, match="start must be an integer"):
        FourRoomsParams(start=jnp.array([5, 5]))
    with pytest.raises(ValueError, match="goal must be an integer"):
        FourRoomsParams(goal=jnp.array([11, 0]))
    with pytest.raises(ValueError, match="terminate_at_goal must be a bool"):
        FourRoomsParams(terminate_at_goal=1)
    with pytest.raises(ValueError, match="policy must have shape"):
        policy_discounted_return(FourRoomsParams(), jnp.ones((104, 3)) / 3, 0.99)
    with pytest.raises(ValueError, match=r"gamma must be in \[0, 1\]"):
        optimal_discounted_return(FourRoomsParams(), 1.5)
