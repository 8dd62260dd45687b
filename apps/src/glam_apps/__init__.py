"""glam_apps: the `glam` command line composing glam_env, glam_policy and glam_ppo."""

__version__ = "0.1.0"
