"""`python -m desktop_app.broker`: fetch the embedded broker's jars now, if they are not cached (the Makefile's step)."""

from desktop_app.broker.jars import main

raise SystemExit(main())
