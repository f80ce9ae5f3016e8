"""Power cuts for the terminal's log and the office's SQLite database.

A SIGKILL leaves the kernel's page cache to finish writing; a power cut does
not.  ``lazyfs`` is a small FUSE filesystem that passes every operation to a
backing folder but keeps what was written since the last ``fsync`` (and,
for names in a folder, since the folder's ``fsync``) apart, and forgets it,
or keeps a random part of it, when the test cuts the power, as LazyFS does
for Jepsen.  ``mount`` drives it from a test; ``terminal_worker`` runs the
real terminal (and the office it syncs with) on it.
"""
