import gc
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

status = main()
# Python's last garbage collections at exit walk every object PyTorch, scikit-learn and
# matplotlib made (about a second here, after the work is done and written): the command's
# objects are frozen out of them. Exit handlers, flushes and refcount finalizers still run.
gc.freeze()
sys.exit(status)
