//! Test support: a `herd serve` process on a free loopback port with a temporary data directory, an HTTP
//! client, and a Python virtualenv with the vendor SDKs installed from PyPI.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const API_KEY: &str = "test-api-key-0001";
pub const SECRET_KEY: &str = "test-secret-key-0001";

/// The `herd` binary under test.
pub fn herd() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_herd"));
    // Every `HERD_*` variable is a config override for the binary, and unknown ones are errors; the test runner's
    // own (`HERD_TEST_VENV`, `HERD_TEST_NODE_DIR`, anything a developer exported) must not leak into it.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("HERD_") {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// A running server; killed when dropped.
pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub base: String,
    child: Option<Child>,
    env: Vec<(String, String)>,
    /// Extra `herd serve` arguments.
    args: Vec<String>,
}

impl TestServer {
    /// A fresh data directory with one project (`API_KEY` / `SECRET_KEY`) and a server on it.
    pub fn start() -> TestServer {
        TestServer::start_with(&[])
    }

    pub fn start_with(env: &[(&str, &str)]) -> TestServer {
        TestServer::start_with_args(env, &[])
    }

    /// The same, with extra `herd serve` arguments (e.g. `--demo`).
    pub fn start_with_args(env: &[(&str, &str)], args: &[&str]) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = herd()
            .args(["project", "create", "--name", "test", "--api-key", API_KEY, "--secret-key", SECRET_KEY])
            .arg("--data-dir")
            .arg(dir.path())
            .output()
            .expect("run herd project create");
        assert!(out.status.success(), "project create failed: {}", String::from_utf8_lossy(&out.stderr));
        let mut server = TestServer {
            dir,
            base: String::new(),
            child: None,
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            args: args.iter().map(|a| a.to_string()).collect(),
        };
        server.spawn();
        server
    }

    /// Starts the process on the data directory (again, after a kill).
    pub fn spawn(&mut self) {
        let mut cmd = herd();
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(self.dir.path())
            .args(&self.args)
            .env("HERD_LOG", "warn")
            .env("HERD_SERVER__ADMIN_TOKEN", "admin-token")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn herd serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line).expect("read listening line");
        let base =
            line.trim().strip_prefix("herd listening on ").unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        self.base = base.to_owned();
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = reader.read_to_end(&mut sink);
        });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(r) = client().get(format!("{}/healthz", self.base)).send()
                && r.status() == 200
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("server did not become healthy");
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill");
            child.wait().expect("wait");
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sets a project setting of the `test` project through the admin API (`None` removes it).
    pub fn set_setting(&self, key: &str, value: Option<&str>) {
        let r = client()
            .put(self.url(&format!("/admin/projects/test/settings/{key}")))
            .bearer_auth("admin-token")
            .json(&value)
            .send()
            .expect("admin settings request");
        assert_eq!(r.status(), 200, "setting {key} failed: {}", r.text().unwrap_or_default());
    }

    /// `GET /api/2/export` for all of time, as parsed JSON rows (status must be 200).
    pub fn export_all(&self) -> Vec<serde_json::Value> {
        self.export_all_with(API_KEY, SECRET_KEY)
    }

    /// The same with another project's keys.
    pub fn export_all_with(&self, api_key: &str, secret_key: &str) -> Vec<serde_json::Value> {
        let r = client()
            .get(self.url(&format!("/api/2/export?start={}&end={}", export_hour(-100), export_hour(100))))
            .basic_auth(api_key, Some(secret_key))
            .send()
            .expect("export request");
        assert_eq!(r.status(), 200, "export failed: {}", r.text().unwrap_or_default());
        unzip_rows(&r.bytes().expect("export body"))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Rows of an Amplitude export zip: every member is a gzipped JSON-lines file.
pub fn unzip_rows(bytes: &[u8]) -> Vec<serde_json::Value> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("export is a zip");
    let mut rows = Vec::new();
    for i in 0..archive.len() {
        let file = archive.by_index(i).expect("zip member");
        assert!(file.name().ends_with(".json.gz"), "member {}", file.name());
        let mut text = String::new();
        flate2::read::GzDecoder::new(file).read_to_string(&mut text).expect("gzip member");
        for line in text.lines().filter(|l| !l.is_empty()) {
            rows.push(serde_json::from_str(line).expect("json line"));
        }
    }
    rows
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder().timeout(Duration::from_secs(30)).build().expect("client")
}

static VENV_LOCK: Mutex<()> = Mutex::new(());

/// Python packages the tests install from PyPI (pinned so runs are reproducible).
pub const PY_PACKAGES: &[&str] = &[
    "amplitude-analytics==1.3.0",
    "segment-analytics-python==2.4.0",
    "rudder-sdk-python==2.1.9",
    "amplitude-data-wrapper==0.6.2",
];

/// A virtualenv's python with [`PY_PACKAGES`] installed; created on first use.
/// `HERD_TEST_VENV` chooses where (CI keeps it in a cache directory); default `target/test-venv`.
pub fn python() -> PathBuf {
    let _guard = VENV_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let venv = std::env::var_os("HERD_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-venv"));
    let python = venv.join("bin/python");
    let stamp = venv.join(".herd-packages");
    let wanted = PY_PACKAGES.join("\n");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) && python.exists() {
        return python;
    }
    let status = Command::new("python3").args(["-m", "venv"]).arg(&venv).status().expect("python3 -m venv");
    assert!(status.success(), "creating the virtualenv failed");
    let status = Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
        .args(PY_PACKAGES)
        .status()
        .expect("pip install");
    assert!(status.success(), "pip install {PY_PACKAGES:?} failed");
    std::fs::write(&stamp, wanted).expect("write venv stamp");
    python
}

/// Runs a Python script with the venv's interpreter; returns stdout, panicking with stderr on failure.
pub fn run_python(script: &str, args: &[&str]) -> String {
    let out = Command::new(python()).arg("-c").arg(script).args(args).output().expect("run python");
    assert!(
        out.status.success(),
        "python failed:\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `YYYYMMDDTHH` of now plus `days_from_now` days, UTC.
pub fn export_hour(days_from_now: i64) -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let secs = secs + days_from_now * 86_400;
    let (days, hour) = (secs.div_euclid(86_400), secs.rem_euclid(86_400) / 3600);
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}{m:02}{d:02}T{hour:02}")
}

static NODE_LOCK: Mutex<()> = Mutex::new(());

/// npm packages the tests install (pinned so runs are reproducible).
/// `@segment/analytics-next` is analytics.js 2.0 (its browser builds are served to Chromium as they are), and
/// `playwright-core` drives the system's Chromium (it downloads no browser of its own).
pub const NODE_PACKAGES: &[&str] =
    &["@segment/analytics-node@3.1.0", "@segment/analytics-next@1.84.3", "playwright-core@1.65.1"];

/// Output of `PROGRAM --version`, or a panic that says what to install: tests that need Node.js fail rather
/// than skip when it is missing.
fn tool_version(program: &str) -> String {
    let out = Command::new(program).arg("--version").output().unwrap_or_else(|e| {
        panic!(
            "`{program}` is needed by the npm-based tests (Segment's Node.js and browser libraries) but could not \
             be run ({e}); install Node.js 18 or newer with npm (Debian: apt-get install nodejs npm; .ci/run does \
             this)"
        )
    });
    assert!(out.status.success(), "`{program} --version` failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A directory with [`NODE_PACKAGES`] installed under `node_modules`; installed on first use.
/// `HERD_TEST_NODE_DIR` chooses where (CI keeps it in a cache directory); default `target/test-node`.
pub fn node_dir() -> PathBuf {
    let _guard = NODE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let node = tool_version("node");
    let major: u32 = node.trim_start_matches('v').split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0);
    assert!(major >= 18, "Node.js {node} is too old for @segment/analytics-node; install Node.js 18 or newer");
    let dir = std::env::var_os("HERD_TEST_NODE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-node"));
    let stamp = dir.join(".herd-packages");
    let wanted = NODE_PACKAGES.join("\n");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) && dir.join("node_modules").exists() {
        return dir;
    }
    tool_version("npm");
    std::fs::create_dir_all(&dir).expect("create the node package directory");
    // A package.json of its own, so npm installs here and not into an enclosing project.
    std::fs::write(dir.join("package.json"), "{\"name\": \"herd-test-node\", \"private\": true}\n")
        .expect("write package.json");
    let status = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
        .args(NODE_PACKAGES)
        .current_dir(&dir)
        .status()
        .expect("npm install");
    assert!(status.success(), "npm install {NODE_PACKAGES:?} failed");
    std::fs::write(&stamp, wanted).expect("write node stamp");
    dir
}

/// Runs a Node.js (CommonJS) script in [`node_dir`], so `require` finds [`NODE_PACKAGES`]; `process.argv[2..]`
/// are `args`. Returns stdout, panicking with stderr on failure.
pub fn run_node(script: &str, args: &[&str]) -> String {
    let dir = node_dir();
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!("script-{}-{n}.cjs", std::process::id()));
    std::fs::write(&path, script).expect("write node script");
    let out = Command::new("node").arg(&path).args(args).current_dir(&dir).output().expect("run node");
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "node failed:\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
