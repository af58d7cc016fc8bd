"""Starting and stopping the server processes the tests run: a server prints its port on
its first line; it stops gracefully on SIGTERM, and is killed if it has not exited within
the timeout."""
import re
import signal
import subprocess


def start(argv, pattern):
    """Runs argv and returns (process, port), the port read from its first output line by
    the regular expression pattern (one group)."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    match = re.search(pattern, line)
    if not match:
        proc.kill()
        raise RuntimeError("%s did not start: %s%s" % (argv[0], line, proc.stderr.read()))
    return proc, int(match.group(1))


def stop(proc, timeout=10):
    """Stops proc (if it still runs), waits for it, and closes the pipes the test opened."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for pipe in (proc.stdout, proc.stderr):
        if pipe:
            pipe.close()
