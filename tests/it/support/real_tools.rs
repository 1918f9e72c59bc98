//! Shared by the tests that check generated configuration with the real tools (nginx,
//! Traefik): finding the tool (skipped with a reason outside CI, a failure under CI=true),
//! throwaway certificates from the `openssl` CLI, child processes that die with the test, small
//! test upstreams that echo the Host header, and HTTPS requests through curl `--resolve`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The program `name` (or the path in `env_var`), or `None` with the reason printed. Under
/// `CI=true` a missing tool fails the test: CI installs them (`scripts/test/.ci/run`).
pub fn tool(name: &str, env_var: &str) -> Option<PathBuf> {
    let found = std::env::var_os(env_var).map(PathBuf::from).filter(|p| p.is_file()).or_else(|| {
        let path = std::env::var_os("PATH")?;
        let extra = [PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")];
        std::env::split_paths(&path).chain(extra).map(|d| d.join(name)).find(|p| p.is_file())
    });
    if found.is_none() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            !ci,
            "{name} is not installed (or {env_var} not set) and CI=true: the real-{name} check cannot be skipped"
        );
        eprintln!("SKIPPED: {name} not found on PATH (set {env_var}); the real-{name} check did not run");
    }
    found
}

/// A child process killed when the test ends, however it ends.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Run `openssl` with `args` in `dir`; panics with its stderr on failure.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl CLI not found");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A throwaway CA in `dir`: `ca.crt`, `ca.key`.
pub fn make_ca(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=phoenix test root",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

/// A leaf certificate `<stem>.crt`/`<stem>.key` in `dir`, signed by the CA of [`make_ca`], for
/// the DNS names `sans` only (no IP SAN: a client that verifies an address instead of the
/// name fails).
pub fn make_leaf(dir: &Path, stem: &str, sans: &[&str]) {
    let san = sans.iter().map(|s| format!("DNS:{s}")).collect::<Vec<_>>().join(",");
    let ext = format!(
        "subjectAltName={san}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n"
    );
    std::fs::write(dir.join(format!("{stem}.ext")), ext).unwrap();
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{stem}.key"),
            "-out",
            &format!("{stem}.csr"),
            "-subj",
            &format!("/CN={}", sans[0]),
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{stem}.csr"),
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &format!("{stem}.crt"),
            "-days",
            "2",
            "-extfile",
            &format!("{stem}.ext"),
        ],
    );
}

/// A plain-HTTP upstream on 127.0.0.1 that answers every request with
/// `upstream=<label> host=<Host header>`; returns its port. The thread lives as long as the
/// test process (the listener is only reachable from the test).
pub fn http_echo(label: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(&stream);
                let mut host = String::new();
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    if let Some((k, v)) = line.split_once(':') {
                        if k.eq_ignore_ascii_case("host") {
                            host = v.trim().to_string();
                        }
                    }
                    line.clear();
                }
                let body = format!("upstream={label} host={host}\n");
                let mut w = &stream;
                let _ = write!(
                    w,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    port
}

/// An HTTPS upstream on 127.0.0.1 (python3's http.server with `cert`/`key`), answering like
/// [`http_echo`]; `None` when python3 is missing. Waits until it accepts connections.
pub fn https_echo(label: &str, cert: &Path, key: &Path) -> Option<(Running, u16)> {
    let port = super::sshd::free_port();
    let script = r#"
import http.server, ssl, sys
label, port, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("upstream=%s host=%s\n" % (label, self.headers.get("Host", ""))).encode()
        self.send_response(200)
        # What arrived, for the tests of forwarded and websocket headers.
        for h in ("Upgrade", "Connection", "X-Forwarded-Proto", "X-Forwarded-For"):
            self.send_header("X-Seen-" + h, self.headers.get(h, "-"))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
"#;
    let child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(label)
        .arg(port.to_string())
        .arg(cert)
        .arg(key)
        .stdout(Stdio::null())
        .spawn()
        .ok()?;
    let running = Running(child);
    wait_for_port(port, Duration::from_secs(10));
    Some((running, port))
}

/// Wait until something accepts connections on 127.0.0.1:`port`.
pub fn wait_for_port(port: u16, limit: Duration) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < limit, "nothing listens on 127.0.0.1:{port} after {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What curl got: HTTP status (0 when the connection or handshake failed), body, stderr.
pub struct Fetched {
    pub status: u16,
    pub body: String,
    pub stderr: String,
    pub headers: String,
}

/// `curl` for `url` with `host:port` resolved to 127.0.0.1, trusting `ca` only (no `-k`).
pub fn curl(url: &str, resolve: &str, ca: &Path, extra: &[&str]) -> Fetched {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "-D", "-", "-w", "\n%{http_code}", "--resolve"])
        .arg(format!("{resolve}:127.0.0.1"))
        .arg("--cacert")
        .arg(ca)
        .args(extra)
        .arg(url)
        .output()
        .expect("curl not found");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (rest, code) = text.rsplit_once('\n').unwrap_or(("", text.as_str()));
    let (headers, body) = rest.split_once("\r\n\r\n").unwrap_or((rest, ""));
    Fetched {
        status: code.trim().parse().unwrap_or(0),
        body: body.to_string(),
        headers: headers.to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
