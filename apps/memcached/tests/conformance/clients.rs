//! Real client libraries against the server under test: pymemcache (Debian
//! python3-pymemcache, text protocol) and libmemcached's tools (Debian
//! libmemcached-tools: memccapable's protocol checks, memccp/memccat and
//! memcstat over both protocols). Each skips with a reason when the client
//! is not installed.

use std::path::Path;
use std::process::{Command, Output};

use crate::transport::Transport;

fn installed(program: &str) -> bool {
    let found = Path::new("/usr/bin").join(program).exists();
    if !found {
        println!("skipped: /usr/bin/{program} not found");
    }
    found
}

fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

#[track_caller]
fn check(output: &Output, server: &str, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{server}: {what} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    stdout
}

pub fn client_pymemcache(server: &dyn Transport) {
    let ready = Command::new("/usr/bin/python3")
        .args(["-c", "import pymemcache"])
        .output();
    if !ready.is_ok_and(|o| o.status.success()) {
        println!(
            "skipped: /usr/bin/python3 with pymemcache (Debian python3-pymemcache) not available"
        );
        return;
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/conformance/pymemcache_client.py"
    );
    let address = server.address();
    let output = run(server.command("/usr/bin/python3").args([
        script,
        &address.ip().to_string(),
        &address.port().to_string(),
    ]));
    let stdout = check(&output, server.name(), "pymemcache");
    assert_eq!(stdout.trim(), "ok", "{}", server.name());
}

pub fn client_memccapable(server: &dyn Transport) {
    if !installed("memccapable") {
        return;
    }
    let address = server.address();
    let output = run(server.command("/usr/bin/memccapable").args([
        "-h",
        &address.ip().to_string(),
        "-p",
        &address.port().to_string(),
        "-t",
        "5",
    ]));
    let stdout = check(&output, server.name(), "memccapable");
    assert!(
        stdout.contains("All tests passed"),
        "{}:\n{stdout}",
        server.name()
    );
}

pub fn client_libmemcached_tools(server: &dyn Transport) {
    if !installed("memccp") || !installed("memccat") || !installed("memcstat") {
        return;
    }
    let servers = format!("--servers={}", server.address());
    let directory = std::env::temp_dir().join(format!(
        "memcached-clients-{}-{}",
        std::process::id(),
        server.address().port()
    ));
    std::fs::create_dir_all(&directory).expect("temp dir");
    for protocol in [None, Some("--binary")] {
        let name = format!(
            "file-{}",
            protocol.unwrap_or("text").trim_start_matches('-')
        );
        let file = directory.join(&name);
        let content: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&file, &content).expect("write the file to copy");
        check(
            &run(server
                .command("/usr/bin/memccp")
                .arg(&servers)
                .args(protocol)
                .arg(&file)),
            server.name(),
            "memccp",
        );
        let read = run(server
            .command("/usr/bin/memccat")
            .arg(&servers)
            .args(protocol)
            .arg(&name));
        check(&read, server.name(), "memccat");
        // memccat prints the value and a newline.
        let printed = [&content[..], b"\n"].concat();
        assert!(
            read.stdout == printed,
            "{}: memccat {protocol:?} returned {} bytes",
            server.name(),
            read.stdout.len()
        );
        let stats = check(
            &run(server
                .command("/usr/bin/memcstat")
                .arg(&servers)
                .args(protocol)),
            server.name(),
            "memcstat",
        );
        assert!(stats.contains("curr_items"), "{}: {stats}", server.name());
    }
    let _ = std::fs::remove_dir_all(&directory);
}
