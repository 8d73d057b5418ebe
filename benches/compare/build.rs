//! Records the compiler version and the webwire source state for the report.
use std::process::Command;

fn run(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = run(&rustc, &["-V"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=COMPARE_RUSTC_VERSION={version}");

    // webwire is benchmarked from the working tree: say which commit, and
    // whether its sources had uncommitted changes.
    let rev = run("git", &["-C", "../..", "rev-parse", "--short", "HEAD"]);
    let dirty = run(
        "git",
        &[
            "-C",
            "../..",
            "status",
            "--porcelain",
            "--",
            "src",
            "Cargo.toml",
            "examples/common/tokio_drive.rs",
            "examples/common/stream.rs",
        ],
    )
    .is_some_and(|s| !s.is_empty());
    let rev = match rev {
        Some(r) if dirty => format!("{r} + uncommitted changes"),
        Some(r) => r,
        None => "unknown".into(),
    };
    println!("cargo:rustc-env=COMPARE_WEBWIRE_REV={rev}");

    println!("cargo:rerun-if-env-changed=RUSTC");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../../src");
    println!("cargo:rerun-if-changed=../../Cargo.toml");
    // A commit changes no source file: watch the checkout too, so the label
    // never goes stale.
    println!("cargo:rerun-if-changed=../../.git/logs/HEAD");
    println!("cargo:rerun-if-changed=../../.git/index");
    // The examples' tokio adapter is compiled into the echo server.
    println!("cargo:rerun-if-changed=../../examples/common/tokio_drive.rs");
    println!("cargo:rerun-if-changed=../../examples/common/stream.rs");
}
