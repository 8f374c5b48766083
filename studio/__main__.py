from studio.cli import main

if __name__ == "__main__":  # a training process (multiprocessing spawn) imports this module too
    raise SystemExit(main())
