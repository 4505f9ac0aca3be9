import logging
import os
import sys

from grader.cli import main

if __name__ == "__main__":  # workers start from a fork server that re-imports __main__
    code = main()  # argparse's errors and --help raise SystemExit, which ends the usual way
    # Everything is written and closed by now: end without the interpreter's teardown of nbgrader,
    # SQLAlchemy and the rest (0.3 s at the end of every run of a PyTorch assignment).
    # Under a profiler or a coverage tracer, the usual way: they write their data at exit.
    if sys.getprofile() is None and sys.gettrace() is None:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    raise SystemExit(code)
