"""Optax gradient transformations from the papers jaxcurr implements.

* :func:`grokfast_ema`, :func:`grokfast_ma`: Grokfast slow-gradient amplification
  (Lee et al. 2024), chained before an optimizer.
* :func:`grade`, :func:`grade_coefficient`: GrAdE gradient-adaptive entropy coefficient
  (Nilabh & Sinha Choudhury).
* :func:`grad_stats`, :func:`grad_stats_dict`: gradient norms recorded for logging.
* :func:`heavy_ball`, :func:`scale_by_heavy_ball`: momentum with any coefficient in (-1, 1),
  negative included (Polyak or look-ahead form), for the policy-gradient baselines.
* :func:`find_state`, :func:`find_states`: fetch a transform's state from a nested optax state.
"""

from jaxcurr.transforms._common import find_state, find_states
from jaxcurr.transforms.adaptive_entropy import (
    GradeState,
    grade,
    grade_coefficient,
    grade_state,
    gradient_magnitude,
)
from jaxcurr.transforms.gradient_stats import (
    GradStatsState,
    get_grad_stats,
    grad_stats,
    grad_stats_dict,
)
from jaxcurr.transforms.grokfast import (
    GrokfastEmaState,
    GrokfastMaState,
    grokfast_ema,
    grokfast_ma,
)
from jaxcurr.transforms.negative_momentum import HeavyBallState, heavy_ball, scale_by_heavy_ball

__all__ = [
    "GradStatsState",
    "GradeState",
    "GrokfastEmaState",
    "GrokfastMaState",
    "HeavyBallState",
    "find_state",
    "find_states",
    "get_grad_stats",
    "grad_stats",
    "grad_stats_dict",
    "grade",
    "grade_coefficient",
    "grade_state",
    "gradient_magnitude",
    "grokfast_ema",
    "grokfast_ma",
    "heavy_ball",
    "scale_by_heavy_ball",
]
