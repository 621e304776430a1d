import sys

from redun_fast.cli import main

sys.exit(main())
