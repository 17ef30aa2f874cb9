"""`python -m bot` is the same CLI as `bot`."""
from bot.cli import main

raise SystemExit(main())
