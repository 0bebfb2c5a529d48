import sys

try:
    from experiments.cli import main
except KeyboardInterrupt:                  # Ctrl-C while the command line was still loading
    print("interrupted: nothing was run", file=sys.stderr)
    sys.exit(130)
except ModuleNotFoundError as error:       # NumPy missing: the system Python, not the project's
    print(f"error: the experiments need {error.name}, which {sys.executable} does not have: "
          "use the project's environment (`. .venv/bin/activate`, or `.venv/bin/python -m "
          "experiments ...`); `make report` creates .venv with everything in it",
          file=sys.stderr)
    sys.exit(2)

sys.exit(main())
