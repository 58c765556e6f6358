"""``python -m screens``: the same as the ``analytics-wizard`` console script."""

from screens.entry import main

main()
