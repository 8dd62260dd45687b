"""``python -m glam_apps`` is the ``glam`` command (also ``torchrun ... -m glam_apps train``)."""

from glam_apps.cli import main

if __name__ == "__main__":
    main()
