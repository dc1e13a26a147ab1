"""``python -m utils.teaching``: see ``utils.teaching.cli``."""

import sys

from utils.teaching.cli import main

sys.exit(main())
