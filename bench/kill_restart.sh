#!/usr/bin/env bash
# Crash-restart endurance: ROUNDS times (default 50), a real `fetalmon serve` receives uploads
# (4 client threads, 2-200 KiB CSV traces) and one live stream (a device token, frames as fast as
# acks come back) and is killed with SIGKILL at a random moment (0.1-2.5 s in). After every
# restart: PRAGMA integrity_check must be ok, every upload that was answered 201 must be listed
# with its bytes intact in recordings/, and the live stream must resume with next_seq past every
# acknowledged frame. Every 10 rounds the stream is closed and its WAV must hold exactly every
# frame sent 0..N-1 in order (so no acknowledged frame was lost, none duplicated).
#
#   bench/kill_restart.sh [--rounds N] [--bin build/fetalmon] [--seed S] [--keep]
#
# Prints one line per round and a summary; exit status 1 when any check failed.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 - "$@" <<'PYEOF'
import argparse, base64, hashlib, http.client, json, os, random, shutil, signal, socket, sqlite3
import struct, subprocess, sys, tempfile, threading, time

ap = argparse.ArgumentParser()
ap.add_argument("--rounds", type=int, default=50)
ap.add_argument("--bin", default="build/fetalmon")
ap.add_argument("--seed", type=int, default=int(time.time()))
ap.add_argument("--keep", action="store_true")
a = ap.parse_args()
rng = random.Random(a.seed)
BIN = os.path.abspath(a.bin)
data = tempfile.mkdtemp(prefix="fm-kill-")
FRAME = 2000  # samples (0.25 s at 8 kHz)

def user(args, pw=None):
    p = subprocess.run([BIN, "user"] + args, input=(pw + "\n") if pw else None,
                       capture_output=True, text=True)
    if p.returncode:
        sys.exit("fetalmon user %s: %s" % (args[0], p.stderr))
    return p.stdout.strip()

user(["add", "--data", data, "--role", "patient", "--name", "alice", "--password-stdin"],
     "alice-password")
device = user(["device-token", "--data", data, "--name", "alice"])

proc = None
def start():
    global proc
    proc = subprocess.Popen([BIN, "serve", "--data", data, "--listen", "127.0.0.1:0",
                             "--set", "http_timeout_s=5"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    port = int(line.strip().rsplit(":", 1)[1])
    t0 = time.time()
    while time.time() - t0 < 30:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                return port
        except OSError:
            pass
        time.sleep(0.02)
    sys.exit("server did not get ready")

def req(port, method, path, token=None, body=None, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    h = {"Authorization": "Bearer " + token} if token else {}
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    b = r.read()
    try:
        j = json.loads(b)
    except ValueError:
        j = None
    return r.status, j

# ---- a minimal WebSocket client (RFC 6455) ----
class WS:
    def __init__(self, port, path, proto):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                        "Sec-WebSocket-Protocol: %s\r\n\r\n" % (path, key, proto)).encode())
        h = b""
        while b"\r\n\r\n" not in h:
            c = self.s.recv(1)
            if not c:
                raise OSError("closed in handshake")
            h += c
        if b" 101 " not in h.split(b"\r\n")[0]:
            raise OSError("refused")
        self.buf = b""
    def send(self, op, payload):
        n = len(payload)
        hdr = bytes([0x80 | op])
        hdr += bytes([0x80 | n]) if n < 126 else (bytes([0x80 | 126]) + struct.pack(">H", n))
        mask = os.urandom(4)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if n < 256 else \
            (int.from_bytes(payload, "little") ^ int.from_bytes((mask * (n // 4 + 1))[:n], "little")).to_bytes(n, "little")
        self.s.sendall(hdr + mask + body)
    def text(self, obj):
        self.send(1, json.dumps(obj).encode())
    def _need(self, n):
        while len(self.buf) < n:
            c = self.s.recv(65536)
            if not c:
                raise OSError("closed")
            self.buf += c
    def recv(self):
        self._need(2)
        op, n = self.buf[0] & 15, self.buf[1] & 127
        off = 2
        if n == 126:
            self._need(4); n = struct.unpack(">H", self.buf[2:4])[0]; off = 4
        elif n == 127:
            self._need(10); n = struct.unpack(">Q", self.buf[2:10])[0]; off = 10
        self._need(off + n)
        p, self.buf = self.buf[off:off + n], self.buf[off + n:]
        if op == 8:
            raise OSError("close frame")
        return op, p
    def close(self):
        try:
            self.s.close()
        except OSError:
            pass

def frame_pcm(seq):
    return b"".join(struct.pack("<h", (seq * 131 + i * 7) & 0x7fff) for i in range(FRAME))

PCM_CACHE = {}
def pcm(seq):
    if seq not in PCM_CACHE:
        PCM_CACHE[seq] = frame_pcm(seq)
    return PCM_CACHE[seq]

# ---- state across rounds ----
acked_uploads = {}     # id -> sha256 of the bytes sent
stream = {"id": None, "acked": -1, "next": 0}
failures = []
lock = threading.Lock()
stop = threading.Event()

def uploader(port, token, round_no, k):
    i = 0
    while not stop.is_set():
        n = rng.randint(2, 200) * 1024
        head = "time_s,fhr_bpm\n# round %d client %d upload %d %s\n" % (round_no, k, i, os.urandom(6).hex())
        lines = [head]
        size = len(head)
        t = 0
        while size < n:
            l = "%.2f,%d\n" % (t * 0.25, 130 + (t * 7 + k) % 30)
            lines.append(l); size += len(l); t += 1
        body = "".join(lines).encode()
        i += 1
        try:
            st, j = req(port, "POST", "/api/recordings?name=k%d.csv" % k, token, body)
        except OSError:
            return  # the server died: this upload was not acknowledged
        if st == 201:
            with lock:
                acked_uploads[j["id"]] = hashlib.sha256(body).hexdigest()

def streamer(port):
    try:
        ws = WS(port, "/ws/ingest", "fm-ingest")
        o = {"type": "open", "token": device, "format": "s16le", "rate_hz": 8000}
        if stream["id"]:
            o["stream"] = stream["id"]
        ws.text(o)
        while True:
            op, p = ws.recv()
            m = json.loads(p)
            if m["type"] == "opened":
                break
            if m["type"] == "error":
                failures.append("stream open refused: %s" % m); return
        if stream["id"] and m["stream"] != stream["id"]:
            failures.append("resumed a different stream")
        stream["id"] = m["stream"]
        nxt = m["next_seq"]
        if nxt < stream["acked"] + 1:
            failures.append("stream %s: next_seq %d but frame %d was acknowledged"
                            % (stream["id"], nxt, stream["acked"]))
        stream["next"] = nxt
        seq = nxt
        inflight = 0
        while not stop.is_set():
            while inflight < 4:
                ws.send(2, struct.pack("<I", seq) + pcm(seq))
                seq += 1; inflight += 1
            op, p = ws.recv()
            m = json.loads(p)
            if m["type"] == "ack":
                stream["acked"] = max(stream["acked"], m["seq"])
                inflight = seq - 1 - stream["acked"]
            elif m["type"] == "error":
                failures.append("stream error: %s" % m); return
    except (OSError, ValueError):
        return

def close_stream(port):
    """Closes the stream and checks its WAV holds frames 0..N-1 exactly."""
    ws = WS(port, "/ws/ingest", "fm-ingest")
    ws.text({"type": "open", "token": device, "format": "s16le", "rate_hz": 8000,
             "stream": stream["id"]})
    m = json.loads(ws.recv()[1])
    if m.get("type") != "opened" or m["next_seq"] < stream["acked"] + 1:
        failures.append("final open: %s (acked %d)" % (m, stream["acked"])); return 0
    n = m["next_seq"]
    ws.text({"type": "close"})
    while True:
        m = json.loads(ws.recv()[1])
        if m["type"] in ("closed", "error"):
            break
    ws.close()
    if m["type"] != "closed":
        failures.append("close: %s" % m); return 0
    w = open(os.path.join(data, "recordings", stream["id"] + ".wav"), "rb").read()
    ok = len(w) == 44 + n * 2 * FRAME and all(
        w[44 + s * 2 * FRAME: 44 + (s + 1) * 2 * FRAME] == pcm(s) for s in range(n))
    if not ok:
        failures.append("stream %s: WAV does not hold frames 0..%d" % (stream["id"], n - 1))
    stream.update(id=None, acked=-1, next=0)
    return n

def verify(port, token):
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(data, "fetalmon.db"), uri=True)
    ic = db.execute("PRAGMA integrity_check").fetchone()[0]
    db.close()
    if ic != "ok":
        failures.append("integrity_check: %s" % ic)
    st, j = req(port, "GET", "/api/patients/alice/recordings", token)
    listed = {r["id"] for r in j["recordings"]} if st == 200 else set()
    for rid, h in list(acked_uploads.items()):
        if rid not in listed:
            failures.append("acknowledged upload %s not listed" % rid); continue
        try:
            b = open(os.path.join(data, "recordings", rid + ".csv"), "rb").read()
        except OSError:
            failures.append("acknowledged upload %s: no file" % rid); continue
        if hashlib.sha256(b).hexdigest() != h:
            failures.append("acknowledged upload %s: bytes differ" % rid)
    parts = [f for f in os.listdir(os.path.join(data, "incoming")) if f.endswith(".part")]
    if parts:
        failures.append("incoming/ holds %d .part files after the restart" % len(parts))
    return ic

print("# seed %d, data %s" % (a.seed, data))
print("%5s %8s %9s %9s %8s %s" % ("round", "kill_s", "uploads", "frames", "integ", "failures"))
total_frames = 0
token = None
t_start = time.time()
for rnd in range(1, a.rounds + 1):
    port = start()
    if token is None:
        st, j = req(port, "POST", "/api/login", None,
                    json.dumps({"username": "alice", "password": "alice-password"}))
        token = j["token"]
    ic = verify(port, token)  # what the last crash left
    if rnd % 10 == 1 and stream["id"]:
        total_frames += close_stream(port)
    stop.clear()
    threads = [threading.Thread(target=uploader, args=(port, token, rnd, k)) for k in range(4)]
    threads.append(threading.Thread(target=streamer, args=(port,)))
    for t in threads:
        t.start()
    kill_at = rng.uniform(0.1, 2.5)
    time.sleep(kill_at)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stop.set()
    for t in threads:
        t.join()
    print("%5d %8.2f %9d %9d %8s %d" % (rnd, kill_at, len(acked_uploads), stream["acked"] + 1,
                                         ic, len(failures)), flush=True)
port = start()
verify(port, token)
if stream["id"]:
    total_frames += close_stream(port)
verify(port, token)
proc.send_signal(signal.SIGTERM)
proc.wait()
print("# %d rounds in %.0f s: %d uploads acknowledged (all present, bytes intact: %s), "
      "%d stream frames in closed streams, %d failures"
      % (a.rounds, time.time() - t_start, len(acked_uploads), "yes" if not failures else "no",
         total_frames, len(failures)))
for f in failures[:20]:
    print("FAIL", f)
if not a.keep:
    shutil.rmtree(data, ignore_errors=True)
sys.exit(1 if failures else 0)
PYEOF
