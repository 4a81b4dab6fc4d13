"""AdroitHandRelocate-v1 (jaxcurr.envs.mujoco) against gymnasium-robotics + MuJoCo.

tests/fixtures/adroit_relocate.npz holds three 200-step episodes of the real environment
(mujoco 4.0.0, gymnasium-robotics 1.4.2; recorded by tests/fixtures/record_adroit_relocate.py)
and 2000 of its default resets. The host path runs the same C engine, so its states must match
bit for bit. MJX is a different implementation (float32, no noslip iterations, its own contact
distance): measured on this fixture, it follows the C engine to ~1e-4 rad on the hand and
~7e-4 on the ball's joints (the ball rests on the table about 0.7 mm differently from the first
step on) until the fingers first touch something, after which the contact-rich random
flailing makes the trajectories part (errors of 0.01-1 rad within 10-50 steps). The MJX test
asserts the first regime with margins above those measurements, and that the two paths give
the same observations and rewards up to those errors.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

pytest.importorskip("mujoco")
pytest.importorskip("gymnasium_robotics")

from jaxcurr.envs.mujoco import relocate  # noqa: E402
from jaxcurr.envs.mujoco.relocate import AdroitRelocate  # noqa: E402

FIXTURE = np.load("tests/fixtures/adroit_relocate.npz")


def _episodes(env: AdroitRelocate, steps: int, vmapped: bool = True):
    """The fixture's three episodes, ``steps`` long: vmapped (one callback steps all three) or
    one after the other with one compiled episode (MJX: a vmapped program compiles ~3x longer)."""
    params = env.default_params

    def run(object_xy, target_xyz, hand_dq, hand_qvel, actions):
        obs0, state = env.reset_to(jax.random.key(0), params, object_xy, target_xyz, hand_dq,
                                   hand_qvel)

        def body(state, action):
            obs, state, reward, _, info = env.step_env(jax.random.key(0), state, action, params)
            return state, (obs, reward, info["success"], state.physics)

        return obs0, jax.lax.scan(body, state, actions)[1]

    f = FIXTURE
    inputs = (f["object_xy"], f["target_xyz"], f["hand_dq"], f["hand_qvel"],
              f["actions"][:, :steps])
    if vmapped:
        return jax.jit(jax.vmap(run))(*inputs)
    episode = jax.jit(run)
    outputs = [episode(*(x[i] for x in inputs)) for i in range(len(f["actions"]))]
    return jax.tree.map(lambda *x: np.stack(x), *outputs)


def test_host_physics_matches_mujoco_bit_for_bit():
    env = AdroitRelocate("host")
    obs0, (obs, reward, success, physics) = _episodes(env, 200)
    qpos, qvel = env.physics.qpos_qvel(physics)
    np.testing.assert_array_equal(qpos, FIXTURE["qpos"])
    np.testing.assert_array_equal(qvel, FIXTURE["qvel"])
    # observations and rewards are computed in float32 from the exact state
    np.testing.assert_allclose(obs0, FIXTURE["obs0"], atol=1e-6)
    np.testing.assert_allclose(obs, FIXTURE["obs"], atol=1e-6)
    np.testing.assert_allclose(reward, FIXTURE["reward"], atol=1e-6)
    np.testing.assert_array_equal(success, FIXTURE["success"])


def test_mjx_physics_follows_mujoco_until_the_first_contacts():
    env = AdroitRelocate("mjx")
    steps = 5
    obs0, (obs, reward, _, physics) = _episodes(env, steps, vmapped=False)
    np.testing.assert_allclose(obs0, FIXTURE["obs0"], atol=1e-6)
    error = np.abs(np.asarray(physics["qpos"]) - FIXTURE["qpos"][:, :steps])
    assert error[..., :relocate.HAND_DOF].max() < 3e-4  # measured 6.6e-5
    assert error[..., relocate.HAND_DOF:].max() < 2e-3  # the ball's resting offset, 6.6e-4
    np.testing.assert_allclose(obs, FIXTURE["obs"][:, :steps], atol=2e-3)
    np.testing.assert_allclose(reward, FIXTURE["reward"][:, :steps], atol=1e-3)


def test_default_resets_match_gymnasium_robotics_distribution():
    env = AdroitRelocate("host")
    keys = jax.random.split(jax.random.key(3), len(FIXTURE["resets"]))
    _, states = jax.jit(jax.vmap(env.reset_env, in_axes=(0, None)))(keys, env.default_params)
    ours = np.concatenate([states.object_pos, states.target_pos], axis=-1)
    low = np.array(relocate.OBJECT_LOW + relocate.TARGET_LOW)
    high = np.array(relocate.OBJECT_HIGH + relocate.TARGET_HIGH)
    assert np.all((ours >= low) & (ours <= high))
    for k in range(5):
        assert stats.ks_2samp(ours[:, k], FIXTURE["resets"][:, k]).pvalue > 1e-3
    # the readings after the reset are the model's: the target site sits where it was put
    np.testing.assert_allclose(states.target, states.target_pos, atol=1e-6)


def _reward_numpy(palm, obj, target, reward_type):
    """gymnasium-robotics 1.4.2 ``AdroitHandRelocateEnv.step``'s reward, transcribed."""
    goal_distance = np.linalg.norm(obj - target)
    if reward_type == "sparse":
        return 10.0 if goal_distance < 0.1 else -0.1
    reward = 0.1 * np.linalg.norm(palm - obj)
    if obj[2] > 0.04:
        reward += 1.0 - 0.5 * np.linalg.norm(palm - target) - 0.5 * np.linalg.norm(obj - target)
    if goal_distance < 0.1:
        reward += 10.0
    if goal_distance < 0.05:
        reward += 20.0
    return reward


@pytest.mark.parametrize("reward_type", ["dense", "sparse"])
def test_reward_terms_match_the_numpy_transcription(reward_type):
    rng = np.random.default_rng(0)
    target = rng.uniform([-0.2, -0.2, 0.15], [0.2, 0.2, 0.35], (400, 3)).astype(np.float32)
    # objects near the target (both bonuses), lifted or on the table, and far away
    scale = rng.choice([0.02, 0.07, 0.3], (400, 1))
    obj = (target + rng.normal(0, 1, (400, 3)) * scale / np.sqrt(3)).astype(np.float32)
    obj[::3, 2] = 0.035
    palm = (obj + rng.normal(0, 0.1, (400, 3))).astype(np.float32)

    def one(palm, obj, target):
        state = relocate.EnvState(time=0, physics=None, object_pos=None, target_pos=None,
                                  qpos=None, obj=obj, palm=palm, target=target, warnings=None)
        return relocate.reward_and_success(state, reward_type)

    reward, success = jax.vmap(one)(palm, obj, target)
    expected = [_reward_numpy(*map(np.float64, x), reward_type)
                for x in zip(palm, obj, target, strict=True)]
    np.testing.assert_allclose(reward, expected, atol=1e-5)
    np.testing.assert_array_equal(success, np.linalg.norm(obj - target, axis=1) < 0.1)
    assert 0 < np.mean(success) < 1 and 0 < np.mean(obj[:, 2] > 0.04) < 1


def test_bad_starts_and_physics_are_one_line_errors():
    env = AdroitRelocate("host")
    key, params = jax.random.key(0), env.default_params
    with pytest.raises(ValueError, match=r"object_xy must be 2 numbers within"):
        env.reset_to(key, params, jnp.array([0.5, 0.0]), jnp.array([0.0, 0.0, 0.2]))
    with pytest.raises(ValueError, match=r"target_xyz must be 3 numbers within"):
        env.reset_to(key, params, jnp.array([0.0, 0.0]), jnp.array([0.0, 0.0, 0.5]))
    with pytest.raises(ValueError, match=r"env.physics must be one of \('host', 'mjx'\)"):
        AdroitRelocate("bullet")
    with pytest.raises(ValueError, match=r"reward_type must be one of"):
        relocate.EnvParams(reward_type="shaped")


def test_mujoco_warnings_are_counted_not_swallowed(caplog, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MuJoCo's default handler would write MUJOCO_LOG.TXT here
    env = AdroitRelocate("host")
    params = env.default_params
    # a hand thrown at 1e9 rad/s makes MuJoCo's accelerations non-finite: mjWARN_BADQACC
    _, state = env.reset_to(jax.random.key(0), params, jnp.zeros(2),
                            jnp.array([0.0, 0.0, 0.2]), hand_qvel=jnp.full(30, 1e9))
    _, state, _, _, info = env.step_env(jax.random.key(0), state, jnp.zeros(30), params)
    assert int(info["warnings"]) >= 1 and int(state.warnings) == int(info["warnings"])
    assert "MuJoCo: Nan, Inf or huge value in QACC" in caplog.text
    assert not list(tmp_path.iterdir())
    _, calm = env.reset_to(jax.random.key(0), params, jnp.zeros(2), jnp.array([0.0, 0.0, 0.2]))
    _, calm, _, _, info = env.step_env(jax.random.key(0), calm, jnp.zeros(30), params)
    assert int(info["warnings"]) == 0


def test_missing_mujoco_and_bad_env_settings_are_one_line_and_write_nothing(
        tmp_path, monkeypatch, capsys):
    import sys

    import tomli_w

    from jaxcurr import cli

    values = {"name": "relocate", "kind": "initial_state_curriculum",
              "env": {"name": "adroit_relocate", "physics": "host"},
              "run": {"seeds": 1, "total_steps": 400, "eval_every": 200}}

    def run(values, out):
        path = tmp_path / f"{out}.toml"
        path.write_bytes(tomli_w.dumps(values).encode())
        code = cli.main(["run", str(path), "--out", str(tmp_path / out), "--no-progress"])
        return code, capsys.readouterr().err.strip().splitlines()

    for field, value in (("physics", "bullet"), ("name", "hopper"), ("start_bins", 0)):
        code, err = run({**values, "env": {**values["env"], field: value}}, field)
        assert code != 0 and len(err) == 1 and f"env.{field}" in err[0], err
        assert not (tmp_path / field).exists()
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "mujoco", None)  # as on a machine without MuJoCo
        for cached in (relocate.load_model, relocate._ids, relocate.make_relocate_physics):
            cached.cache_clear()
        code, err = run(values, "no_mujoco")
    assert code != 0 and len(err) == 1 and "needs MuJoCo" in err[0], err
    assert "pip install 'jaxcurr[mujoco]'" in err[0]
    assert not (tmp_path / "no_mujoco").exists()
