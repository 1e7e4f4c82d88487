"""``python -m gradwatch`` runs the command line (see ``gradwatch.cli``)."""

import sys

from .cli import main

sys.exit(main())
