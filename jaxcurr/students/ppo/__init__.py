"""PPO students: standard PPO-Clip (Schulman et al. 2017) and the episodic PPO of the GrAdE
paper."""
