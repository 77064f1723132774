//! Running the `renkei` binary itself: the command line, and a server in a process of
//! its own (to read what it prints and logs).

use std::{
    io::{BufRead, BufReader, Read},
    path::Path,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use super::TestDatabase;

const BINARY: &str = env!("CARGO_BIN_EXE_renkei");

pub fn command(database: &TestDatabase, dir: &Path) -> Command {
    let mut command = Command::new(BINARY);
    command
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RENKEI_LOG_FORMAT", "json")
        .env("RUST_LOG", "debug")
        .envs(database.env());
    command
}

pub fn scratch_dir() -> tempdir::Dir {
    tempdir::Dir::new()
}

pub mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new() -> Self {
            let path = std::env::temp_dir().join(format!(
                "renkei-cli-{}",
                renkei::crypto::random::hex(&renkei::crypto::random_bytes::<8>())
            ));
            std::fs::create_dir_all(&path).unwrap();
            Dir(path)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A running `renkei serve` whose stdout lines arrive on a channel.
pub struct Server {
    pub child: Child,
    pub stdout: mpsc::Receiver<String>,
}

impl Server {
    pub fn start(database: &TestDatabase, dir: &Path) -> Self {
        Self::start_with(database, dir, &[])
    }

    /// `start` with more environment variables.
    pub fn start_with(database: &TestDatabase, dir: &Path, env: &[(&str, &str)]) -> Self {
        let mut child = command(database, dir)
            .arg("serve")
            .envs(env.iter().copied())
            .env("RENKEI_LISTEN", "127.0.0.1:0")
            .env("RENKEI_WORKERS", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("renkei starts");
        let (sender, stdout) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = sender.send(line);
            }
        });
        Server { child, stdout }
    }

    /// Stdout lines until one contains `marker` (or the timeout passes).
    pub fn read_until(&self, marker: &str) -> Vec<String> {
        let mut lines = Vec::new();
        while let Ok(line) = self.stdout.recv_timeout(Duration::from_secs(30)) {
            let done = line.contains(marker);
            lines.push(line);
            if done {
                break;
            }
        }
        lines
    }

    /// Stops the server and returns everything it logged.
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let mut log = String::new();
        if let Some(mut stderr) = self.child.stderr.take() {
            let _ = stderr.read_to_string(&mut log);
        }
        let _ = self.child.wait();
        log
    }
}
