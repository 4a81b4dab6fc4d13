"""Classifier curriculum in plain PyTorch, as a paper's authors would write it.

One seed after another, one method after another: ``nn.Module`` student and teacher,
``torch.optim.Adam`` for both, a Python loop over steps. Same config, data, networks, signals
and metrics as the JAX engine (see ``common``). The momentum-correlation signal reads Adam's
moments from ``torch.optim.Adam``'s state (``exp_avg``, ``exp_avg_sq``, ``step``) and takes one
``torch.func.jvp`` of the per-sample loss vector; the gradient-norm signal uses
``torch.func.vmap(grad)`` per-sample gradients.

Profiled with cProfile (digits config, 64-128-128-10 student, all four methods, one thread):
about half of the time is in torch's kernels for the backward passes, the forward passes and
the per-sample gradients of ``gradient_norm`` (their squared-then-summed norm was then replaced
by ``torch.linalg.vector_norm``, which does not materialise the squares), about 10% in
``torch.optim.Adam``'s steps; batch drawing, the REINFORCE loss and the window accumulators
are a few percent each. Metrics stay tensors until the end of a window (no per-step
conversion to Python numbers).

    python benchmarks/torch_baselines/classifier_paper.py EXPERIMENT_TOML --seeds N --steps M
"""

from __future__ import annotations

import copy
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script: repo root

from benchmarks.torch_baselines import common
from jaxcurr.curricula import TaskData
from jaxcurr.curricula.classifier_config import Config


def adam_moments(optimizer: torch.optim.Adam, student: torch.nn.Module):
    """Adam's ``(m, v, step)`` for the student's parameters, by name (zeros before step 1)."""
    m, v, step = {}, {}, 0.0
    for name, p in student.named_parameters():
        state = optimizer.state.get(p, {})
        m[name] = state.get("exp_avg", torch.zeros_like(p))
        v[name] = state.get("exp_avg_sq", torch.zeros_like(p))
        step = float(state.get("step", 0.0))
    return m, v, step


def rewards_for(method: str, config: Config, student, optimizer, params, x, y, losses):
    """The method's per-sample rewards at ``params`` (the student before its step)."""
    signal = common.method_signal(method, config)
    if signal == "loss":
        return losses.detach()
    if signal == "gradient_norm":
        return common.gradient_norms(student, params, x, y)
    if signal == "momentum_correlation":
        m, v, step = adam_moments(optimizer, student)
        u = common.momentum_direction(m, v, step, config.signal, config.student.b1,
                                      config.student.b2)
        return common.momentum_correlations(
            lambda p: common.per_sample_losses(student, p, x, y), params, u)
    return torch.zeros(len(y))


def run_method(config: Config, data: common.TorchData, method: str, student, teacher,
               labels: torch.Tensor, generator: torch.Generator, steps: int):
    """One method's run for one seed; returns ``{metric: array [windows, ...]}``."""
    s_cfg, t_cfg, run_cfg = config.student, config.teacher, config.run
    learned = method != "uniform"
    optimizer = torch.optim.Adam(student.parameters(), lr=s_cfg.learning_rate,
                                 betas=(s_cfg.b1, s_cfg.b2), eps=s_cfg.eps)
    teacher_opt = torch.optim.Adam(teacher.parameters(), lr=t_cfg.learning_rate)
    ema = torch.zeros(())
    after = config.signal.moments == "after" and method == "momentum_correlation"
    logs = []
    for _ in range(steps // run_cfg.log_every):
        window = common.Window(data.num_groups)
        for _ in range(run_cfg.log_every):
            logits = teacher(common.TEACHER_OBS) if learned else None
            tasks = common.sample_tasks(logits, config.num_tasks, run_cfg.batch_size, generator)
            x, y = common.draw_batch(tasks, labels, data, config.data.label_mode, generator)

            losses = torch.nn.functional.cross_entropy(student(x), y, reduction="none")
            loss = losses.mean()
            optimizer.zero_grad()
            loss.backward()
            params = {n: p.detach() for n, p in student.named_parameters()}
            if after:  # moments after the step, gradients at the parameters before it
                params = {n: p.clone() for n, p in params.items()}
                optimizer.step()
            rewards = rewards_for(method, config, student, optimizer, params, x, y, losses)
            if not after:
                optimizer.step()

            if learned:
                reference, ema = common.baseline_reference(rewards, ema, t_cfg)
                teacher_loss, _ = common.reinforce_loss(logits, tasks, rewards, reference, t_cfg)
                teacher_opt.zero_grad()
                teacher_loss.backward()
                teacher_opt.step()
            window.add(tasks, rewards, loss.detach(), data)

        with torch.no_grad():
            probs = (torch.softmax(teacher(common.TEACHER_OBS), -1) if learned
                     else common.uniform_probs(config.num_tasks))
            logs.append(common.window_metrics(
                student(data.x_train[data.eval_index]), student(data.x_test),
                labels[data.eval_index], probs, window, data, config.data.label_mode))
    return {k: torch.stack([log[k] for log in logs]).numpy() for k in logs[0]}


def run_seed(config: Config, data: common.TorchData, seed: int, steps: int):
    """All methods for one seed; they share the initial networks and the curriculum relabel,
    as in the JAX engine."""
    init = common.seed_generator(config, seed)
    student = common.student_mlp(config, data.x_train.shape[1], init)
    teacher = common.teacher_mlp(config, init)
    labels = common.initial_labels(data, config.data.label_mode, init)
    return {method: run_method(config, data, method, copy.deepcopy(student),
                               copy.deepcopy(teacher), labels,
                               common.seed_generator(config, seed, 1 + i), steps)
            for i, method in enumerate(config.run.methods)}


def run(config: Config, data: TaskData | common.TorchData, seeds: int,
        steps: int | None = None) -> dict[str, np.ndarray]:
    """Run ``seeds`` seeds one after another; metrics ``{"method/metric": [seeds, windows,
    ...]}`` as ``jaxcurr.run.runner.run`` returns them."""
    steps = common.check_steps(config, steps)
    data = common.to_torch(data)
    per_seed = [run_seed(config, data, seed, steps) for seed in range(seeds)]
    return {f"{method}/{name}": np.stack([s[method][name] for s in per_seed])
            for method in config.run.methods for name in per_seed[0][method]}


def time_steps(config: Config, data: TaskData | common.TorchData, seeds: int,
               steps: int) -> float:
    """Wall seconds of ``steps`` steps of every method for ``seeds`` seeds (after a one-window
    warm-up run)."""
    data = common.to_torch(data)
    run(config, data, 1, config.run.log_every)
    started = time.perf_counter()
    run(config, data, seeds, steps)
    return time.perf_counter() - started


if __name__ == "__main__":
    common.main(run, __doc__.splitlines()[0])
