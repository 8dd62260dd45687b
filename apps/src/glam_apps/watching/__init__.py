"""``glam watch``: an agent playing episode by episode, shown step by step and recorded.

:mod:`~glam_apps.watching.decisions` turns any agent into one that also says how
likely each action was and what it expects (value); :mod:`~glam_apps.watching.stepping`
plays episodes and yields one record per step; :mod:`~glam_apps.watching.session`
resolves an agent and a game the way ``glam evaluate`` does;
:mod:`~glam_apps.watching.render` draws a step for the terminal,
:mod:`~glam_apps.watching.frames` as an image, and
:mod:`~glam_apps.watching.recording` writes episodes as JSONL and GIF.
"""
