from gamesched.cli import main

raise SystemExit(main())
