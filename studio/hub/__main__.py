import sys

from studio.cli import main

raise SystemExit(main(["weights", *sys.argv[1:]]))
