import sys

from lightning_gans.cli import main

sys.exit(main())
