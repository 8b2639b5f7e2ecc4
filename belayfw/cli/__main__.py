"""``python -m belayfw.cli``: the same as the ``belayfw`` command."""

from belayfw.cli import main

raise SystemExit(main())
