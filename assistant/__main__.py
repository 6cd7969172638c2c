from assistant.app.cli import main

raise SystemExit(main())
