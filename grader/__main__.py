from grader.cli import main

if __name__ == "__main__":  # workers start from a fork server that re-imports __main__
    raise SystemExit(main())
