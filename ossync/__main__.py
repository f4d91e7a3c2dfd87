from ossync.cli import main

raise SystemExit(main())
