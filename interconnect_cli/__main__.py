"""`python -m interconnect_cli` and the `interconnect` console script."""

from __future__ import annotations

from interconnect_cli.commands import main

if __name__ == "__main__":
    main()
