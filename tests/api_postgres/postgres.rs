//! A throwaway PostgreSQL for this test process, from the binaries of
//! Debian's `postgresql` package: started on first use in a temporary
//! directory, reachable only through a unix socket there, gone when the
//! process ends. Each test server gets a new empty database of its own
//! (`fresh_database`).
//!
//! Stopping it is the delicate part: statics are never dropped, and a test
//! process may end by `exit`, a panic or SIGKILL. So a small shell, the
//! guard, runs beside the server with a pipe from this process as its
//! stdin, a pipe nothing ever writes to. However the process ends, the
//! kernel then closes the pipe; the guard reads end-of-file, stops the
//! server and removes the directory. The guard has a process group of its
//! own, so a Ctrl-C meant for the tests does not kill it before it has
//! cleaned up.
//!
//! `GIFCHAT_PG_TESTS` says what missing binaries mean, as
//! `GIFCHAT_BROWSER_TESTS` does for the browser tests: unset (or `auto`),
//! one "postgres tests skipped" line and the process ends successfully;
//! `required` (CI), every test fails saying why; `skip`, they are skipped
//! even when PostgreSQL is installed.

use std::{
    fs::OpenOptions,
    io::Write,
    os::unix::{ffi::OsStrExt, process::CommandExt},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        OnceLock,
        atomic::{AtomicU32, Ordering},
    },
};

use crate::requirement::{Mode, mode};

/// The superuser `initdb` creates. Authentication is `trust`: only this
/// machine's processes that may open the socket reach the server.
const USER: &str = "gifchat";

/// The oldest PostgreSQL gifchat supports.
const OLDEST_MAJOR: u32 = 15;

/// Settings appended to the generated `postgresql.conf`. Speed over
/// safety: a crash of this server loses nothing anyone wants.
const SETTINGS: &str = "
listen_addresses = ''
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
# Nothing lives long enough to need it; two cores are better spent on the tests.
autovacuum = off
";

/// The guard (see the module docs): `$1` holds the binaries, `$2` is the
/// directory. An immediate stop skips the shutdown checkpoint: the data is
/// removed next anyway.
const GUARD: &str = r#"
cat >/dev/null
"$1/pg_ctl" stop --silent --mode=immediate --pgdata="$2/data"
rm -rf "$2"
"#;

/// A running server.
pub struct Server {
    /// The directory of its socket (which also holds `data/`, the
    /// cluster, and `postgres.log`), percent-encoded for a URL.
    host: String,
    dir: PathBuf,
    bin: PathBuf,
    user: RunAs,
    /// The guard shell. Never dropped or waited for: its stdin pipe must
    /// stay open exactly as long as this process lives.
    _guard: Child,
}

impl Server {
    /// The URL of database `name`, in tokio-postgres syntax (a `host` that
    /// is a path names the socket's directory).
    pub fn url(&self, name: &str) -> String {
        format!("postgresql:///{name}?user={USER}&host={}", self.host)
    }

    /// A new empty database on it, as a URL. (template0 cannot be
    /// connected to, so no session ever holds it and makes a concurrent
    /// CREATE DATABASE fail. PostgreSQL 15's default strategy, WAL_LOG,
    /// measured no slower than FILE_COPY, which adds two checkpoints.)
    pub async fn database(&self, name: &str) -> String {
        connect(&self.url("postgres"))
            .await
            .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE template0"))
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        self.url(name)
    }

    /// Stops it as an operator's restart does (`--mode=fast`: clients
    /// are disconnected, the shutdown is clean).
    pub fn stop(&self) {
        let data = self.dir.join("data");
        run(self
            .user
            .command(&self.bin.join("pg_ctl"))
            .args(["stop", "--wait", "--silent", "--mode=fast", "--pgdata"])
            .arg(&data))
        .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Starts it (again).
    pub fn start(&self) {
        let (data, log) = (self.dir.join("data"), self.dir.join("postgres.log"));
        run(self
            .user
            .command(&self.bin.join("pg_ctl"))
            .args(["start", "--wait", "--silent", "--pgdata"])
            .arg(&data)
            .arg("--log")
            .arg(&log))
        .unwrap_or_else(|e| {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("PostgreSQL did not start: {e}\n{log}")
        });
    }
}

/// A server of the caller's own, to stop and start at will; gone when the
/// process ends, like the shared one.
pub fn own_server() -> Server {
    start().unwrap_or_else(|e| panic!("{e}"))
}

/// A new, empty database on this process's PostgreSQL, as a URL. The first
/// call starts the server, blocking its thread for a second or two while
/// the other tests wait for it; without PostgreSQL it ends the process (or
/// panics) as `GIFCHAT_PG_TESTS` says.
pub async fn fresh_database() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let server = server();
    let name = format!("t_{}", NEXT.fetch_add(1, Ordering::Relaxed));
    server.database(&name).await
}

/// A superuser's client on this process's PostgreSQL, for what a test does
/// to a database from outside (as an operator would).
pub async fn admin() -> tokio_postgres::Client {
    connect(&server().url("postgres")).await
}

/// A superuser's connection to the database `name`.
pub async fn admin_of(name: &str) -> tokio_postgres::Client {
    connect(&server().url(name)).await
}

/// This process's PostgreSQL, started by the first caller.
fn server() -> &'static Server {
    // A server that could not start fails every test with the reason,
    // rather than being tried again by each.
    static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
    match SERVER.get_or_init(start) {
        Ok(server) => server,
        Err(why) => panic!("{why}"),
    }
}

/// A client on `url`, its connection driven by a task of the calling test's
/// runtime (so it ends with the test).
pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
    tokio::spawn(connection);
    client
}

/// Says that the PostgreSQL tests were skipped and ends the process
/// successfully: the other tests of this binary would only repeat what
/// the SQLite run shows. Called at most once (from `start`, under the
/// `OnceLock`); written to stderr directly because libtest captures
/// `eprintln!` and shows it for failing tests only.
fn skip(why: &str) -> ! {
    let _ = writeln!(std::io::stderr().lock(), "postgres tests skipped: {why}");
    std::process::exit(0)
}

/// Finds the binaries (or skips without them), initialises a cluster and
/// starts it; or says why it could not.
fn start() -> Result<Server, String> {
    let mode = mode("GIFCHAT_PG_TESTS");
    if mode == Mode::Skip {
        skip("GIFCHAT_PG_TESTS=skip");
    }
    let bin = match binaries() {
        Ok(bin) => bin,
        Err(missing) if mode == Mode::Required => {
            return Err(format!(
                "GIFCHAT_PG_TESTS=required, but {missing}: install Debian's `postgresql` \
                 (or set GIFCHAT_PG_BIN to a folder holding initdb, pg_ctl and postgres)"
            ));
        }
        Err(missing) => skip(&format!(
            "{missing}; install Debian's `postgresql` (or set GIFCHAT_PG_BIN) to run them, \
             or set GIFCHAT_PG_TESTS=required to make this a failure"
        )),
    };

    let dir = tempfile::Builder::new()
        .prefix("gifchat-pg-")
        .tempdir()
        .map_err(|e| format!("no temporary directory for PostgreSQL: {e}"))?;
    let user = RunAs::for_postgres()?;
    user.own(dir.path())?;
    let data = dir.path().join("data");
    run(user
        .command(&bin.join("initdb"))
        .arg("--pgdata")
        .arg(&data)
        .args(["--username", USER, "--auth", "trust"])
        // The same text semantics on every machine, whatever its locales.
        .args(["--encoding", "UTF8", "--locale", "C"])
        .args(["--no-sync", "--no-instructions"]))?;
    // Appended by this process to a file the PostgreSQL user owns, which
    // keeps its owner: later settings in the file win.
    OpenOptions::new()
        .append(true)
        .open(data.join("postgresql.conf"))
        .and_then(|mut conf| {
            writeln!(
                conf,
                "{SETTINGS}unix_socket_directories = '{}'",
                dir.path().display()
            )
        })
        .map_err(|e| format!("postgresql.conf: {e}"))?;

    // From here on the guard removes the directory, whatever happens.
    let guard = user
        .command(Path::new("sh"))
        .arg("-c")
        .arg(GUARD)
        .arg("gifchat-pg-guard")
        .arg(&bin)
        .arg(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("sh: {e}"))?;
    let dir = dir.keep();

    let log = dir.join("postgres.log");
    run(user
        .command(&bin.join("pg_ctl"))
        .args(["start", "--wait", "--silent", "--pgdata"])
        .arg(&data)
        .arg("--log")
        .arg(&log))
    .map_err(|e| {
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        format!("PostgreSQL did not start: {e}\n{log}")
    })?;
    Ok(Server {
        host: url_encoded(&dir),
        dir,
        bin,
        user,
        _guard: guard,
    })
}

/// `GIFCHAT_PG_BIN` when set, else Debian's newest
/// `/usr/lib/postgresql/<major>/bin` of a supported major version.
fn binaries() -> Result<PathBuf, String> {
    if let Some(bin) = std::env::var_os("GIFCHAT_PG_BIN").filter(|v| !v.is_empty()) {
        let bin = PathBuf::from(bin);
        if !bin.join("initdb").is_file() {
            return Err(format!("GIFCHAT_PG_BIN={} has no initdb", bin.display()));
        }
        return Ok(bin);
    }
    let root = Path::new("/usr/lib/postgresql");
    std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|major| *major >= OLDEST_MAJOR)
        .map(|major| (major, root.join(major.to_string()).join("bin")))
        .filter(|(_, bin)| bin.join("initdb").is_file())
        .max_by_key(|(major, _)| *major)
        .map(|(_, bin)| bin)
        .ok_or_else(|| {
            format!("no PostgreSQL {OLDEST_MAJOR} or newer in /usr/lib/postgresql/<major>/bin")
        })
}

/// Who runs PostgreSQL's programs. They refuse to run as root, which CI
/// is: then they run as the `postgres` user Debian's package creates.
struct RunAs(Option<(u32, u32)>);

impl RunAs {
    fn for_postgres() -> Result<RunAs, String> {
        if id(&["-u"])? != 0 {
            return Ok(RunAs(None));
        }
        Ok(RunAs(Some((
            id(&["-u", "postgres"])?,
            id(&["-g", "postgres"])?,
        ))))
    }

    /// Gives `dir` to that user (nothing to do when it is this process's).
    fn own(&self, dir: &Path) -> Result<(), String> {
        let Some((uid, gid)) = self.0 else {
            return Ok(());
        };
        std::os::unix::fs::chown(dir, Some(uid), Some(gid))
            .map_err(|e| format!("chown {}: {e}", dir.display()))
    }

    /// `program` as that user, in `/` (a working directory it may not
    /// read, like root's home, makes PostgreSQL's programs complain).
    fn command(&self, program: &Path) -> Command {
        let mut command = Command::new(program);
        command.current_dir("/");
        if let Some((uid, gid)) = self.0 {
            command.uid(uid).gid(gid);
        }
        command
    }
}

/// The number `id` prints, e.g. `id -u postgres`.
fn id(args: &[&str]) -> Result<u32, String> {
    let output = Command::new("id")
        .args(args)
        .output()
        .map_err(|e| format!("id: {e}"))?;
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .map_err(|_| {
            format!(
                "`id {}` printed no number: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            )
        })
}

/// Runs `command` to its end; what it said when it fails.
fn run(command: &mut Command) -> Result<(), String> {
    let output = command.output().map_err(|e| format!("{command:?}: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "{command:?} failed ({}): {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

/// `path` as a URL's query value: bytes other than letters, digits and
/// `/._-` percent-encoded.
fn url_encoded(path: &Path) -> String {
    path.as_os_str()
        .as_bytes()
        .iter()
        .map(|&byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'.' | b'_' | b'-' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn each_fresh_database_is_a_new_empty_one_that_answers() {
    let first = fresh_database().await;
    let second = fresh_database().await;
    assert_ne!(first, second);
    let (first, second) = (connect(&first).await, connect(&second).await);
    for client in [&first, &second] {
        let one: i32 = client.query_one("SELECT 1", &[]).await.unwrap().get(0);
        assert_eq!(one, 1);
    }
    first
        .batch_execute("CREATE TABLE mine (x int)")
        .await
        .unwrap();
    let tables = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'";
    let first_has: i64 = first.query_one(tables, &[]).await.unwrap().get(0);
    let second_has: i64 = second.query_one(tables, &[]).await.unwrap().get(0);
    assert_eq!((first_has, second_has), (1, 0), "a table in one only");
}
