"""``python -m glam_apps.cli`` is the ``glam`` command."""

from glam_apps.cli import main

main()
