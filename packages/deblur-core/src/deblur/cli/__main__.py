"""``python -m deblur.cli``: the ``deblur`` command."""

import sys

from deblur.cli import main

sys.exit(main())
