"""gymnasium-robotics' PointMaze with MuJoCo's ball and wall physics in JAX
(:mod:`~jaxcurr.envs.point_maze.env`)."""
