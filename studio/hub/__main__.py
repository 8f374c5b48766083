from studio.hub.cli import run

raise SystemExit(run())
