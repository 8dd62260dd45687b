"""``python -m glam_apps.study STUDY_DIR CELL``: one cell of a study (see worker.py)."""

import sys

from glam_apps.study.worker import main

if __name__ == "__main__":
    sys.exit(main())
