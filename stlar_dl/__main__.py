"""`python -m stlar_dl ...` runs the same CLI as the `stlar-dl` command."""

from stlar_dl.cli import main

if __name__ == "__main__":
    main()
