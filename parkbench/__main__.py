from parkbench.cli import main

raise SystemExit(main())
