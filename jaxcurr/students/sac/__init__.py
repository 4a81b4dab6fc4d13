"""Soft Actor-Critic students: discrete (Christodoulou 2019) and continuous (Haarnoja et al.
2018)."""
