"""Text games as glam trains them, and interactive play."""
