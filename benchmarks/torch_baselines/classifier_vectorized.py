"""Classifier curriculum in PyTorch with the seed axis vectorized: the strongest torch form.

Every seed's student and teacher are stacked along a leading axis
(``torch.func.stack_module_state``) and applied with ``torch.func.vmap`` of
``functional_call``; gradients come from ``torch.func.grad`` of the sum over seeds of each
seed's loss (seeds are independent, so each seed gets its own gradient), Adam is written
functionally over the stacked tensors with ``torch._foreach_*`` ops, and the signals are the
shared ones of ``common`` (per-sample gradient norms by the one-backward-pass identity, as
jaxcurr computes them, so both sides run the same algorithm; the momentum correlation
as one JVP of all seeds' per-sample losses along the stacked ``u``). Methods run one after
another each step, as in the JAX engine. Random draws (tasks, images, labels) happen outside
the learning update, which ``torch.compile`` compiles (``compile=True``, the default: it was
faster for every method, e.g. 4.5x for gradient_norm, whose eager per-sample gradients are
materialised while the compiled ones are fused into the norm).

    python benchmarks/torch_baselines/classifier_vectorized.py EXPERIMENT_TOML --seeds N
        --steps M

The command's wall time includes compiling (each method twice: for the first step, then for
any step; tens of seconds per method on a busy 2-core CPU); ``time_steps`` excludes it.
"""

from __future__ import annotations

import functools
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch.func import functional_call, grad, grad_and_value, stack_module_state, vmap

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script: repo root

from benchmarks.torch_baselines import common
from jaxcurr.curricula import TaskData
from jaxcurr.curricula.classifier_config import Config


class Adam(NamedTuple):
    """Stacked Adam moments (lists aligned with the parameter list)."""

    m: list[torch.Tensor]
    v: list[torch.Tensor]


def adam_init(params: list[torch.Tensor]) -> Adam:
    return Adam([torch.zeros_like(p) for p in params], [torch.zeros_like(p) for p in params])


def adam_step_(params, grads, state: Adam, step: int, lr: float, b1: float, b2: float,
               eps: float) -> None:
    """In place: ``m = b1 m + (1-b1) g``, ``v = b2 v + (1-b2) g^2``,
    ``p -= lr m_hat / (sqrt(v_hat) + eps)`` (Kingma & Ba 2015; ``step`` counts from 1)."""
    torch._foreach_lerp_(state.m, grads, 1 - b1)
    torch._foreach_mul_(state.v, b2)
    torch._foreach_addcmul_(state.v, grads, grads, value=1 - b2)
    denom = torch._foreach_sqrt(state.v)
    torch._foreach_div_(denom, (1 - b2**step) ** 0.5)
    torch._foreach_add_(denom, eps)
    torch._foreach_addcdiv_(params, state.m, denom, value=-lr / (1 - b1**step))


class MethodState(NamedTuple):
    student: dict[str, torch.Tensor]  # stacked [S, ...]
    student_adam: Adam
    teacher: dict[str, torch.Tensor]
    teacher_adam: Adam
    ema: torch.Tensor  # [S] EMA of mean rewards (baseline = "ema")


class Learner:
    """One method's learning update over all seeds: signal, student step, teacher step."""

    def __init__(self, config: Config, method: str, student_base, teacher_base):
        self.config, self.method = config, method
        self.signal = common.method_signal(method, config)
        self.student_base, self.teacher_base = student_base, teacher_base
        self.losses = vmap(functools.partial(common.per_sample_losses, student_base))

    def teacher_logits(self, teacher: dict) -> torch.Tensor:
        """``[S, K]`` task logits of every seed's teacher."""
        obs = common.TEACHER_OBS.to(next(iter(teacher.values())).device)
        return vmap(lambda p: functional_call(self.teacher_base, p, (obs,)))(teacher)

    def rewards(self, state: MethodState, x, y, losses, moments: Adam, step: int):
        """The method's rewards ``[S, B]`` at ``state.student``, with Adam's ``moments``
        after ``step`` updates."""
        if self.signal == "loss":
            return losses
        if self.signal == "gradient_norm":
            return vmap(functools.partial(common.ghost_gradient_norms, self.student_base))(
                state.student, x, y)
        if self.signal == "momentum_correlation":
            names = list(state.student)
            s = self.config.student
            u = common.momentum_direction(dict(zip(names, moments.m, strict=True)),
                                          dict(zip(names, moments.v, strict=True)), step,
                                          self.config.signal, s.b1, s.b2)
            return common.momentum_correlations(lambda p: self.losses(p, x, y), state.student,
                                                u)
        return torch.zeros(y.shape)

    def update(self, state: MethodState, tasks, x, y, step: int):
        """One step of every seed (``step`` counts from 1); returns rewards [S, B] and the
        mean training losses [S]. Updates ``state``'s tensors in place."""
        s_cfg, t_cfg = self.config.student, self.config.teacher

        def mean_loss(params):
            losses = self.losses(params, x, y)
            return losses.mean(-1).sum(), losses

        grads, (_, losses) = grad_and_value(mean_loss, has_aux=True)(state.student)
        params = list(state.student.values())
        grads = list(grads.values())
        before = self.config.signal.moments == "before"
        if before:
            rewards = self.rewards(state, x, y, losses, state.student_adam, step - 1)
            adam_step_(params, grads, state.student_adam, step, s_cfg.learning_rate,
                       s_cfg.b1, s_cfg.b2, s_cfg.eps)
        else:  # moments after the step, gradients at the parameters before it
            old = MethodState({k: p.clone() for k, p in state.student.items()}, *state[1:])
            adam_step_(params, grads, state.student_adam, step, s_cfg.learning_rate,
                       s_cfg.b1, s_cfg.b2, s_cfg.eps)
            rewards = self.rewards(old, x, y, losses, state.student_adam, step)
        if self.method != "uniform":
            reference, ema = common.baseline_reference(rewards, state.ema, t_cfg)
            state.ema.copy_(ema)

            def teacher_loss(teacher):
                logits = self.teacher_logits(teacher)
                return common.reinforce_loss(logits, tasks, rewards, reference, t_cfg)[0]

            t_grads = grad(teacher_loss)(state.teacher)
            adam_step_(list(state.teacher.values()), list(t_grads.values()),
                       state.teacher_adam, step, t_cfg.learning_rate, 0.9, 0.999,
                       1e-8)  # optax.adam's defaults, as the JAX teacher uses
        return rewards, losses.mean(-1)


def init_states(config: Config, data: common.TorchData, seeds: int, device: str = "cpu"):
    """Stacked networks (each seed initialised as in the paper-style baseline, from the same
    generator) and each seed's training labels ``[S, N]``."""
    students, teachers, labels = [], [], []
    for seed in range(seeds):
        init = common.seed_generator(config, seed, device=device)
        students.append(common.student_mlp(config, data.x_train.shape[1], init))
        teachers.append(common.teacher_mlp(config, init))
        labels.append(common.initial_labels(data, config.data.label_mode, init))
    student, _ = stack_module_state(students)
    teacher, _ = stack_module_state(teachers)
    student_base, teacher_base = students[0], teachers[0]  # modules for functional_call
    states = {}
    for method in config.run.methods:
        s = {k: v.detach().clone() for k, v in student.items()}
        t = {k: v.detach().clone() for k, v in teacher.items()}
        states[method] = MethodState(s, adam_init(list(s.values())), t,
                                     adam_init(list(t.values())), torch.zeros(seeds))
    return states, torch.stack(labels), student_base, teacher_base


def run(config: Config, data: TaskData | common.TorchData, seeds: int,
        steps: int | None = None, compile: bool = True, device: str = "cpu"
        ) -> dict[str, np.ndarray]:
    """All seeds at once; metrics ``{"method/metric": [seeds, windows, ...]}`` as
    ``jaxcurr.run.runner.run`` returns them. ``compile`` (the default: faster for every method)
    wraps each method's update in ``torch.compile``; each method, seed count and the first
    step are compiled separately, so dynamo's recompile limit is raised to allow them.
    ``device``: where every tensor lives (``"cuda"`` for the GPU rows of
    ``benchmarks/gpu_measurements.sh``; its random draws differ from the CPU's)."""
    with torch.device(device):
        return _run(config, data, seeds, common.check_steps(config, steps), compile, device)


def _run(config, data, seeds, steps, compile, device):
    if compile:
        dynamo = torch._dynamo.config
        dynamo.recompile_limit = max(dynamo.recompile_limit, 64)
        dynamo.accumulated_recompile_limit = max(dynamo.accumulated_recompile_limit, 1024)
    data = common.to_torch(data, device)
    run_cfg, mode = config.run, config.data.label_mode
    states, labels, student_base, teacher_base = init_states(config, data, seeds, device)
    learners = {m: Learner(config, m, student_base, teacher_base) for m in run_cfg.methods}
    updates = {m: (torch.compile(learner.update) if compile else learner.update)
               for m, learner in learners.items()}
    generators = {m: common.seed_generator(config, 0, 1 + i, device)  # the paper's seed 0
                  for i, m in enumerate(run_cfg.methods)}
    eval_x, eval_labels = data.x_train[data.eval_index], labels[:, data.eval_index]
    logs = {m: [] for m in run_cfg.methods}
    step = 0
    for _ in range(steps // run_cfg.log_every):
        windows = {m: common.Window(data.num_groups, (seeds,)) for m in run_cfg.methods}
        for _ in range(run_cfg.log_every):
            step += 1
            for method, learner in learners.items():
                state, generator = states[method], generators[method]
                logits = learner.teacher_logits(state.teacher) if method != "uniform" else None
                tasks = common.sample_tasks(logits, config.num_tasks, run_cfg.batch_size,
                                            generator, (seeds,))
                x, y = common.draw_batch(tasks, labels, data, mode, generator)
                rewards, loss = updates[method](state, tasks, x, y, step)
                windows[method].add(tasks, rewards, loss, data)
        with torch.no_grad():
            for method, learner in learners.items():
                state = states[method]
                apply = vmap(functools.partial(functional_call, student_base),
                             in_dims=(0, None))
                probs = (torch.softmax(learner.teacher_logits(state.teacher), -1)
                         if method != "uniform"
                         else common.uniform_probs(config.num_tasks, (seeds,)))
                logs[method].append(common.window_metrics(
                    apply(state.student, (eval_x,)), apply(state.student, (data.x_test,)),
                    eval_labels, probs, windows[method], data, mode))
    return {f"{m}/{k}": torch.stack([log[k] for log in logs[m]], 1).cpu().numpy()
            for m in run_cfg.methods for k in logs[m][0]}


def time_steps(config: Config, data: TaskData | common.TorchData, seeds: int, steps: int,
               compile: bool = True, device: str = "cpu") -> float:
    """Wall seconds of ``steps`` steps of every method for ``seeds`` seeds on ``device``
    (after a one-window warm-up run, which also compiles; the run ends by copying its metrics
    to the host, so the device's queue is done when the clock stops)."""
    data = common.to_torch(data, device)
    run(config, data, seeds, config.run.log_every, compile, device)
    started = time.perf_counter()
    run(config, data, seeds, steps, compile, device)
    return time.perf_counter() - started


if __name__ == "__main__":
    common.main(run, __doc__.splitlines()[0])
