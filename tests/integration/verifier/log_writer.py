"""A terminal log writer to be killed: the crash test's subprocess.

Run as ``python -m tests.integration.verifier.log_writer``.  It imports
everything once, then for each line ``PATH MODE`` on stdin forks a child
that opens the log at PATH and appends decisions until it is killed,
printing ``SEQ HASH`` after each append has returned (the decision was
"answered").  When the child is gone it prints ``exit STATUS``.  Forking
keeps the ~60 rounds of the test fast; each child is a real process with
its own SQLite connection, killed with SIGKILL by the test.

MODE ``plain`` only appends; ``prune`` also acknowledges and prunes every
20 records, with an hour between records so that pruning deletes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests.factories import NOW
from tests.integration.verifier.records import ACCEPTED, REJECTED, open_log
from verifier.log import MIN_RETENTION_SECONDS

HOUR = 3600


def append_forever(path: Path, mode: str) -> None:
    log = open_log(path)
    index = 0
    while True:
        seq, _ = log.head()
        at = NOW + (seq + 1) * HOUR
        record = log.append(ACCEPTED if index % 3 else REJECTED, at)
        os.write(1, f"{record.seq} {log.hash_at(record.seq).hex()}\n".encode())
        if mode == "prune" and record.seq % 20 == 0:
            log.acknowledge(record.seq - 5)
            log.prune(at, MIN_RETENTION_SECONDS)
        index += 1


def main() -> None:
    for line in sys.stdin:
        path, mode = line.split()
        pid = os.fork()
        if pid == 0:
            try:
                append_forever(Path(path), mode)
            finally:
                os._exit(1)
        os.write(1, f"pid {pid}\n".encode())
        _, status = os.waitpid(pid, 0)
        os.write(1, f"exit {status}\n".encode())


if __name__ == "__main__":
    main()
