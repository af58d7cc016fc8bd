"""Stopping a server process the tests started: the way every coronet server stops
gracefully (SIGTERM), then a kill if it has not exited within the timeout."""
import signal
import subprocess


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
