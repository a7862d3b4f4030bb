"""`python -m cuts_ext.cli`: the `cuts` command without its console script."""

import sys

from . import main

sys.exit(main())
