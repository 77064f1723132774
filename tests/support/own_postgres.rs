//! A PostgreSQL server of a test's own, for tests that stop the database: the installed
//! server's `initdb` and `pg_ctl`, run as the `postgres` user, in a temporary directory,
//! on a free loopback port. The shared server is never touched.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

pub struct OwnPostgres {
    bin: PathBuf,
    dir: PathBuf,
    pub port: u16,
}

/// The directory of the installed server's programs (`/usr/lib/postgresql/<v>/bin`).
fn server_bin() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| Some(entry.ok()?.path().join("bin")))
        .filter(|bin| bin.join("initdb").is_file() && bin.join("pg_ctl").is_file())
        .collect();
    found.sort();
    found.pop()
}

/// Runs a server program as the `postgres` user (the server refuses to run as root).
fn as_postgres(program: &Path, args: &[&str]) -> std::io::Result<std::process::Output> {
    let program = program.to_string_lossy().into_owned();
    let is_root = Command::new("id").arg("-u").output()?.stdout.starts_with(b"0");
    if is_root {
        Command::new("runuser")
            .args(["-u", "postgres", "--", &program])
            .args(args)
            .output()
    } else {
        Command::new(&program).args(args).output()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

impl OwnPostgres {
    /// A new server, started; `None` (with a line saying why) when this machine has no
    /// PostgreSQL server programs to run one.
    pub fn start() -> Option<Self> {
        let Some(bin) = server_bin() else {
            eprintln!("note: no PostgreSQL server programs under /usr/lib/postgresql; the test is skipped");
            return None;
        };
        let dir = std::env::temp_dir().join(format!(
            "renkei-own-pg-{}",
            renkei::crypto::random::hex(&renkei::crypto::random_bytes::<6>())
        ));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let chown = Command::new("chown").args(["postgres:postgres"]).arg(&dir).status();
        assert!(chown.is_ok_and(|s| s.success()), "chown of {dir:?} to postgres");
        let data = dir.join("data");
        let out = as_postgres(
            &bin.join("initdb"),
            &[
                "-D",
                &data.to_string_lossy(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        )
        .expect("initdb runs");
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        let server = Self {
            bin,
            dir,
            port: free_port(),
        };
        server.up();
        Some(server)
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the server and waits until it accepts connections.
    pub fn up(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=100",
            self.port,
            self.dir.display()
        );
        let out = as_postgres(
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                &self.dir.join("data").to_string_lossy(),
                "-o",
                &options,
                "-l",
                &self.dir.join("server.log").to_string_lossy(),
                "-w",
                "start",
            ],
        )
        .expect("pg_ctl runs");
        assert!(
            out.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Stops the server at once (open connections are cut, as in a crash or fail-over).
    pub fn down(&self) {
        let out = self.stop().expect("pg_ctl runs");
        assert!(
            out.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn stop(&self) -> std::io::Result<std::process::Output> {
        as_postgres(
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                &self.dir.join("data").to_string_lossy(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        )
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
