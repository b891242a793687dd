"""The ``chatql`` console command: the command line, compiled into the extension module."""

import sys

from chatql import _chatql


def main() -> None:
    sys.exit(_chatql.main(sys.argv))


if __name__ == "__main__":
    main()
