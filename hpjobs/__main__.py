"""``python -m hpjobs`` is the ``hpjobs`` command."""

from hpjobs.cli import main

main()
