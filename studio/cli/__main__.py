"""``python -m studio.cli``: the same as the ``studio`` command (as it was when cli was one module)."""

import sys

from studio.cli import main

sys.exit(main())
