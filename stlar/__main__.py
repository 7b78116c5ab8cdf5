"""`python -m stlar ...` runs the same CLI as the `stlar` command."""

from stlar.cli import main

if __name__ == "__main__":
    main()
