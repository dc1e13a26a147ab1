"""``python -m utils.teaching``: the authors' and instructors' command line."""

import sys

from utils.teaching.lab_builder import main

sys.exit(main())
