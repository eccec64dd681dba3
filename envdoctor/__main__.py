"""`python -m envdoctor`: the same entry point as the `envdoctor` script."""

import sys

from envdoctor.cli import main

sys.exit(main())
