//! The real `insights-connector` binary as a child process: started on port 0 with a data dir,
//! its stderr collected, stopped by a signal, and killed when dropped so that a failing test
//! leaves nothing running.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::helpers::SECRET;

/// `insights-connector serve` on 127.0.0.1:0 with `data_dir`, the tests' HS256 secret, private
/// callbacks allowed and plain-text logs; callers add or override variables.
pub fn serve_command(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_insights-connector"));
    command
        .arg("serve")
        .env("INSIGHTS_BIND", "127.0.0.1:0")
        .env("INSIGHTS_DATA_DIR", data_dir)
        .env("INSIGHTS_JWT_HS256_SECRET", SECRET)
        .env("INSIGHTS_CALLBACK_ALLOW_PRIVATE", "true")
        .env("INSIGHTS_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

pub struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:<port>`
    pub address: String,
    logs: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
}

impl ServerProcess {
    /// Starts `command` and waits until it logs the address it listens on (20 s at most).
    pub fn start(mut command: Command) -> Self {
        let mut child = command.spawn().expect("the binary starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let logs = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&logs);
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("listening")
                    && let Some((_, address)) = line.split_once("address=")
                {
                    let _ = tx.send(address.trim().to_owned());
                }
                let mut logs = sink.lock().unwrap();
                logs.push_str(&line);
                logs.push('\n');
            }
        });
        let address = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the server never listened");
        Self {
            child,
            address: format!("http://{address}"),
            logs,
            reader: Some(reader),
        }
    }

    /// The process id, to change its limits.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal (`"TERM"`, `"KILL"`) to the process.
    pub fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{name} failed");
    }

    /// Waits for the process to exit (20 s at most, then it is killed and the test fails) and
    /// for its stderr to be read to the end.
    pub fn wait(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let (exited, watch) = mpsc::channel::<()>();
        let watchdog = std::thread::spawn(move || {
            let timed_out = watch.recv_timeout(Duration::from_secs(20)).is_err();
            if timed_out {
                let _ = Command::new("kill").args(["-KILL", &pid]).status();
            }
            timed_out
        });
        let status = self.child.wait().expect("the child can be waited for");
        let _ = exited.send(());
        assert!(
            !watchdog.join().unwrap(),
            "the process did not exit within 20 s"
        );
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        status
    }

    /// Everything it wrote to stderr so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
