"""Real Holdfast processes on loopback for scripts/acceptance and scripts/bench-phone.

Standard library only (it runs with any python3). Every wait is bounded and says what it waited
for when it times out.
"""
import json, os, re, select, signal, socket, subprocess, threading, time, urllib.error, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OFFICE = os.path.join(ROOT, "examples", "office")


class Timeout(Exception):
    pass


def free_port():
    """A loopback port free for UDP and TCP a moment ago (a port the kernel gives free for UDP may
    be taken for TCP: then another is tried)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, socket.socket() as t:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            try:
                t.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise OSError("no loopback port free for both UDP and TCP in 100 tries")


def free_port_pair():
    """A loopback port free for UDP and TCP whose next port is free too (baresip takes port + 1
    for its TLS listener)."""
    for _ in range(100):
        port = free_port()
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, socket.socket() as t:
                u.bind(("127.0.0.1", port + 1))
                t.bind(("127.0.0.1", port + 1))
        except OSError:
            continue
        return port
    raise OSError("no two neighbouring loopback ports free in 100 tries")


def http(url, method="GET", token=None, body=None, timeout=5):
    """(status, JSON body) of one request; HTTP errors are answers, not exceptions."""
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        text = error.read()
        try:
            return error.code, json.loads(text or b"null")
        except ValueError:
            return error.code, {"raw": text.decode(errors="replace")}


def wait_until(what, predicate, timeout, step=0.01):
    """The predicate's first truthy value, polled every `step` s for at most `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except (OSError, urllib.error.URLError, ValueError):
            value = None
        if value:
            return value
        if time.monotonic() >= deadline:
            raise Timeout(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)


def capability_ids():
    """Every capability id, read from the phone's one table (Sources/Phone/Capabilities)."""
    with open(os.path.join(ROOT, "Sources", "Phone", "Capabilities", "CapabilityTable.swift")) as f:
        return re.findall(r'^\s*row\("([^"]+)"', f.read(), flags=re.M)


def holdfast_binary(configuration="debug"):
    """Builds the holdfast product (a no-op when it is up to date) and returns its path."""
    subprocess.run(["swift", "build", "-c", configuration, "--product", "holdfast"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    return os.path.join(ROOT, ".build", configuration, "holdfast")


def stop(process):
    """SIGCONT (a frozen process cannot die otherwise), SIGTERM, then SIGKILL after 5 s."""
    if process is None or process.poll() is not None:
        return
    try:
        process.send_signal(signal.SIGCONT)
        process.terminate()
        process.wait(5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
    except ProcessLookupError:
        pass


class Server:
    """`holdfast pbx` or `holdfast collab` with a config file and a data directory; restartable."""

    def __init__(self, binary, kind, config, data, log, health=None):
        self.binary, self.kind, self.config, self.data, self.log, self.health = binary, kind, config, data, log, health
        self.process = None

    def start(self, timeout=30):
        """Starts the server and returns the monotonic time at which it answered its health check."""
        self.process = subprocess.Popen([self.binary, self.kind, "--config", self.config, "--data-dir", self.data,
                                         "--log-level", os.environ.get("HOLDFAST_LOG_LEVEL", "info")], stdout=open(self.log, "a"), stderr=subprocess.STDOUT)
        if self.health:
            def healthy():
                if self.process.poll() is not None:
                    raise Timeout(f"{self.kind} exited with {self.process.returncode}: see {self.log}")
                return http(self.health, timeout=0.5)[0] == 200
            wait_until(f"{self.kind} to answer {self.health}", healthy, timeout, step=0.005)
        return time.monotonic()

    def signal(self, number):
        self.process.send_signal(number)

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self):
        stop(self.process)


class Phone:
    """`holdfast phone` with its local API."""

    def __init__(self, binary, user, work, config_text, audio_in="tone:700", audio_out=None):
        self.user = user
        self.dir = os.path.join(work, f"phone-{user}")
        os.makedirs(self.dir, exist_ok=True)
        self.config = os.path.join(self.dir, "phone.yaml")
        with open(self.config, "w") as f:
            f.write(config_text)
        self.port = next(int(line.split("port:")[1].split("}")[0]) for line in config_text.splitlines() if line.startswith("api:"))
        self.binary, self.audio_in, self.audio_out = binary, audio_in, audio_out
        self.process = None
        self.token = None

    def start(self):
        arguments = [self.binary, "phone", "--config", self.config, "--data-dir", self.dir, "--audio-in", self.audio_in, "--log-level", os.environ.get("HOLDFAST_LOG_LEVEL", "info")]
        if self.audio_out:
            arguments += ["--audio-out", self.audio_out]
        self.process = subprocess.Popen(arguments, stdout=open(os.path.join(self.dir, "log"), "a"), stderr=subprocess.STDOUT)
        token_file = os.path.join(self.dir, "api-token")
        wait_until(f"phone {self.user}'s API token", lambda: os.path.exists(token_file) and len(open(token_file).read().strip()) >= 32, 20)
        self.token = open(token_file).read().strip()
        wait_until(f"phone {self.user}'s API", lambda: self.state(), 20)
        return self

    def stop(self):
        stop(self.process)

    def request(self, method, path, body=None):
        return http(f"http://127.0.0.1:{self.port}/api/{path}", method, self.token, body)

    def state(self):
        try:
            status, state = self.request("GET", "state")
            return state if status == 200 else None
        except (OSError, urllib.error.URLError):
            return None

    def mode(self):
        state = self.state()
        return state and state["server"]["mode"]

    def registered(self):
        state = self.state()
        return bool(state) and state["registration"]["state"] == "registered"

    def calls(self):
        return (self.state() or {}).get("calls", [])

    def call(self, call_id):
        return next((c for c in self.calls() if c["id"] == call_id), None)

    def wait_call(self, what, predicate, timeout=15):
        """The first live call that satisfies `predicate`."""
        return wait_until(f"phone {self.user}: {what}", lambda: next((c for c in self.calls() if predicate(c)), None), timeout)

    def wait_state(self, what, predicate, timeout=15):
        return wait_until(f"phone {self.user}: {what}", lambda: (s := self.state()) and predicate(s) and s, timeout)


class Baresip:
    """baresip (Debian baresip-core) registered to the call server as `number`, sending a tone."""

    def __init__(self, number, work, pbx_port, frequency, auto_answer=True):
        self.number = number
        self.dir = os.path.join(work, f"baresip-{number}")
        os.makedirs(os.path.join(self.dir, "snd"), exist_ok=True)
        self.log = os.path.join(self.dir, "log")
        source = os.path.join(self.dir, "source.wav")
        # baresip ends a call when its aufile source runs out ("audio error (0,end of file)"), so the
        # source outlasts any scenario's call, however slowly a loaded machine runs it.
        subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", source, "synth", "600", "sine", str(frequency), "vol", "0.3"], check=True)
        sip = free_port_pair()
        with open(os.path.join(self.dir, "config"), "w") as f:
            f.write(f"""poll_method epoll
sip_listen 127.0.0.1:{sip}
sip_trans_def udp
audio_player aufile,{self.dir}/played.wav
audio_source aufile,{source}
audio_alert aufile,{source}
audio_srate 8000
audio_channels 1
module_path /usr/lib/baresip/modules
module stdio.so
module g711.so
module aufile.so
module sndfile.so
module_app account.so
module_app menu.so
snd_path {self.dir}/snd
net_interface 127.0.0.1
rtp_ports 42000-42999
""")
        with open(os.path.join(self.dir, "accounts"), "w") as f:
            f.write(f"<sip:{number}@127.0.0.1:{pbx_port}>;auth_pass=pw{number};regint=300" + (";answermode=auto" if auto_answer else "") + "\n")
        self.process = None

    def start(self):
        self.process = subprocess.Popen(["baresip", "-f", self.dir], stdin=subprocess.PIPE, stdout=open(self.log, "a"),
                                        stderr=subprocess.STDOUT, cwd=self.dir)
        return self

    def output(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def stop(self):
        stop(self.process)


class Blackhole:
    """A TCP forwarder on loopback that can stop forwarding without closing anything: a silent
    network. Connections open when the hole opens, and those made while it is open, carry nothing
    more; they are reset when it closes (as a middlebox that lost their state would), and new
    connections flow again."""

    def __init__(self, target_port):
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.holed = False
        self.lock = threading.Lock()
        self.pairs = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            pair = {"client": client, "server": None, "dead": self.holed}
            if not pair["dead"]:
                try:
                    pair["server"] = socket.create_connection(self.target, timeout=2)
                except OSError:
                    client.close()
                    continue
            with self.lock:
                self.pairs.append(pair)
            threading.Thread(target=self._pump, args=(pair,), daemon=True).start()

    def _pump(self, pair):
        sockets = [s for s in (pair["client"], pair["server"]) if s]
        try:
            while True:
                readable, _, _ = select.select(sockets, [], [], 0.2)
                for s in readable:
                    data = s.recv(65536)
                    if not data:
                        return
                    if pair["dead"] or self.holed:
                        pair["dead"] = True
                        continue  # swallowed: nothing reaches the other side, nothing is closed
                    (pair["server"] if s is pair["client"] else pair["client"]).sendall(data)
                if pair.get("reset"):
                    return
        except OSError:
            return
        finally:
            for s in sockets:
                try:
                    if pair.get("reset"):
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    s.close()
                except OSError:
                    pass

    def open_hole(self):
        with self.lock:
            self.holed = True
            for pair in self.pairs:
                pair["dead"] = True

    def close_hole(self):
        with self.lock:
            self.holed = False
            for pair in self.pairs:
                if pair["dead"]:
                    pair["reset"] = True
            self.pairs = [p for p in self.pairs if not p["dead"]]
