//! A throwaway PostgreSQL server for integration tests, from Debian's
//! packages (std only: the server is driven through its command-line tools).
//!
//! Binaries: `$WEBWIRE_PG_BIN` if set, else the highest
//! `/usr/lib/postgresql/*/bin` holding `initdb` (Debian keeps the server
//! tools off `PATH`), else the `PATH` directory holding `initdb`.

use std::fs::{self, File};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A running server, stopped and deleted on drop.
pub struct Postgres {
    /// `postgres://postgres@127.0.0.1:PORT/postgres`: superuser `postgres`,
    /// trust authentication, so no password.
    pub url: String,
    /// The `postgres` process itself (`setpriv` execs, so not a wrapper).
    child: Child,
    /// Holds `data/` (the cluster), the Unix socket and `server.log`.
    dir: PathBuf,
}

impl Postgres {
    /// Starts a throwaway PostgreSQL server from Debian's packages on
    /// 127.0.0.1 at a free port, in a fresh temp dir; None if no initdb is
    /// found (caller decides whether that is a failure: under CI it is).
    ///
    /// Panics, with the server's log, if the server does not start.
    pub fn start() -> Option<Postgres> {
        let bin = find_bin()?;
        let dir = fresh_dir();
        // PostgreSQL refuses to run as root, and CI runs as root: then run it
        // as `nobody`, in a directory `nobody` owns.
        let as_nobody = is_root();
        if as_nobody {
            // `nobody:` is nobody and its login group.
            run(Command::new("chown").arg("nobody:").arg(&dir));
        }
        let data = dir.join("data");
        let mut initdb = command(&bin.join("initdb"), as_nobody);
        initdb.arg("-D").arg(&data);
        // --locale=C: no dependence on which locales the machine generated.
        initdb.args(["-A", "trust", "-U", "postgres", "--no-sync"]);
        initdb.args(["-E", "UTF8", "--locale=C"]);
        run(initdb.current_dir(&dir));

        // A port picked by binding :0 can be taken by someone else before the
        // server binds it: then try another.
        for attempt in 1.. {
            let port = free_port();
            let log_path = dir.join("server.log");
            let log = File::create(&log_path).expect("create server.log");
            let mut postgres = command(&bin.join("postgres"), as_nobody);
            postgres
                .arg("-D")
                .arg(&data)
                .args(["-h", "127.0.0.1", "-p", &port.to_string()]);
            postgres.arg("-k").arg(&dir);
            // fsync stays at its default (on): throughput measured against
            // this server should be honest.
            postgres.args(["-c", "max_connections=100"]);
            postgres
                .current_dir(&dir)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log);
            let mut child = postgres.spawn().expect("spawn postgres");
            let Err(why) = wait_ready(&mut child, port, &data, Duration::from_secs(30)) else {
                let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
                return Some(Postgres { url, child, dir });
            };
            stop(&mut child);
            let log = fs::read_to_string(&log_path).unwrap_or_default();
            if attempt < 3 && log.contains("could not bind") {
                continue; // same cluster, another port
            }
            let _ = fs::remove_dir_all(&dir);
            panic!("PostgreSQL did not start ({why}); its log:\n{log}");
        }
        unreachable!()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        stop(&mut self.child);
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Waits until postmaster.pid says "ready" (PostgreSQL 10+: the TCP port
/// opens before startup ends, and connecting then fails with "the database
/// system is starting up") and a TCP connection succeeds.
fn wait_ready(child: &mut Child, port: u16, data: &Path, limit: Duration) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    loop {
        if let Some(status) = child.try_wait().expect("wait for postgres") {
            return Err(format!("postgres exited: {status}"));
        }
        let pid_file = fs::read_to_string(data.join("postmaster.pid")).unwrap_or_default();
        if pid_file.lines().nth(7).is_some_and(|s| s.trim() == "ready")
            && TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("not ready after {limit:?}"));
        }
        sleep(Duration::from_millis(50));
    }
}

/// Immediate shutdown (SIGQUIT: no checkpoint, the data is thrown away
/// anyway), SIGKILL if it lingers; waits for the process.
fn stop(child: &mut Child) {
    if child.try_wait().ok().flatten().is_some() {
        return;
    }
    let _ = Command::new("kill")
        .args(["-QUIT", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The directory holding `initdb` and `postgres`, or None if there is none.
fn find_bin() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("WEBWIRE_PG_BIN") {
        let dir = PathBuf::from(dir);
        // Set on purpose, so a wrong value is a mistake, not "no PostgreSQL".
        assert!(
            dir.join("initdb").is_file(),
            "no initdb in WEBWIRE_PG_BIN={}",
            dir.display()
        );
        return Some(dir);
    }
    let debian = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten();
    let newest = debian
        .filter_map(|e| {
            Some((
                e.file_name().to_str()?.parse::<f64>().ok()?,
                e.path().join("bin"),
            ))
        })
        .filter(|(_, bin)| bin.join("initdb").is_file())
        .max_by(|a, b| a.0.total_cmp(&b.0)); // numeric: 9.6 < 15
    if let Some((_, bin)) = newest {
        return Some(bin);
    }
    std::env::split_paths(&std::env::var_os("PATH")?).find(|dir| dir.join("initdb").is_file())
}

/// `program`, run as `nobody` if asked. `setpriv` execs the program (unlike
/// `runuser`, which stays as its parent), so the child's pid is postgres's.
fn command(program: &Path, as_nobody: bool) -> Command {
    if !as_nobody {
        return Command::new(program);
    }
    // nobody's group: `nogroup` on Debian, `nobody` elsewhere.
    let gid = Command::new("id").args(["-g", "nobody"]).output();
    let gid = String::from_utf8(gid.expect("run `id -g nobody`").stdout).unwrap();
    let mut c = Command::new("setpriv");
    c.args(["--reuid=nobody", &format!("--regid={}", gid.trim())]);
    c.args(["--clear-groups", "--"]);
    c.arg(program);
    c
}

/// std has no geteuid.
fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("run `id -u`");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// Runs to completion; panics with the output if it fails.
fn run(c: &mut Command) {
    let out = c.output().unwrap_or_else(|e| panic!("run {c:?}: {e}"));
    assert!(
        out.status.success(),
        "{c:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// A new, empty directory under the system temp dir.
fn fresh_dir() -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let name = format!(
        "webwire-pg-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let dir = std::env::temp_dir().join(name);
    fs::create_dir(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}
