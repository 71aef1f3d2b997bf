"""Cella's template protocol for the Python runtime (docs/runtime-snapshots.md).

Imported only when the agent started this process as a template (CELLA_TEMPLATE_FD is set), so a
plain instance pays nothing for it. After the function's init, the runtime parks here instead of
asking for its first event: it POSTs /runtime/cella/template/park, then forks a clone of itself
for every request the agent writes on the control socket.

A clone is made with one raw clone(2) into new user, mount, pid, network, IPC and UTS namespaces
(os.fork cannot ask for namespaces, and a second fork would be needed for the pid namespace).
The child then, before any user code runs again:
  1. says "R" on its new Runtime API socket (the kernel attaches its pid and a pidfd); the agent
     moves it into its own cgroup, and later sends its go line, which the child waits for in step 4;
  2. maps its ids (inside uid/gid 1000 -> the template's), mounts its own /tmp and /dev/shm,
     brings up loopback, takes its own stdout/stderr;
  3. drops every capability it holds in its namespace, and installs the agent's seccomp program
     on top of the template's filter (seccomp filters stack; the stricter answer wins);
  4. waits for "go {json}\n" (it is in its own cgroup by then; the agent may send it much later,
     for a clone made ahead of need), reseeds random, takes its identity from it
     (AWS_LAMBDA_INITIALIZATION_TYPE=snap-start, its log stream), runs the function's
     after-clone hooks, and serves. A clone whose function registered no after-clone hook asks
     for its first event before it waits: the agent answers that /next right behind the go line,
     which saves the clone a round trip to the agent after it is let go.
"""

import _signal
import _socket
import ctypes
import os
import sys

import cella_runtime

# <linux/sched.h>: NEWNS | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET, and SIGCHLD as exit signal.
CLONE_FLAGS = 0x00020000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 17
_SYS_CLONE = {"x86_64": 56, "aarch64": 220}
MS_NOSUID, MS_NODEV = 2, 4
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_SECCOMP, PR_CAP_AMBIENT = 1, 4, 24, 22, 47
SECCOMP_MODE_FILTER = 2
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1

class _Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _fds(ancillary):
    fds = []
    for level, kind, payload in ancillary:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            usable = len(payload) - len(payload) % 4
            fds += [int.from_bytes(payload[i:i + 4], sys.byteorder) for i in range(0, usable, 4)]
    return fds


class _Template:
    def __init__(self, api, handler, control_fd, program):
        self.api = api
        self.handler = handler
        self.control = _socket.socket(fileno=control_fd)
        self.program = ctypes.create_string_buffer(program, len(program))
        self.fprog = _Fprog(len(program) // 8, ctypes.cast(self.program, ctypes.c_void_p))
        self.libc = ctypes.CDLL(None, use_errno=True)
        # PyDLL keeps the GIL across the call: clone must not run while another thread could
        # hold it (the child would inherit a GIL whose owner does not exist there).
        self.raw = ctypes.PyDLL(None, use_errno=True)
        self.raw.syscall.restype = ctypes.c_long
        self.sys_clone = _SYS_CLONE.get(os.uname().machine)
        self.uid, self.gid = os.getuid(), os.getgid()
        # Imported here, once: an import in each clone would cost it a dlopen.
        import fcntl
        import select
        self.fcntl = fcntl
        self.select = select
        self.spare = None  # (pid, socket): a clone forked and set up ahead of the next request
        self.sizes = None  # (tmpMiB, shmMiB) of the last request, which a spare is made for
        self.last_request = None  # its bytes: the same request again needs no parsing
        self.ahead = False  # whether it asked for a clone made ahead of need
        with open("/proc/sys/kernel/cap_last_cap") as f:
            self.last_cap = int(f.read())

    def _check(self, result, what):
        if result < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"{what}: {os.strerror(err)}")
        return result

    def loop(self):
        """Serves clone requests until the agent closes the control socket. Between requests it
        keeps one clone forked and set up ahead of need (the spare), so that a request only has
        to hand it its sockets."""
        space = _socket.CMSG_SPACE(4 * 4)
        while True:
            if self.spare is None and self.sizes is not None:
                # Only when no request is waiting: the fork must not delay one.
                ready, _, _ = self.select.select([self.control], [], [], 0.01)
                if not ready:
                    self._make_spare()
                    continue
            try:
                data, ancillary, _, _ = self.control.recvmsg(65536, space)
            except InterruptedError:
                continue
            fds = _fds(ancillary)
            if not data:
                os._exit(0)
            try:
                if not data.startswith(b"clone ") or len(fds) != 2:
                    raise ValueError(f"unknown request {data[:40]!r} with {len(fds)} fds")
                if data != self.last_request:
                    request = cella_runtime._loads(data[6:].strip())
                    sizes = (int(request.get("tmpMiB", 64)), int(request.get("shmMiB", 16)))
                    if sizes != self.sizes:
                        self._drop_spare()
                        self.sizes = sizes
                    self.ahead = bool(request.get("ahead", False))
                    self.last_request = data
                pid = self._hand_to_spare(fds, self.ahead)
                if pid is None:
                    pid = self._clone()
                    if pid == 0:
                        self._become_clone(None, fds, self.ahead)  # never returns
                reply = b"ok %d\n" % pid
            except Exception as exc:  # the agent falls back to a cold start
                reply = b"error " + repr(exc).encode("ascii", "replace").replace(b"\n", b" ") + b"\n"
            for fd in fds:
                os.close(fd)
            self.control.sendall(reply)

    def _make_spare(self):
        ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            pid = self._clone()
        except OSError:
            ours.close()
            theirs.close()
            self.sizes = None  # no spares, then: each request forks
            return
        if pid == 0:
            ours.detach()
            self._become_clone(theirs, None, False)  # never returns
        theirs.close()
        self.spare = (pid, ours)

    def _hand_to_spare(self, fds, ahead):
        """Gives the request's descriptors to the spare; returns its pid, or None if there is
        none alive."""
        if self.spare is None:
            return None
        pid, sock = self.spare
        self.spare = None
        try:
            try:
                if sock.recv(1, _socket.MSG_DONTWAIT | _socket.MSG_PEEK) == b"":
                    return None  # it died (EOF)
            except BlockingIOError:
                pass  # alive and waiting
            packed = b"".join(fd.to_bytes(4, sys.byteorder) for fd in fds)
            sock.sendmsg([b"a" if ahead else b"c"], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, packed)])
            return pid
        except OSError:
            return None
        finally:
            sock.close()

    def _drop_spare(self):
        if self.spare is not None:
            self.spare[1].close()  # the spare reads EOF and exits
            self.spare = None

    def _clone(self):
        if self.sys_clone is None:
            raise OSError("clone: unsupported machine " + os.uname().machine)
        api = ctypes.pythonapi
        # As os.fork does: at-fork hooks (random reseeds itself in the child), the import lock.
        api.PyOS_BeforeFork()
        pid = self.raw.syscall(ctypes.c_long(self.sys_clone), ctypes.c_long(CLONE_FLAGS),
                               ctypes.c_long(0), ctypes.c_long(0), ctypes.c_long(0), ctypes.c_long(0))
        if pid == 0:
            api.PyOS_AfterFork_Child()
            return 0
        err = ctypes.get_errno()
        api.PyOS_AfterFork_Parent()
        if pid < 0:
            raise OSError(err, "clone: " + os.strerror(err))
        return pid

    def _become_clone(self, spare, fds, ahead):
        """The child's side: a spare (`spare` is its socket to the template) sets up and waits for
        a request's descriptors; a clone forked for a request (`fds`) reports at once and sets up.
        Both then wait for their go line in `_finish`, and serve."""
        try:
            self.control.detach()  # the template's; a clone must not hold it (closed below)
            self._drop_spare_in_child()
            if spare is not None:
                self._prepare(keep=(spare.fileno(),))
                while True:
                    try:
                        data, ancillary, _, _ = spare.recvmsg(16, _socket.CMSG_SPACE(4 * 4))
                        break
                    except InterruptedError:
                        continue
                fds = _fds(ancillary)
                if not data or len(fds) != 2:
                    os._exit(0)  # dropped by the template
                ahead = data == b"a"
                spare.close()
                sock = _socket.socket(fileno=fds[0])
                sock.sendall(b"R")  # the kernel attaches our pid: the agent moves us now
            else:
                sock = _socket.socket(fileno=fds[0])
                # Report first: the agent moves us into our cgroup while we set up.
                sock.sendall(b"R")
                self._prepare(keep=tuple(fds))
            leftover, asked = self._finish(sock, fds[1], ahead)
        except BaseException:
            try:
                import traceback
                sys.stderr.write("cella template: the clone's setup failed\n")
                traceback.print_exc()
                sys.stderr.flush()
            finally:
                os._exit(70)
        cella_runtime.serve_clone(self.api, self.handler, sock, leftover, asked)

    def _drop_spare_in_child(self):
        if self.spare is not None:
            self.spare[1].detach()
            self.spare = None

    def _prepare(self, keep):
        """Everything that does not depend on the request: ids, mounts, loopback, descriptors,
        capabilities, seccomp. No user code runs here."""
        libc = self.libc
        # Our ids: inside 1000 is the template's uid and gid (unprivileged single-id maps).
        for name, text in (("setgroups", "deny"), ("gid_map", f"1000 {self.gid} 1"),
                           ("uid_map", f"1000 {self.uid} 1")):
            fd = os.open(f"/proc/self/{name}", os.O_WRONLY)
            try:
                os.write(fd, text.encode())
            except OSError as exc:
                raise OSError(exc.errno, f"writing {text!r} to /proc/self/{name}: {exc.strerror}") from None
            finally:
                os.close(fd)
        # Non-dumpable from here: nothing without CAP_SYS_PTRACE in the template's user namespace
        # may read or trace the clone through /proc or ptrace, not even the template's own
        # threads (which own the clone's user namespace). Until now the clone had to be dumpable
        # to own its /proc/self files; other clones could not reach it even then: they are in
        # user namespaces of their own, without capabilities in this one (commoncap's ptrace check).
        self._check(libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "PR_SET_DUMPABLE")
        tmp, shm = self.sizes
        for target, size in ((b"/tmp", tmp), (b"/dev/shm", shm)):
            self._check(libc.mount(b"cella", target, b"tmpfs", ctypes.c_ulong(MS_NOSUID | MS_NODEV),
                                   f"size={size}m,mode=1777".encode()), "mount " + target.decode())
        self._loopback_up()
        # The signal wake-up pipe is the template's, and is closed below: none until our own.
        _signal.set_wakeup_fd(-1)
        low = 3
        for fd in sorted(keep):
            os.closerange(low, fd)
            low = fd + 1
        os.closerange(low, 1 << 16)
        cella_runtime.watch_signals()
        # Signals as a fresh runtime has them (the template ignores SIGCHLD to reap its clones).
        _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
        os.environ.pop("CELLA_TEMPLATE_FD", None)
        # No capabilities, then the default seccomp profile on top of the template's.
        for cap in range(self.last_cap + 1):
            self._check(libc.prctl(PR_CAPBSET_DROP, ctypes.c_ulong(cap), 0, 0, 0), "drop capability")
        self._check(libc.prctl(PR_CAP_AMBIENT, 4, 0, 0, 0), "clear ambient capabilities")
        header = _CapHeader(0x20080522, 0)
        data = (_CapData * 2)()
        self._check(libc.capset(ctypes.byref(header), data), "capset")
        self._check(libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0), "PR_SET_PDEATHSIG")
        self._check(libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(self.fprog), 0, 0),
                    "seccomp")

    def _finish(self, sock, output_fd, ahead):
        """The part that waits for the agent: its output, its go line, its identity, the hooks.
        A clone made ahead of need rehearses the runtime's invoke path first (no user code).
        Returns what arrived after the go line (the start of the first event's answer when the
        clone asked for it before the line, else nothing) and whether it asked."""
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
        os.close(output_fd)
        if ahead:
            try:
                cella_runtime.rehearse()
                self._rehearse_go()
            except Exception:  # only ever a head start: the clone is whole without it
                pass
        # Nothing left to do after the go line can fail (no hooks): ask for the first event now.
        # A hook that failed after its /next was answered would take that invocation down with
        # the clone, instead of letting the agent start it cold.
        asked = not cella_runtime.after_clone_hooks
        if asked:
            sock.sendall(self.api.get_next)
        # In our own cgroup before any user code: wait for the agent's go line.
        buf = b""
        while (end := buf.find(b"\n")) < 0:
            chunk = sock.recv(65536)
            if not chunk or len(buf) > (1 << 20):
                os._exit(71)
            buf += chunk
        if not buf.startswith(b"go "):
            os._exit(71)
        request = cella_runtime._loads(buf[3:end])
        # Fresh randomness and identity. random's at-fork hook has reseeded it already (from
        # os.urandom); do it again, here, for a clone forked long before it was let go.
        if "random" in sys.modules:
            sys.modules["random"].seed()
        os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"] = "snap-start"
        environment = request.get("environment", {})
        for key, value in environment.items():
            os.environ[key] = value
        stream = environment.get("AWS_LAMBDA_LOG_STREAM_NAME")
        if stream:
            cella_runtime.LambdaContext.log_stream_name = stream
        for func, args, kwargs in cella_runtime.after_clone_hooks:
            func(*args, **kwargs)
        return buf[end + 1:], asked

    @staticmethod
    def _rehearse_go():
        """What taking a go line touches (its JSON, the reseed, the environment writes), once
        ahead, for the same reason as the invoke path's rehearsal."""
        request = cella_runtime._loads(b'{"environment":{"AWS_LAMBDA_LOG_STREAM_NAME":"rehearsal"}}')
        if "random" in sys.modules:
            sys.modules["random"].seed()
        for key in ("AWS_LAMBDA_INITIALIZATION_TYPE", *request["environment"]):
            old = os.environ.get(key)
            os.environ[key] = "rehearsal"
            if old is None:
                del os.environ[key]
            else:
                os.environ[key] = old

    def _loopback_up(self):
        s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
        try:
            ifr = bytearray(b"lo".ljust(40, b"\0"))
            self.fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, ifr)
            flags = int.from_bytes(ifr[16:18], sys.byteorder) | IFF_UP
            ifr[16:18] = flags.to_bytes(2, sys.byteorder)
            self.fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, ifr)
        finally:
            s.close()


def park(api, handler, control_fd):
    """Turns this initialized runtime into its function's template; never returns."""
    for func, args, kwargs in cella_runtime.before_park_hooks:
        func(*args, **kwargs)
    program = api.park()
    if not program or len(program) % 8:
        raise cella_runtime.RuntimeAPIError(f"park answered a {len(program)}-byte seccomp program")
    template = _Template(api, handler, control_fd, program)
    # Objects made at init go to the GC's permanent generation: collections in a clone then never
    # walk (and so never write, i.e. copy) the template's pages.
    import gc
    gc.collect()
    gc.freeze()
    # The kernel reaps clones at once (the agent reads their status through a pidfd).
    _signal.signal(_signal.SIGCHLD, _signal.SIG_IGN)
    sys.stdout.flush()
    sys.stderr.flush()
    template.loop()
