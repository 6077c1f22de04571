from desktop_app.cli import main

if __name__ == "__main__":  # not when a spawned child process (the projector) imports the main module
    raise SystemExit(main())
