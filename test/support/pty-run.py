# Runs one command on a pseudo-terminal (python3's pty module: no native Node dependency) and
# answers it like a person at a keyboard. Reads a JSON spec on stdin:
#   {"cmd": path, "args": [...], "env": {...}, "cols": 120, "rows": 40, "timeout": 30,
#    "stdoutFile": optional path (stdout goes there instead of the terminal),
#    "steps": [{"waitFor": regex, "send": text}, ...]}   (text "\u0003" is Ctrl-C)
# Each step waits until its regex matches the output after the previous step's match, then types
# its text into the terminal. Prints {"output": base64, "code", "signal", "sent": [offsets]}.
import base64, fcntl, json, os, pty, re, select, signal, struct, sys, termios, time

spec = json.loads(sys.stdin.read())
pid, fd = pty.fork()
if pid == 0:
    if spec.get("stdoutFile"):
        out_fd = os.open(spec["stdoutFile"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(out_fd, 1)
        os.close(out_fd)
    try:
        os.execve(spec["cmd"], [spec["cmd"]] + spec["args"], spec["env"])
    finally:
        os._exit(127)

fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", spec.get("rows", 40), spec.get("cols", 120), 0, 0))
out = b""
steps = spec.get("steps", [])
step = 0
pos = 0
sent = []
deadline = time.time() + spec.get("timeout", 30)
timed_out = False
while True:
    while step < len(steps):
        m = re.compile(steps[step]["waitFor"].encode()).search(out, pos)
        if not m:
            break
        os.write(fd, steps[step]["send"].encode())
        pos = m.end()
        sent.append(len(out))
        step += 1
    if time.time() > deadline:
        timed_out = True
        os.kill(pid, signal.SIGKILL)
        break
    r, _, _ = select.select([fd], [], [], 0.02)
    if r:
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b""
        if not data:
            break
        out += data
_, status = os.waitpid(pid, 0)
print(json.dumps({
    "output": base64.b64encode(out).decode(),
    "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
    "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
    "sent": sent,
    "timedOut": timed_out,
}))
