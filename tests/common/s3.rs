//! A real S3-compatible server for a test: SeaweedFS from PyPI, started by
//! `scripts/s3-server.sh` on 127.0.0.1 with request signing on.

use std::process::Command;

use viz::object_store::ObjectStore;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A SeaweedFS server for this test, stopped when dropped.
pub struct Server {
    pub dir: String,
    pub endpoint: String,
    pub key: String,
    pub secret: String,
}

impl Server {
    /// Starts one; `None` (the test is skipped, said on stderr) only outside CI
    /// when the repo's venv is missing.
    pub fn start() -> Option<Server> {
        if !std::path::Path::new(&format!("{ROOT}/.venv/bin/python")).exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must run the object-store tests: .venv is missing (scripts/test.sh makes it)"
            );
            eprintln!("SKIPPED: .venv is missing; scripts/test.sh makes it");
            return None;
        }
        let out = Command::new("bash")
            .arg(format!("{ROOT}/scripts/s3-server.sh"))
            .arg("start")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "scripts/s3-server.sh start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = String::from_utf8(out.stdout).unwrap();
        let var = |name: &str| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(&format!("{name}=")))
                .unwrap_or_else(|| panic!("{name} in {line}"))
                .to_owned()
        };
        Some(Server {
            dir: var("VIZ_S3_DIR"),
            endpoint: var("VIZ_S3_ENDPOINT"),
            key: var("AWS_ACCESS_KEY_ID"),
            secret: var("AWS_SECRET_ACCESS_KEY"),
        })
    }

    pub fn open(&self, bucket_and_prefix: &str) -> ObjectStore {
        ObjectStore::open(&format!(
            "s3://{bucket_and_prefix}?endpoint={}",
            self.endpoint
        ))
        .unwrap()
        .with_credentials(&self.key, &self.secret, None)
    }

    pub fn stop(&self) {
        let _ = Command::new("bash")
            .arg(format!("{ROOT}/scripts/s3-server.sh"))
            .args(["stop", &self.dir])
            .status();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}
