"""MuJoCo environments of gymnasium-robotics, two physics paths behind the gymnax API."""
